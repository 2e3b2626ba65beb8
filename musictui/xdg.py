"""Where musictui keeps a user's things: the XDG base-directory spec, in one place.

The spec: a relative $XDG_DATA_HOME or $XDG_CACHE_HOME is invalid and must be ignored. Taken as it
is, it would put the tune book or the caches wherever the command happened to be started.
"""
from __future__ import annotations

import os
from pathlib import Path


def base_dir(variable: str, default: Path) -> Path:
    """$`variable` where it is an absolute path, else `default`."""
    value = os.environ.get(variable, "")
    return Path(value) if os.path.isabs(value) else default


def data_home() -> Path:
    """$XDG_DATA_HOME, else ~/.local/share."""
    return base_dir("XDG_DATA_HOME", Path.home() / ".local" / "share")


def cache_home() -> Path:
    """$XDG_CACHE_HOME, else ~/.cache."""
    return base_dir("XDG_CACHE_HOME", Path.home() / ".cache")
