"""Which checkpoint: one policy for the command line, the app and the bench (no torch here).

The rule everywhere: a file named by the user is used as it is; a folder named by the user gives its
newest checkpoint; with nothing named, the newest checkpoint in ./checkpoints, else the model that
ships with musictui. "Newest" is by modification time, then name, so a checkpoint written a moment
ago counts and two written in the same second keep their step order.

This module imports no torch: the app's first frame and `--help` consult it.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from musictui.errors import UserError

SUFFIX = ".safetensors"
DEFAULT_CHECKPOINT_DIR = Path("checkpoints")
# The default model is package data, found where the package is installed (a wheel, a clone, an
# editable install alike), never relative to the current folder or the source tree.
SHIPPED_DIR = Path(str(files("musictui") / "shipped"))


def list_checkpoints(folder: Path | str) -> list[Path]:
    """The checkpoint files directly in `folder`, oldest first (by modification time, then name).
    Hidden files are skipped: an atomic save writes a hidden temporary file first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files_ = [p for p in folder.glob(f"*{SUFFIX}") if p.is_file() and not p.name.startswith(".")]
    return sorted(files_, key=lambda p: (p.stat().st_mtime, p.name))


def newest_checkpoint(folder: Path | str) -> Path:
    found = list_checkpoints(folder)
    if not found:
        raise UserError(f"no checkpoint in {folder}: train one there with `musictui train`, or name a folder that holds one")
    return found[-1]


def shipped_checkpoint() -> Path | None:
    """The model that ships with musictui (there is exactly one), or None if it was removed."""
    found = list_checkpoints(SHIPPED_DIR)
    return found[-1] if found else None


def resolve_named(path: Path) -> Path:
    """A path the user gave: the file itself, or the newest checkpoint in the folder."""
    if not path.exists():
        raise UserError(f"checkpoint not found: {path}")
    return newest_checkpoint(path) if path.is_dir() else path


def resolve(path: Path | None, checkpoint_dir: Path = DEFAULT_CHECKPOINT_DIR) -> Path:
    """The checkpoint to generate from: `path` if given (a folder gives its newest), else the
    newest in `checkpoint_dir`, else the shipped model."""
    if path is not None:
        return resolve_named(path)
    found = list_checkpoints(checkpoint_dir) or list_checkpoints(SHIPPED_DIR)
    if not found:
        raise UserError(f"no checkpoint in {checkpoint_dir} and no shipped model in {SHIPPED_DIR}: "
                        "train one with `musictui train`, or pass --checkpoint PATH")
    return found[-1]
