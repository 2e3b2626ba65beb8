"""Hostile input, part 1: options and paths refused before any work (issue 12).

Each case is a real `musictui` process; see tests/hostile.py for what "refused" checks.
"""
from __future__ import annotations

import os

import pytest

from hostile import files, musictui, refused

# (arguments, words the one line must hold). All are parse-time: status 2, nothing written.
OPTION_CASES = [
    (["generate", "--temperature", "inf"], ["--temperature", "between 0.01 and 10"]),
    (["generate", "--temperature", "1e400"], ["--temperature", "between 0.01 and 10"]),
    (["generate", "--temperature", "1e-300"], ["--temperature", "between 0.01 and 10"]),
    (["generate", "--temperature", "nan"], ["--temperature", "between 0.01 and 10"]),
    (["generate", "--temperature", "-1"], ["--temperature"]),
    (["generate", "--top-k", "0"], ["--top-k", "at least 1"]),
    (["generate", "--top-k", "1.5"], ["--top-k", "whole number"]),
    (["generate", "--top-p", "0"], ["--top-p", "above 0"]),
    (["generate", "--top-p", "1.5"], ["--top-p", "at most 1"]),
    (["generate", "--top-p", "nan"], ["--top-p"]),
    (["generate", "--seed", "-1"], ["--seed", "2**63-1"]),
    (["generate", "--seed", "1e26"], ["--seed", "whole number"]),
    (["generate", "--seed", str(2**64)], ["--seed", "2**63-1"]),
    (["evaluate", "--temperature", "inf"], ["--temperature"]),
    (["evaluate", "--seed", "-1"], ["--seed"]),
    (["train", "--seed", "-1"], ["--seed", "2**63-1"]),
    (["train", "--seed", "1e26"], ["--seed"]),
    (["train", "--learning-rate", "inf"], ["--learning-rate", "finite"]),
    (["train", "--learning-rate", "nan"], ["--learning-rate", "finite"]),
    (["train", "--dropout", "nan"], ["--dropout"]),
    (["train", "--grad-clip", "-1"], ["--grad-clip"]),
    (["train", "--grad-clip", "inf"], ["--grad-clip"]),
    (["train", "--steps", "0"], ["--steps", "positive"]),
    (["bench", "--rounds", "0"], ["--rounds", "positive"]),
    (["render", "x.abc", "--tune", "0"], ["--tune", "positive"]),
    (["play", "x.abc", "--tune", "-2"], ["--tune", "positive"]),
    # No prefixes: --checkpoint was taken for the app's --checkpoint-dir, --check for train's.
    (["app", "--checkpoint", "x"], ["unrecognized arguments: --checkpoint"]),
    (["train", "--check", "x"], ["unrecognized arguments: --check"]),
    (["train", "--learn", "1"], ["unrecognized arguments: --learn"]),
]


@pytest.mark.parametrize("args,words", OPTION_CASES, ids=[" ".join(a) for a, _ in OPTION_CASES])
def test_bad_options_are_one_line_before_any_work(tmp_path, args, words):
    (tmp_path / "keep.txt").write_text("mine")
    before = files(tmp_path)
    refused(musictui(*args, cwd=tmp_path), *words, status=2)
    assert files(tmp_path) == before  # nothing written, nothing lost


def test_endless_or_huge_corpus_is_refused_unread(tmp_path):
    fifo = tmp_path / "pipe.abc"
    os.mkfifo(fifo)  # opening it to read would block forever: it must never be opened
    huge = tmp_path / "huge.abc"
    with open(huge, "wb") as f:
        f.truncate(65 * 2**20)  # sparse: 65 MB on paper, nothing on disk
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(3):
        with open(folder / f"{i}.abc", "wb") as f:
            f.truncate(22 * 2**20)
    for corpus, words in ((("/dev/zero"), ["/dev/zero", "not a regular file"]),
                          (fifo, ["pipe.abc", "not a regular file"]),
                          (huge, ["65 MB", "at most 64 MB"]),
                          (folder, ["66 MB", "at most 64 MB"])):
        for command in ("train", "evaluate"):
            args = [command, "--corpus", corpus] + (["--checkpoint-dir", tmp_path / "run"] if command == "train" else [])
            refused(musictui(*args, cwd=tmp_path, timeout=60), *words, status=1)
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").glob("*.safetensors"))


def test_paths_with_markup_are_printed_as_names(tmp_path):
    """A folder called `[red]` or `[/oops]` used to be a rich MarkupError (a traceback)."""
    corpus = tmp_path / "[" / "oops]"  # prints as .../[/oops]: a closing tag to rich
    corpus.mkdir(parents=True)
    (corpus / "tunes.abc").write_text(_tunes(40))
    run = tmp_path / "[red]run"
    done = musictui("train", "--preset", "tiny", "--steps", "3", "--checkpoint-every", "3",
                    "--corpus", corpus, "--checkpoint-dir", run, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "[/oops]" in done.stdout and "[red]run" in done.stdout.replace("\n", "")
    assert (run / "step-0000003.safetensors").exists()


def _tunes(n: int) -> str:
    body = "|:DEF GAB|cBA GFE|DEF GAB|AFD D3:|\n"
    return "\n".join(f"X:{i}\nT:T{i}\nM:6/8\nL:1/8\nK:D\n{body}" for i in range(1, n + 1))


def test_a_corpus_path_is_a_path_even_where_it_spells_a_corpus_name(tmp_path):
    """`--corpus ./irish` is the folder ./irish (Path() made it "irish", the named corpus, and
    trained on that); `--corpus ""` is a mistake, not the current folder."""
    (tmp_path / "irish").mkdir()
    refused(musictui("train", "--corpus", "./irish", "--checkpoint-dir", "run", cwd=tmp_path),
            str(tmp_path / "irish"), "no .abc files", status=1)
    refused(musictui("train", "--corpus", "", cwd=tmp_path), "--corpus", "is empty", status=2)


def test_a_folder_named_like_an_abc_file_inside_a_corpus_is_read_into(tmp_path):
    from musictui.data import read_abc_text

    inner = tmp_path / "corpus" / "reels.abc"
    inner.mkdir(parents=True)
    (inner / "one.abc").write_text("X:1\nK:C\nCDEF|\n")
    assert read_abc_text(tmp_path / "corpus") == "X:1\nK:C\nCDEF|\n"


def test_a_run_that_never_starts_leaves_no_folder_behind(tmp_path):
    """A refused `train` used to leave its new --checkpoint-dir holding only the lock file; a folder
    that was there before, and anything in it, stays."""
    (tmp_path / "no-tunes").mkdir()
    refused(musictui("train", "--corpus", "no-tunes", "--checkpoint-dir", "new", cwd=tmp_path), "no .abc files", status=1)
    refused(musictui("train", "--resume", "--checkpoint-dir", "also-new", cwd=tmp_path), "no checkpoint in", status=1)
    assert not (tmp_path / "new").exists() and not (tmp_path / "also-new").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    refused(musictui("train", "--corpus", "no-tunes", "--checkpoint-dir", "mine", cwd=tmp_path), "no .abc files", status=1)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
