"""Arguments and look-ups that several commands share."""
from __future__ import annotations

import argparse
from pathlib import Path

from musictui.errors import UserError

from musictui.runs import DEFAULT_CHECKPOINT_DIR, SHIPPED_DIR  # noqa: F401 (where the policy lives)


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


def number(text: str) -> float:
    """An argparse type: any float, with a plain message when it is not one."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text}") from None


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text}")
    return value


def find_checkpoint(path: Path | None) -> Path:
    """The checkpoint to generate from: the policy of musictui.runs.resolve (the file named, the
    newest in a folder named, else the newest in ./checkpoints, else the shipped model)."""
    from musictui.runs import resolve

    return resolve(path)
