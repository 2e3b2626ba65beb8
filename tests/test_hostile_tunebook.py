"""Hostile input, the tune book: `musictui tunes` against odd arguments and odd SQLite files.

Each case runs a real `musictui tunes` process on a real SQLite file and checks the refusal is one
line (tests/hostile.py) and that the file is as it was: a refusal never changes the user's book.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from hostile import musictui, refused

from musictui.tunebook import TuneBook

TUNE = "X:1\nT:Tune {n}\nM:4/4\nL:1/8\nK:D\nABcd efga|gfed cBAG|\n"


@pytest.fixture
def env(tmp_path) -> dict:
    """Scratch XDG folders: no test ever reads or writes the real tune book."""
    return {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache")}


def book_of(path: Path, tunes: int) -> Path:
    book = TuneBook(path)
    for n in range(1, tunes + 1):
        book.add(TUNE.format(n=n), "test", {"temperature": 1.0}, seed=n)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def edit(path: Path, sql: str) -> None:
    """A hand edit, as a user with the sqlite3 shell would make it."""
    with closing(sqlite3.connect(path)) as db:
        db.execute(sql)
        db.commit()


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["show", "--help"], ["list", "-h"]])
def test_tunes_help_is_shown_not_a_traceback(args, env):
    shown = musictui("tunes", *args, env=env)
    assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr
    assert "usage: musictui tunes" in shown.stdout


def test_tunes_help_keeps_its_percent_sign(env):
    # argparse %-formats help: a lone % crashed it, a doubled one is shown as one.
    assert "as % comments" in musictui("tunes", "--help", env=env).stdout


@pytest.mark.parametrize("args, words", [
    (["show", "99999999999999999999999"], ["argument N", "2**63-1"]),
    (["star", str(2**63)], ["argument N", "2**63-1"]),
    (["play", "99999999999999999999999"], ["argument N", "2**63-1"]),
    (["export", "99999999999999999999999", "out.abc"], ["argument N", "2**63-1"]),
    (["show", "0"], ["argument N", "positive whole number"]),
    (["list", "--limit", "99999999999999999999999"], ["--limit", "2**63-1"]),
    (["list", "--limit", "0"], ["--limit", "positive whole number"]),
    (["list", "--limit", "-1"], ["--limit", "positive whole number"]),
])
def test_a_tune_number_or_limit_sqlite_cannot_hold_is_refused_before_any_work(args, words, tmp_path, env):
    db = book_of(tmp_path / "tunes.db", 2)
    before = sha256(db)
    refused(musictui("tunes", "--db", db, *args, cwd=tmp_path, env=env), *words, status=2)
    assert sha256(db) == before and not (tmp_path / "out.abc").exists()


def test_the_largest_tune_number_and_a_limit_are_taken(tmp_path, env):
    db = book_of(tmp_path / "tunes.db", 3)
    refused(musictui("tunes", "--db", db, "show", str(2**63 - 1), env=env), f"no tune {2**63 - 1}", status=1)
    listed = musictui("tunes", "--db", db, "list", "--limit", "2", env=env)
    assert listed.returncode == 0 and [line.split()[0] for line in listed.stdout.splitlines()] == ["3", "2"]


DAMAGE = {  # tune number -> a hand edit that leaves it unreadable
    1: "UPDATE tunes SET settings = 'not json{' WHERE id = 1",
    2: "UPDATE tunes SET abc = X'ff41' WHERE id = 2",                # bytes where text belongs
    3: "UPDATE tunes SET abc = CAST(X'ff41' AS TEXT) WHERE id = 3",  # text that is not UTF-8
}


@pytest.fixture
def damaged_book(tmp_path) -> Path:
    db = book_of(tmp_path / "tunes.db", 4)
    for sql in DAMAGE.values():
        edit(db, sql)
    return db


def test_list_shows_the_whole_tunes_and_names_the_damaged_ones(damaged_book, env):
    before = sha256(damaged_book)
    listed = musictui("tunes", "--db", damaged_book, "list", env=env)
    line = refused(listed, "tune(s) 3, 2, 1", "damaged", str(damaged_book), status=1)
    assert "sqlite3" in line  # the fix
    assert [row.split()[0] for row in listed.stdout.splitlines()] == ["4"]
    assert sha256(damaged_book) == before


@pytest.mark.parametrize("action", [["show"], ["play"], ["export", "out.abc"]])
@pytest.mark.parametrize("tune", sorted(DAMAGE))
def test_a_damaged_tune_is_one_line_naming_it_and_the_book(action, tune, damaged_book, env):
    before = sha256(damaged_book)
    result = musictui("tunes", "--db", damaged_book, action[0], str(tune), *action[1:],
                      cwd=damaged_book.parent, env=env)
    refused(result, f"tune {tune} ", "damaged", str(damaged_book), status=1)
    assert sha256(damaged_book) == before and not (damaged_book.parent / "out.abc").exists()


def test_a_book_another_program_holds_locked_is_one_line_then_works_again(tmp_path, env):
    db = book_of(tmp_path / "tunes.db", 1)
    with closing(sqlite3.connect(db, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")  # as an open sqlite3 shell mid-transaction would
        refused(musictui("tunes", "--db", db, "star", "1", env=env), "in use", "another program",
                str(db), "wait", status=1)
        other.execute("ROLLBACK")
    assert musictui("tunes", "--db", db, "star", "1", env=env).returncode == 0
    assert TuneBook(db).get(1).star


def tables_and_journal(path: Path) -> tuple[list[str], str]:
    with closing(sqlite3.connect(path)) as db:
        tables = sorted(name for (name,) in db.execute("SELECT name FROM sqlite_master"))
        return tables, db.execute("PRAGMA journal_mode").fetchone()[0]


def test_another_programs_sqlite_file_is_refused_and_left_as_it_was(tmp_path, env):
    other = tmp_path / "other.db"
    edit(other, "CREATE TABLE notes (text TEXT)")
    edit(other, "INSERT INTO notes VALUES ('mine')")
    before = sha256(other)
    refused(musictui("tunes", "--db", other, "list", env=env),
            f"{other} is an SQLite file but not a musictui tune book", status=1)
    assert sha256(other) == before
    assert tables_and_journal(other) == (["notes"], "delete")  # no tables of ours, not switched to WAL


def test_an_empty_file_or_a_new_path_becomes_a_tune_book(tmp_path, env):
    empty = tmp_path / "empty.db"
    empty.touch()
    new = tmp_path / "new" / "folder" / "tunes.db"  # its folders are made, as for every file we write
    for db in (empty, new):
        listed = musictui("tunes", "--db", db, "list", env=env)
        assert listed.returncode == 0 and "no tunes yet" in listed.stdout, listed.stderr
        assert "tunes" in tables_and_journal(db)[0]


def test_a_folder_given_as_the_book_is_one_line(tmp_path, env):
    refused(musictui("tunes", "--db", tmp_path, "list", env=env), "is a folder", str(tmp_path / "tunes.db"),
            status=1)


def test_tunes_list_never_imports_torch(tmp_path, env):
    db = book_of(tmp_path / "tunes.db", 1)
    code = ("import sys\nfrom musictui.cli import main\n"
            f"assert main(['tunes', '--db', {str(db)!r}, 'list']) == 0\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
