"""Named corpora: irish.abc as it is, and folk (irish.abc + three music21 collections), built from
small slices of the real collections with real abc2midi."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from musictui import corpora
from musictui.cli import main
from musictui.corpora import COLLECTIONS, HeldOutGuard, collection_files, load_named, music_of
from musictui.data import load_corpus
from musictui.errors import UserError

SLICE = 12  # tunes of each collection: enough to meet every kind of tune, fast on 2 cores


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache for the module: the slice is built once (its held-out guard runs abc2abc some
    900 times), then read, as a user's second run reads it."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        yield folder / "musictui" / "corpora"


@pytest.fixture(scope="module")
def folk(cache):
    return load_named("folk", limit=SLICE)


def test_collections_are_found_through_metadata_without_importing_music21():
    code = ("import sys; from musictui.corpora import collection_files, COLLECTIONS; "
            "print([len(collection_files(c)) for c in COLLECTIONS]); print('music21' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    counts = json.loads(out[0])
    assert counts[0] >= 30 and counts[1] >= 1000 and counts[2] == 6  # O'Neill's files, Ryan's one a tune, Aird's 6 books
    assert out[1] == "False"


def test_irish_is_irish_abc_as_it_is(corpus):
    irish = load_named("irish")
    assert irish.tunes == corpus.tunes and irish.val_tunes == corpus.val_tunes
    assert load_corpus("irish").train_tunes == corpus.train_tunes  # the name works wherever a path does


def test_folk_keeps_irish_abcs_held_out_tunes_as_the_yardstick(folk, corpus):
    assert folk.val_tunes == corpus.val_tunes and len(folk.val_tunes) == 81
    assert folk.train_tunes[: len(corpus.train_tunes)] == corpus.train_tunes
    extra = folk.train_tunes[len(corpus.train_tunes):]
    assert SLICE <= len(extra) < 3 * SLICE  # most of each collection's slice survives, not all
    assert folk.source == Path("folk")
    for tune in extra:
        head = [line[:2] for line in tune.split("\n")[:5]]
        assert head == ["X:", "T:", "M:", "L:", "K:"]
    assert set(folk.vocab.chars) == set(corpus.vocab.chars)  # the dialect needs no new character


def test_folk_is_cached_and_the_cache_is_used(folk, cache, monkeypatch):
    files = {p.name.split("-")[0] for p in cache.glob("*.json")}
    assert set(COLLECTIONS) <= files

    def no_abc2midi(tune):
        raise AssertionError("abc2midi ran although the cache holds the result")
    monkeypatch.setattr(corpora, "abc2midi_verdict", no_abc2midi)
    assert load_named("folk", limit=SLICE).train_tunes == folk.train_tunes


def test_dropped_tunes_are_counted_with_their_reasons(cache, corpus):
    built = corpora.build_collections(corpus.val_tunes, limit=SLICE)
    for c in built:
        assert c.read == SLICE and len(c.tunes) + sum(c.dropped.values()) == c.read
    assert any("wrong length" in reason for c in built for reason in c.dropped)


def test_held_out_tunes_never_reach_training(corpus):
    guard = HeldOutGuard(corpus.val_tunes)
    held = corpus.val_tunes[3]
    renamed = held.replace(held.split("\n")[1], "T:A New Name")
    assert guard.reason(held) == "a held-out tune's title"
    assert guard.reason(renamed) == "60 characters of a held-out tune's music"
    assert guard.reason(corpus.train_tunes[0]) is None  # a training tune is no near-copy


def test_corpus_command_lists_both_with_counts(cache, capsys):
    assert main(["corpus", "--limit", "5", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["irish"]["tunes"] == 804 and figures["irish"]["train_characters"] == 176_805
    assert figures["folk"]["held_out_tunes"] == 81
    assert figures["folk"]["train_tunes"] > 723 and figures["folk"]["train_characters"] > 176_805
    assert {c["read"] for c in figures["folk"]["collections"].values()} == {5}
    keys = figures["folk-keys"]
    assert keys["train_tunes"] == figures["folk"]["train_tunes"] + keys["transposed"]["kept"]
    assert keys["transposed"]["made"] >= figures["folk"]["train_tunes"]  # most tunes in two more keys


def test_the_names_data_py_knows_are_the_corpora():
    from musictui.data import NAMED_CORPORA

    assert tuple(corpora.NAMES) == NAMED_CORPORA


def test_unknown_name_and_missing_music21_are_one_clear_line(monkeypatch):
    with pytest.raises(UserError, match="no corpus called 'rock'"):
        load_named("rock")
    monkeypatch.setattr(corpora, "COLLECTIONS_PACKAGE", "no-such-package-music21")
    with pytest.raises(UserError, match="music21"):
        collection_files("oneills1850")


# -- warm start: a new run from another run's weights ------------------------------------------

def test_warm_start_keeps_every_known_characters_rows_and_grows_the_vocabulary(tiny_checkpoint):
    import torch

    from musictui.checkpoint import load_checkpoint
    from musictui.data import Vocabulary
    from musictui.model import CharLSTM
    from musictui.warm_start import warm_start

    old = load_checkpoint(tiny_checkpoint)
    vocab = Vocabulary(old.vocab.chars + ["&", "~"])
    model = CharLSTM.from_config(len(vocab), old.config)
    fresh_amp = model.embedding.weight[vocab.char2idx["&"]].clone()
    assert warm_start(model, old, vocab) == len(old.vocab)
    for c in ("A", "|", "\n"):
        assert torch.equal(model.embedding.weight[vocab.char2idx[c]], old.model_state["embedding.weight"][old.vocab.char2idx[c]])
        assert torch.equal(model.fc.bias[vocab.char2idx[c]], old.model_state["fc.bias"][old.vocab.char2idx[c]])
    assert torch.equal(model.lstm.weight_hh_l0, old.model_state["lstm.weight_hh_l0"])
    assert torch.equal(model.embedding.weight[vocab.char2idx["&"]], fresh_amp)  # a new character starts fresh


def test_train_init_from_starts_where_the_checkpoint_left_off(tiny_checkpoint, corpus, tmp_path, capsys):
    grown = tmp_path / "grown.abc"  # irish.abc's tunes and one with a character it lacks
    grown.write_text("\n\n".join(corpus.tunes + ["X:1\nT:Rock & Roll\nM:C\nL:1/8\nK:D Major\nABcd efga|"]), encoding="utf-8")
    first_loss = {}
    for name, extra in (("fresh", []), ("warm", ["--init-from", str(tiny_checkpoint)])):
        folder = tmp_path / name
        assert main(["train", "--preset", "tiny", "--steps", "2", "--corpus", str(grown),
                     "--checkpoint-dir", str(folder), *extra]) == 0
        first_loss[name] = json.loads((folder / "metrics.jsonl").read_text().split("\n")[0])["loss"]
    assert first_loss["warm"] < first_loss["fresh"] - 1.0  # ln(84) = 4.4 from random weights
    assert main(["train", "--preset", "small", "--steps", "1", "--init-from", str(tiny_checkpoint),
                 "--checkpoint-dir", str(tmp_path / "wrong-size")]) == 1
    assert "--embedding-dim 16 --hidden-size 48" in capsys.readouterr().err
