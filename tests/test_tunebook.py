"""The tune book: real SQLite files, real processes writing at once, real abc2midi for exports."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from musictui.errors import UserError
from musictui.tunebook import TuneBook, default_path

TUNE = "X:1\nT:The Kept Reel\nM:4/4\nL:1/8\nK:D\nABcd efga|gfed cBAG|ABcd efga|gfed d4|\n"


def test_the_default_place_follows_xdg_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / "musictui" / "tunes.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / ".local" / "share" / "musictui" / "tunes.db"
    # The spec: a relative value is invalid and ignored (it would follow the current folder).
    monkeypatch.setenv("XDG_DATA_HOME", "relative/data")
    assert default_path() == tmp_path / "home" / ".local" / "share" / "musictui" / "tunes.db"


def test_the_corpus_cache_ignores_a_relative_xdg_cache_home(monkeypatch, tmp_path):
    from musictui.corpora import cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert cache_dir() == tmp_path / "home" / ".cache" / "musictui" / "corpora"


def test_a_tune_keeps_its_abc_checkpoint_settings_seed_date_and_star(tmp_path):
    book = TuneBook(tmp_path / "tunes.db")
    first = book.add(TUNE, "ckpt/step-0000300.safetensors", {"temperature": 0.8, "top_k": None}, seed=7)
    second = book.add(TUNE.replace("Kept Reel", "Other Jig"), "the shipped model")
    tune = book.get(first)
    assert (tune.title, tune.abc, tune.checkpoint, tune.seed, tune.star) == (
        "The Kept Reel", TUNE, "ckpt/step-0000300.safetensors", 7, False)
    assert tune.settings == {"temperature": 0.8, "top_k": None} and tune.created[:2] == "20"
    assert [t.id for t in book.list()] == [second, first]  # newest first
    book.set_star(first, True)
    assert [t.id for t in book.list(starred=True)] == [first]
    assert [t.id for t in book.list(search="jig")] == [second]
    assert book.list(search="%") == []  # a LIKE wildcard is searched for as itself
    with pytest.raises(UserError, match="no tune 99"):
        book.get(99)
    with sqlite_connection(tmp_path / "tunes.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def sqlite_connection(path: Path):
    import sqlite3
    from contextlib import closing

    return closing(sqlite3.connect(path))


WRITER = """
import sys
from musictui.tunebook import TuneBook
book = TuneBook(sys.argv[1])
for i in range(int(sys.argv[3])):
    book.add(f"X:{i}\\nT:{sys.argv[2]} {i}\\nK:C\\nCDEF|\\n", sys.argv[2], {"i": i}, seed=i)
"""


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    db = tmp_path / "tunes.db"
    TuneBook(db)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), name, "150"]) for name in ("first", "second")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    tunes = TuneBook(db).list()
    assert len(tunes) == 300
    for name in ("first", "second"):
        assert sorted(t.seed for t in tunes if t.checkpoint == name) == list(range(150))


def test_export_writes_abc_midi_and_wav_and_never_overwrites_unasked(tmp_path):
    book = TuneBook(tmp_path / "tunes.db")
    tune = book.get(book.add(TUNE, "test"))
    from musictui.tunebook import export

    abc = export(tune, tmp_path / "out" / "kept.abc")
    assert abc.read_text() == TUNE
    mid = export(tune, tmp_path / "out" / "kept.mid")
    assert mid.read_bytes()[:4] == b"MThd"
    wav = export(tune, tmp_path / "out" / "kept.wav")
    assert wav.read_bytes()[:4] == b"RIFF"
    with pytest.raises(UserError, match="exists"):
        export(tune, abc)
    with pytest.raises(UserError, match=r"\.abc, \.mid or \.wav"):
        export(tune, tmp_path / "kept.mp3")
    assert export(tune, abc, force=True) == abc


def test_a_file_that_is_not_a_database_is_one_clear_error(tmp_path):
    bad = tmp_path / "tunes.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UserError, match="cannot be opened"):
        TuneBook(bad)


def musictui(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "musictui", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_generate_keep_then_tunes_list_show_export_star_headless(tmp_path, tiny_checkpoint):
    import os

    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    made = musictui("generate", "--checkpoint", str(tiny_checkpoint), "--seed", "5", "--tunes", "2",
                    "--length", "3000", "--keep", env=env)
    assert made.returncode == 0, made.stderr
    assert "kept as tune(s) 1, 2 in" in made.stderr
    book = TuneBook(tmp_path / "data" / "musictui" / "tunes.db")
    assert book.count() == 2 and book.get(1).seed == 5 and book.get(1).checkpoint == str(tiny_checkpoint)
    assert book.get(1).abc in made.stdout

    listed = musictui("tunes", "list", env=env)
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 2
    shown = musictui("tunes", "show", "2", env=env)
    assert shown.returncode == 0 and book.get(2).abc.rstrip() in shown.stdout
    assert musictui("tunes", "star", "2", env=env).returncode == 0
    assert musictui("tunes", "list", "--starred", env=env).stdout.split()[:2] == ["2", "★"]
    out = tmp_path / "two.abc"
    assert musictui("tunes", "export", "2", str(out), env=env).returncode == 0
    assert out.read_text().rstrip() == book.get(2).abc.rstrip()
    again = musictui("tunes", "export", "2", str(out), env=env)
    assert again.returncode == 1 and again.stderr.count("\n") == 1 and "--force" in again.stderr
    missing = musictui("tunes", "show", "40", env=env)
    assert missing.returncode == 1 and "no tune 40" in missing.stderr and "Traceback" not in missing.stderr


def test_a_data_folder_that_cannot_be_made_is_one_clear_error(tmp_path):
    (tmp_path / "data").write_text("a file where the folder should be")
    with pytest.raises(UserError, match="XDG_DATA_HOME"):
        TuneBook(tmp_path / "data" / "musictui" / "tunes.db")


def test_keep_into_a_book_another_program_holds_locked_is_a_user_error(tmp_path, monkeypatch):
    import musictui.tunebook as tunebook
    from musictui.sample_settings import SampleSettings

    db = tmp_path / "tunes.db"
    TuneBook(db).add(TUNE, "test")
    monkeypatch.setattr(tunebook, "BUSY_TIMEOUT_S", 0.2)  # the refusal, not the wait, is under test
    with sqlite_connection(db) as other:
        other.isolation_level = None
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(UserError, match=f"{db} is in use by another program"):
            tunebook.keep([TUNE], "test", SampleSettings(seed=1), db)  # as generate --keep calls it
        other.execute("ROLLBACK")
    assert TuneBook(db).count() == 1


def test_a_damaged_row_is_left_out_of_the_list_and_named_by_scan_and_get(tmp_path):
    from musictui.tunebook import DamagedTune

    book = TuneBook(tmp_path / "tunes.db")
    ids = [book.add(TUNE, "test", {"n": n}) for n in range(3)]
    with sqlite_connection(book.path) as db:
        db.execute("UPDATE tunes SET settings = '[1, 2]' WHERE id = ?", (ids[0],))  # JSON, but not settings
        db.execute("UPDATE tunes SET checkpoint = X'ff' WHERE id = ?", (ids[1],))
        db.commit()
    assert [t.id for t in book.list()] == [ids[2]]
    tunes, damaged = book.scan()
    assert [t.id for t in tunes] == [ids[2]] and [d.tune_id for d in damaged] == [ids[1], ids[0]]
    with pytest.raises(DamagedTune, match=f"tune {ids[1]} in the tune book {book.path} is damaged .*checkpoint"):
        book.get(ids[1])


def test_another_programs_sqlite_file_is_not_made_a_tune_book(tmp_path):
    other = tmp_path / "other.db"
    with sqlite_connection(other) as db:
        db.execute("CREATE TABLE tunes (name TEXT)")  # even a table called tunes, if not ours
        db.commit()
    before = other.read_bytes()
    with pytest.raises(UserError, match="an SQLite file but not a musictui tune book"):
        TuneBook(other)
    assert other.read_bytes() == before


def test_export_never_writes_into_a_pipe_even_with_force(tmp_path):
    import os

    from musictui.tunebook import export

    book = TuneBook(tmp_path / "book.db")
    tune = book.get(book.add("X:1\nT:A\nK:C\nCDEF|\n", "ckpt"))
    fifo = tmp_path / "pipe.abc"
    os.mkfifo(fifo)  # writing it would block until someone reads
    with pytest.raises(UserError, match="not a regular file"):
        export(tune, fifo, force=True)
