"""A run's metrics.jsonl: one JSON line per step, appended beside its checkpoints, to plot later.

Every run into a folder appends to the same file, so a resumed run's curve follows on from the
one before. Two things a user's disk does to it are handled here: a line torn by a full disk or a
kill is cut before the next run appends (else the next line is glued to it), and a write that
fails is one error naming the file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from musictui.errors import UserError

METRICS_FILE = "metrics.jsonl"


class MetricsLog:
    """The open metrics.jsonl of the run in `folder` (made if need be); `write` a record a step."""

    def __init__(self, folder: Path) -> None:
        self.path = path = Path(folder) / METRICS_FILE
        # A pipe there would block the open for good (SIGTERM could not end it), a folder would
        # fail it: refused in one line before the first step, like every other path we write.
        if path.exists() and not path.is_file():
            raise UserError(f"{path} is not a regular file (a folder, a pipe or a device): move it away, "
                            "then train again")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            drop_torn_line(path)
            self._file = open(path, "a", buffering=1, encoding="utf-8")  # a line is flushed as written
        except OSError as error:
            raise UserError(f"could not open {path} to write the run's metrics: {error.strerror or error} "
                            "(make the folder writable, or train into another --checkpoint-dir)") from None

    def write(self, record: dict) -> None:
        try:
            self._file.write(json.dumps(record) + "\n")
        except OSError as error:  # a full disk: name the file
            raise UserError(f"could not write {self.path}: {error.strerror} (free some space, then resume)") from None

    def close(self) -> None:
        try:
            self._file.close()
        except OSError:
            pass  # lines are flushed one by one: only a line whose write already raised is left


def drop_torn_line(path: Path, look_back: int = 65536) -> None:
    """Cut a last line left half-written (a full disk, a kill mid-write), so that the next run's
    first line starts a line of its own instead of gluing itself to the torn one."""
    try:
        f = open(path, "r+b")
    except OSError:
        return  # not there yet; or unwritable, which the open for appending then says
    with f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        start = max(0, size - look_back)
        f.seek(start)
        tail = f.read()
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        if cut >= 0 or start == 0:
            f.truncate(start + cut + 1)
