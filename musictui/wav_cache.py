"""Where rendered WAVs are kept for replay: a per-user cache folder, private and bounded.

It used to be `$TMPDIR/musictui`: shared by every user of the machine (the second one got
PermissionError, and anyone could read or plant files under predictable names) and never
emptied. Now it is `$XDG_CACHE_HOME/musictui` (default `~/.cache/musictui`), mode 0700, and
after each new WAV the oldest are removed until the folder holds at most MAX_BYTES.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from musictui.errors import UserError
from musictui.xdg import cache_home

MAX_BYTES = 512 * 2**20  # about 50 minutes of CD-quality stereo: hundreds of tunes


def cache_dir() -> Path:
    """The cache folder, made private (0700) if it is new; refused if another user owns it."""
    folder = cache_home() / "musictui"  # a relative XDG_CACHE_HOME is ignored (musictui.xdg)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = folder.stat()
    except OSError as error:
        raise UserError(f"cannot make the WAV cache {folder}: {error.strerror} (set XDG_CACHE_HOME to a "
                        "folder you can write)") from None
    if info.st_uid != os.getuid():
        raise UserError(f"the WAV cache {folder} belongs to another user: set XDG_CACHE_HOME to your own folder")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(folder, 0o700)
    return folder


def prune(folder: Path, max_bytes: int = MAX_BYTES, keep: Path | None = None) -> list[Path]:
    """Remove the least recently used WAVs until the folder holds at most `max_bytes` (never `keep`)."""
    files = []
    for path in Path(folder).glob("*.wav"):
        try:
            info = path.stat()
        except OSError:
            continue
        files.append((info.st_mtime, info.st_size, path))
    total = sum(size for _, size, _ in files)
    removed = []
    for _, size, path in sorted(files):
        if total <= max_bytes:
            break
        if keep is not None and path == keep:
            continue
        path.unlink(missing_ok=True)
        total -= size
        removed.append(path)
    return removed
