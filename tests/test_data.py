import re
import subprocess
import sys

import numpy as np
import pytest

from musictui.data import Vocabulary, default_corpus_path, get_batch, held_out_split, load_corpus, read_abc_text, split_tunes
from musictui.errors import UserError

TUNE_A = "X:1\nT:A\nM:4/4\nL:1/8\nK:D\nABcd efga|"
TUNE_B = "X:2\nT:B\nM:6/8\nK:G\nGAB cde|"


def test_real_corpus_has_every_x_header_as_a_tune(corpus):
    text = read_abc_text(default_corpus_path())
    assert len(re.findall(r"^X:", text, flags=re.M)) == 804
    assert len(corpus.tunes) == 804  # the lab's regular expression says 817: fragments, and no last tune
    assert all(t.startswith("X:") and "\n\n" not in t for t in corpus.tunes)
    assert corpus.tunes[-1].endswith("e2 d2:|!")  # the last tune is kept, whole


def test_split_handles_crlf_bom_blank_runs_comments_and_preamble():
    text = ("\ufeffsome notes about this file\r\n\r\n" + TUNE_A.replace("\n", "\r\n")
            + "\r\n\r\n\r\n\r\n% a comment between tunes\n" + TUNE_B.replace("K:G", "% comment\nK:G\n%%MIDI program 1"))
    assert split_tunes(text) == [TUNE_A, TUNE_B.replace("K:G", "K:G\n%%MIDI program 1")]


def test_split_last_tune_without_trailing_blank_line_and_old_mac_line_ends():
    assert split_tunes(TUNE_A + "\n\n" + TUNE_B) == [TUNE_A, TUNE_B]
    assert split_tunes((TUNE_A + "\n\n" + TUNE_B).replace("\n", "\r")) == [TUNE_A, TUNE_B]
    assert split_tunes("no tunes here\n\n") == []


def test_split_tune_directly_followed_by_next_x_line():
    assert split_tunes(TUNE_A + "\n" + TUNE_B) == [TUNE_A, TUNE_B]


def test_vocabulary_round_trip_and_unknown_characters(corpus):
    vocab = corpus.vocab
    assert len(vocab) == 83 and vocab.chars == sorted(vocab.chars)
    ids = vocab.encode(corpus.tunes[0])
    assert ids.dtype == np.int64 and vocab.decode(ids) == corpus.tunes[0]
    assert vocab.idx2char[vocab.char2idx["A"]] == "A"
    with pytest.raises(UserError, match=r"not in the model's vocabulary: '€'"):
        vocab.encode("AB€")


def test_held_out_split_is_deterministic_and_disjoint(corpus):
    assert len(corpus.val_tunes) == 81 and len(corpus.train_tunes) == 723
    train2, val2 = held_out_split(corpus.tunes, 0.1, seed=0)
    assert val2 == corpus.val_tunes
    assert held_out_split(corpus.tunes, 0.1, seed=1)[1] != corpus.val_tunes
    # No validation tune is inside the training text.
    assert not any(t in corpus.train_text for t in corpus.val_tunes if corpus.tunes.count(t) == 1)


def test_get_batch_keeps_the_labs_contract(corpus):
    ids = corpus.train_ids()
    for rng in (None, np.random.default_rng(3)):
        x, y = get_batch(ids, 100, 32, rng)
        assert x.shape == y.shape == (32, 100)
        assert np.issubdtype(x.dtype, np.integer)
        assert (x[:, 1:] == y[:, :-1]).all()
        # each row is a real window of the corpus
        start = np.flatnonzero(np.lib.stride_tricks.sliding_window_view(ids, 100).__eq__(x[0]).all(axis=1))
        assert len(start) >= 1 and ids[start[0] + 100] == y[0, -1]


def test_get_batch_importable_as_in_the_lab():
    out = subprocess.run([sys.executable, "-c", "from musictui.data import get_batch; print(get_batch)"],
                         capture_output=True, text=True)
    assert out.returncode == 0


def test_corpus_folder_is_read_recursively(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.abc").write_text(TUNE_A)
    (tmp_path / "two.abc").write_text(TUNE_B)
    (tmp_path / "notes.txt").write_text("X:99\nnot abc")
    assert sorted(load_corpus(tmp_path).tunes) == sorted([TUNE_A, TUNE_B])


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.abc", "corpus not found"),
    (lambda p: (p / "latin1.abc").write_bytes(b"X:1\nT:Caf\xe9\n") and p / "latin1.abc", r"not UTF-8 text \(byte 9, line 2\)"),
    (lambda p: (p / "empty.abc").write_text("just words\n") and p / "empty.abc", "no tunes found"),
    (lambda p: (p / "d").mkdir() or p / "d", "no .abc files"),
])
def test_bad_corpus_input_is_one_clear_error(tmp_path, make, message):
    with pytest.raises(UserError, match=message):
        load_corpus(make(tmp_path))
