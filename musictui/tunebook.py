"""The tune book: every tune the app makes (and `musictui generate --keep`) kept in one SQLite file.

`$XDG_DATA_HOME/musictui/tunes.db` (default `~/.local/share/musictui/tunes.db`). Each tune keeps its
ABC, the checkpoint that wrote it, the sampling settings, the seed, the date and a star. The file is
in WAL mode and every call opens its own short connection with a busy timeout, so two app
instances (or the app and `generate --keep`) can write at once and lose nothing: SQLite queues the
writers. No textual and no torch here: the app's screen and `musictui tunes` both call this.

The file is the user's: a book another program holds locked, some other program's SQLite file, or
a row edited by hand into nonsense is refused in one line naming the file (a UserError), and never
changed by the refusal.
"""
from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from musictui.errors import UserError
from musictui.outputs import refuse_special_file, write_whole
from musictui.xdg import data_home

DB_NAME = "tunes.db"
# How long a writer waits for the lock. Our own writers hold it for milliseconds, so SQLite's queue
# never needs this long; a lock held for seconds is another program's (an open sqlite3 shell, a
# backup tool), and the user is better told at once than left waiting.
BUSY_TIMEOUT_S = 5
# The columns our queries read: a file whose `tunes` table lacks one is someone else's.
COLUMNS = {"id", "title", "abc", "checkpoint", "settings", "seed", "created", "star"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS tunes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    title      TEXT NOT NULL,
    abc        TEXT NOT NULL,
    checkpoint TEXT NOT NULL,   -- the file (or "training weights at step N") that wrote it
    settings   TEXT NOT NULL,   -- the sampling settings, as JSON
    seed       INTEGER,         -- NULL: a random seed nobody asked to keep
    created    TEXT NOT NULL,   -- ISO 8601, UTC
    star       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tunes_star ON tunes (star);
"""


def default_path() -> Path:
    """$XDG_DATA_HOME/musictui/tunes.db, or ~/.local/share/musictui/tunes.db."""
    return data_home() / "musictui" / DB_NAME


def title_of(abc: str) -> str:
    found = re.search(r"^T:\s*(.*)$", abc, re.MULTILINE)
    return found[1].strip() if found and found[1].strip() else "untitled"


@dataclass
class BookTune:
    id: int
    title: str
    abc: str
    checkpoint: str
    settings: dict
    seed: int | None
    created: str
    star: bool

    @property
    def line(self) -> str:
        """One line for a list: number, star, title, date."""
        return f"{self.id:>4} {'★' if self.star else ' '} {self.title}  ({self.created[:16].replace('T', ' ')})"


class DamagedTune(UserError):
    """A row whose values no tune can have (a hand edit, a broken disk); the rest of the book is fine."""

    def __init__(self, tune_id: int, path: Path, columns: list[str]) -> None:
        self.tune_id = tune_id
        super().__init__(f"tune {tune_id} in the tune book {path} is damaged (its {', '.join(columns)} "
                         f"cannot be read): mend or delete it with `sqlite3 {path}`, or restore the book "
                         "from a backup")


class TuneBook:
    """One SQLite file; safe to use from several threads and processes at once."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        if self.path.is_dir():
            raise UserError(f"the tune book {self.path} is a folder: give a file, e.g. {self.path / DB_NAME}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                self._refuse_another_programs_file(db)  # before WAL mode and our tables change it
                # WAL: readers never block the writer, and a crash mid-write leaves the book whole.
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
        except sqlite3.DatabaseError as error:
            raise UserError(f"the tune book {self.path} cannot be opened ({error}): move it aside "
                            "and a new one is made") from None
        except OSError as error:  # its folder cannot be made: a file in the way, no permission
            raise UserError(f"the tune book cannot be kept in {self.path.parent} ({error.strerror}): "
                            "choose a folder you can write (XDG_DATA_HOME, or --db)") from None

    def _refuse_another_programs_file(self, db: sqlite3.Connection) -> None:
        """A new or empty file becomes a tune book; one with tables but not ours is left untouched."""
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                  if not name.startswith("sqlite_")}  # SQLite's own (sqlite_sequence) say nothing
        columns = {row["name"] for row in db.execute("PRAGMA table_info(tunes)")}
        if tables and not COLUMNS <= columns:
            raise UserError(f"{self.path} is an SQLite file but not a musictui tune book: give another "
                            f"file (--db), or none for the default {default_path()}")

    @contextmanager
    def _connect(self):
        try:
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)) as db:
                db.row_factory = sqlite3.Row
                db.text_factory = _text
                with db:  # one transaction: committed on success, rolled back on an error
                    yield db
        except sqlite3.OperationalError as error:
            if not _is_locked(error):
                raise
            raise UserError(f"the tune book {self.path} is in use by another program (still locked after "
                            f"{BUSY_TIMEOUT_S} s): wait for it to finish, or close it, and try again") from None

    def add(self, abc: str, checkpoint: str, settings: dict | None = None, seed: int | None = None,
            star: bool = False) -> int:
        """Keep a tune; returns its number in the book."""
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO tunes (title, abc, checkpoint, settings, seed, created, star) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (title_of(abc), abc, checkpoint, json.dumps(settings or {}), seed, created, int(star)))
            return int(cursor.lastrowid)

    def get(self, tune_id: int) -> BookTune:
        with self._connect() as db:
            row = db.execute("SELECT * FROM tunes WHERE id = ?", (tune_id,)).fetchone()
        if row is None:
            raise UserError(f"there is no tune {tune_id} in the tune book {self.path} "
                            "(musictui tunes list shows their numbers)")
        return _tune(row, self.path)

    def list(self, starred: bool = False, search: str | None = None, limit: int | None = None) -> list[BookTune]:
        """Newest first; only starred ones with `starred`; titles containing `search` (any case).
        Damaged tunes are left out (one bad row should not hide the rest): `scan` names them."""
        return self.scan(starred, search, limit)[0]

    def scan(self, starred: bool = False, search: str | None = None,
             limit: int | None = None) -> tuple[list[BookTune], list[DamagedTune]]:
        """As `list`, with the damaged tunes among those asked for (each counts towards `limit`)."""
        where, params = [], []
        if starred:
            where.append("star = 1")
        if search:
            where.append("title LIKE ? ESCAPE '\\'")
            params.append("%" + re.sub(r"([%_\\])", r"\\\1", search) + "%")
        sql = "SELECT * FROM tunes" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        tunes, damaged = [], []
        with self._connect() as db:
            for row in db.execute(sql, params):
                try:
                    tunes.append(_tune(row, self.path))
                except DamagedTune as error:
                    damaged.append(error)
        return tunes, damaged

    def set_star(self, tune_id: int, star: bool) -> None:
        with self._connect() as db:
            if db.execute("UPDATE tunes SET star = ? WHERE id = ?", (int(star), tune_id)).rowcount == 0:
                raise UserError(f"there is no tune {tune_id} in the tune book {self.path}")

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM tunes").fetchone()[0])


def _text(raw: bytes) -> str | bytes:
    """SQLite's TEXT as str; text that is not UTF-8 (a hand edit) stays bytes for `_tune` to report,
    where Python's default would fail the whole query and so hide every other tune."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _is_locked(error: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock past our busy timeout."""
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+; 3.10 has only the message
    if code is None:
        return "locked" in str(error)
    return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)  # the low byte: the primary code


def _settings(value) -> dict | None:
    """The JSON settings as a dict, or None where they are not (a hand edit)."""
    try:
        settings = json.loads(value) if isinstance(value, str) else None
    except json.JSONDecodeError:
        return None
    return settings if isinstance(settings, dict) else None


def _tune(row: sqlite3.Row, path: Path) -> BookTune:
    """The row as a tune; DamagedTune where a value is not what `add` writes. SQLite keeps any value
    in any column, so a hand edit can leave bytes where text belongs, or settings that are not JSON."""
    damaged = [name for name in ("title", "abc", "checkpoint", "created") if not isinstance(row[name], str)]
    settings = _settings(row["settings"])
    if settings is None:
        damaged.append("settings")
    if not (row["seed"] is None or isinstance(row["seed"], int)):
        damaged.append("seed")
    if damaged:
        raise DamagedTune(row["id"], path, damaged)
    return BookTune(id=row["id"], title=row["title"], abc=row["abc"], checkpoint=row["checkpoint"],
                    settings=settings, seed=row["seed"], created=row["created"], star=bool(row["star"]))


EXPORT_SUFFIXES = (".abc", ".mid", ".wav")


def export(tune: BookTune, out: Path, force: bool = False) -> Path:
    """Write the tune as ABC, MIDI or WAV, by the suffix of `out`. An existing file is kept unless
    `force` (nothing a user made is overwritten by accident)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise UserError(f"cannot tell what to write from {out.name!r}: end it in .abc, .mid or .wav")
    if out.is_dir():
        raise UserError(f"{out} is a folder: give a file, e.g. {out / ('tune-%d.abc' % tune.id)}")
    refuse_special_file(out, "the export")  # a pipe would hang the write; a device is not a file
    if out.exists() and not force:
        raise UserError(f"{out} exists: choose another name, or add --force to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".abc":
        write_whole(out, tune.abc.rstrip("\n") + "\n")
        return out
    from musictui.audio import render

    if suffix == ".wav":
        render(tune.abc, wav_path=out)
    else:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="musictui-") as folder:
            render(tune.abc, wav_path=Path(folder) / "tune.wav", midi_path=out)
    return out


def keep(tunes: list[str], checkpoint: str, settings, path: Path | str | None = None) -> tuple[list[int], Path]:
    """Keep generated tunes (`settings` a SampleSettings); returns their numbers and the book's file."""
    from dataclasses import asdict

    book = TuneBook(path)
    values = asdict(settings)
    return [book.add(abc, checkpoint, values, values.get("seed")) for abc in tunes], book.path
