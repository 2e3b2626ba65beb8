"""Arguments and look-ups that several commands share."""
from __future__ import annotations

import argparse
from pathlib import Path

from musictui.errors import UserError
# The argparse types every command shares live in musictui.limits (the core checks the same ranges).
from musictui.limits import (finite_number, positive_finite,  # noqa: F401
                             positive_int, seed, temperature, top_k, top_p)

from musictui.runs import DEFAULT_CHECKPOINT_DIR, SHIPPED_DIR  # noqa: F401 (where the policy lives)


def corpus_argument(text: str) -> Path:
    """--corpus: a corpus's name as it is; anything else a path, made absolute, so that `./folk`
    stays the folder (Path would make it `folk`, the name) and `""` is not the current folder."""
    from musictui.data import NAMED_CORPORA  # here, not at import: the app's start-up stays light

    if not text.strip():
        raise argparse.ArgumentTypeError("is empty: give an .abc file, a folder of them, or a corpus name")
    return Path(text) if text in NAMED_CORPORA else Path(text).absolute()


def add_corpus_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", type=corpus_argument, metavar="PATH",
                        help="an .abc file or a folder of them, or a named corpus: irish, folk, folk-keys "
                             "(musictui corpus lists them; default: irish, irish.abc from mitdeeplearning)")


def check_corpus_argument(corpus: Path | None) -> None:
    """Refuse a --corpus path that is missing, endless (a pipe, a device) or too big, before the
    command imports torch (1.5 s): a mistake is refused at once. Loading checks it again."""
    from musictui.data import NAMED_CORPORA
    from musictui.limits import check_corpus

    if corpus is not None and str(corpus) not in NAMED_CORPORA:
        check_corpus(corpus)


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
    """The checkpoint to generate from: the policy of musictui.runs.resolve (the file named, the
    newest in a folder named, else the newest in ./checkpoints, else the shipped model)."""
    from musictui.runs import resolve

    return resolve(path)
