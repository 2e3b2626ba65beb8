"""Arguments and look-ups that several commands share."""
from __future__ import annotations

import argparse
from pathlib import Path

from musictui.errors import UserError
# The argparse types every command shares live in musictui.limits (the core checks the same ranges).
from musictui.limits import (corpus_path, finite_number, positive_finite,  # noqa: F401
                             positive_int, seed, temperature, top_k, top_p)

DEFAULT_CHECKPOINT_DIR = Path("checkpoints")
# The model that ships with musictui, used when the user has trained none.
SHIPPED_DIR = Path(__file__).resolve().parent.parent.parent / "checkpoints" / "shipped"


def add_corpus_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", type=Path, metavar="PATH",
                        help="an .abc file or a folder of them (default: irish.abc from mitdeeplearning)")


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                        help="where the model runs (default: auto, the best one present)")


def add_checkpoint_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, metavar="PATH",
                        help="a checkpoint, or a folder (its newest is used); default: the newest in "
                             "./checkpoints, else the model that ships with musictui")


# Kept under their old names: `number` is any finite number now (inf and nan are never wanted),
# `positive_float` a finite one above 0 (`--learning-rate inf` trained straight to NaN).
number = finite_number
positive_float = positive_finite


def find_checkpoint(path: Path | None) -> Path:
    """The checkpoint to generate from: `path` itself, the newest in `path` if it is a folder,
    else the newest in ./checkpoints, else the shipped model."""
    from musictui.checkpoint import list_checkpoints, newest_checkpoint

    if path is not None:
        if not path.exists():
            raise UserError(f"checkpoint not found: {path}")
        return newest_checkpoint(path) if path.is_dir() else path
    for folder in (DEFAULT_CHECKPOINT_DIR, SHIPPED_DIR):
        found = list_checkpoints(folder)
        if found:
            return found[-1]
    raise UserError("no checkpoint yet: train one with `musictui train`, or pass --checkpoint PATH")
