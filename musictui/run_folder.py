"""A run folder (checkpoints and metrics.jsonl) is written by one trainer at a time.

Two trainers in one folder used to interleave their checkpoints and metrics silently. The first
to start takes an exclusive `fcntl.flock` on `.musictui.lock` in the folder and writes its PID
there; the second is refused with one line naming the folder and that PID. The kernel drops the
lock when the process ends, however it ends, so a killed run never blocks the next one.

Holding the lock also makes it safe to tidy: temporary files of a save that a kill interrupted
are removed, and old checkpoints are pruned by step, whichever run wrote them.
"""
from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

from musictui.errors import UserError

LOCK_NAME = ".musictui.lock"
# checkpoint.save_checkpoint's temporary names: .step-0000100.safetensors.tmp-PID-RANDOM
_TEMP = re.compile(r"^\..+\.tmp-(\d+)(-[0-9a-f]+)?$")
_STEP = re.compile(r"^step-(\d+)\.safetensors$")
# Folders this process holds, by resolved path. flock conflicts between two descriptors even in one
# process, so a second trainer here (the app starting again after a run) takes the lock over.
_HELD: dict[str, "RunFolder"] = {}


class RunFolder:
    """The lock on one run folder; `release()` (or the end of the process) gives it up."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._file = None
        self.made = False  # this process made the folder: a run that fails to start removes it again

    def acquire(self) -> "RunFolder":
        existed = self.folder.exists()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise UserError(f"{self.folder} is a file, not a folder: choose another --checkpoint-dir") from None
        self.made = not existed
        key = str(self.folder.resolve())
        holder = _HELD.get(key)
        if holder is not None and holder._file is not None:
            self._file, holder._file = holder._file, None
            self.made = holder.made
            _HELD[key] = self
            return self
        self._file = self._lock()
        _HELD[key] = self
        return self

    def _lock(self):
        """Open the folder's lock file, take its flock and write our PID; UserError if another
        trainer holds it. Retried if the file was removed or replaced between the open and the
        flock: a lock on a file no longer at the path would keep nobody out."""
        lock_path = self.folder / LOCK_NAME
        while True:
            # "a+": never truncates, so a refused trainer does not wipe the holder's PID before reading it.
            lock = open(lock_path, "a+", encoding="ascii")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                pid = lock.read().strip() or "unknown"
                lock.close()
                raise UserError(f"{self.folder} is in use by another trainer (PID {pid}): wait for it to "
                                "finish, stop it, or train into another --checkpoint-dir") from None
            if _same_file(lock, lock_path):
                break
            lock.close()
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        return lock

    def keep(self) -> None:
        """Called at every step: if the lock file was deleted (or replaced) while we train, lock a
        new one at its path at once. The flock is on the file, not the name: with the file gone,
        a second trainer would have found the folder free and interleaved its checkpoints with
        ours. If one got in first, this run stops (UserError) rather than write beside it."""
        if self._file is None or _same_file(self._file, self.folder / LOCK_NAME):
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)  # the whole folder may have gone
            lock = self._lock()
        except UserError as taken:
            raise FolderTakenOver(f"{taken}. Its lock file was removed while this run trained, and that "
                                  "trainer started in it: this run stops without writing there") from None
        except OSError:
            return  # cannot make a new one now (the folder is a file, a read-only disk): tried again next step
        self._file.close()
        self._file = lock

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None

    def abandon(self) -> None:
        """Release, after a run that never started (a bad corpus, nothing to resume): a folder this
        process made is removed if it holds only the lock, so a mistake leaves nothing behind."""
        held = self._file is not None
        self.release()
        if held and self.made:
            try:
                (self.folder / LOCK_NAME).unlink(missing_ok=True)
                self.folder.rmdir()  # only if empty: anything else in it stays
            except OSError:
                pass

    @property
    def held(self) -> bool:
        return self._file is not None

    def remove_stale_temp_files(self) -> list[Path]:
        """Delete temporary checkpoint files left by processes that are gone (SIGKILL mid-save)."""
        removed = []
        for path in self.folder.iterdir():
            match = _TEMP.match(path.name)
            if match and int(match[1]) != os.getpid() and not _alive(int(match[1])):
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def __enter__(self) -> "RunFolder":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


class FolderTakenOver(UserError):
    """Another trainer locked the run folder after our lock file was deleted."""


def _same_file(lock, path: Path) -> bool:
    """Whether the open `lock` is still the file at `path` (not deleted, not replaced)."""
    try:
        here = os.stat(path)
    except OSError:
        return False
    return os.path.samestat(here, os.fstat(lock.fileno()))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def prune_checkpoints(folder: Path, keep_last: int, keep: Path | None = None) -> list[Path]:
    """Keep the `keep_last` checkpoints of highest step (and `keep`); delete older `step-N` files.

    By step, not by who wrote them: a run resumed five times keeps 3 checkpoints, not 15.
    Files with other names (a user's own copy) are never touched. 0 keeps all.
    """
    folder = Path(folder)
    steps = sorted((int(m[1]), p) for p in folder.iterdir() if (m := _STEP.match(p.name)))
    removed = []
    for _, path in steps[:-keep_last] if keep_last else []:
        if keep is not None and path == keep:
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed
