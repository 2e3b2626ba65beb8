"""A checkpoint's metadata, read from the safetensors header and checked, with no torch.

A checkpoint (musictui.checkpoint) keeps everything but its tensors in one JSON document in the
header's metadata. The header is 8 bytes giving its length, then JSON: the standard library reads
it. So a command refuses a damaged or foreign checkpoint before it imports torch (1.5 s), and
load_checkpoint checks the metadata with the same code.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from musictui.config import Config
from musictui.data import Vocabulary
from musictui.errors import UserError
from musictui.runs import resolve_named

FORMAT = "musictui-checkpoint-1"
HEADER_MAX = 100_000_000  # bytes: safetensors refuses a longer header, and so do we


@dataclass(frozen=True)
class CheckpointMeta:
    """The checked metadata: `fields` are the Checkpoint fields it holds (step, losses, rng...)."""

    config: Config
    vocab: Vocabulary
    fields: dict
    optimizer: dict | None  # the JSON part of Adam's state; None in a weights-only checkpoint


def read_meta(path: Path | str) -> CheckpointMeta:
    """The metadata of the checkpoint at `path` (a folder: its newest), checked; a UserError names
    the file and what is wrong. The tensors are not read: load_checkpoint checks those."""
    path = resolve_named(Path(path))  # the one "which checkpoint" policy (musictui.runs)
    return parse_meta(path, header_metadata(path))


def header_metadata(path: Path) -> dict:
    """The safetensors header's `__metadata__` (names to strings), read without safetensors."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            length = int.from_bytes(f.read(8), "little")
            if size < 8 or not 0 < length <= min(HEADER_MAX, size - 8):
                raise ValueError(f"a header of {length:,} bytes cannot be in a file of {size:,}")
            header = json.loads(f.read(length))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (OSError, ValueError) as error:  # json's and UTF-8's errors are ValueErrors
        raise UserError(f"{path} is not a readable checkpoint (truncated or not safetensors: {error})") from None
    metadata = header.get("__metadata__")
    return metadata if isinstance(metadata, dict) else {}


def parse_meta(path: Path, metadata: dict) -> CheckpointMeta:
    """Check the header's metadata: a hand-edited or damaged one is one line naming the field,
    never a traceback from torch later."""
    try:
        meta = json.loads(metadata["musictui"])
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise KeyError("format")
    except (KeyError, TypeError, ValueError):
        raise UserError(f"{path} is a safetensors file but not a musictui checkpoint") from None
    try:
        config = Config.from_dict(meta.get("config"))
        chars = meta.get("vocab")
        if not isinstance(chars, list) or not chars or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise ValueError("vocab must be a non-empty list of single characters")
        vocab = Vocabulary(chars)
        fields = _check_fields(meta)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UserError(f"{path}: its metadata is damaged ({error})") from None
    if len(vocab) != len(chars):
        raise UserError(f"{path}: its vocabulary has repeated characters")
    return CheckpointMeta(config=config, vocab=vocab, fields=fields, optimizer=meta.get("optimizer"))


def _number(value) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _check_fields(meta: dict) -> dict:
    """The Checkpoint fields held in the JSON metadata, type-checked; ValueError names the bad one."""
    step = meta.get("step", 0)
    if type(step) is not int or step < 0:
        raise ValueError(f"step must be a whole number of at least 0, not {step!r}")
    losses = meta.get("train_losses", [])
    if not isinstance(losses, list) or not all(_number(x) for x in losses):
        raise ValueError("train_losses must be a list of finite numbers")
    val = meta.get("val_losses", [])
    if not isinstance(val, list) or not all(
            isinstance(x, list) and len(x) == 2 and type(x[0]) is int and _number(x[1]) for x in val):
        raise ValueError("val_losses must be a list of [step, loss] pairs")
    best = meta.get("best_val_loss")
    if best is not None and not _number(best):
        raise ValueError(f"best_val_loss must be a finite number or null, not {best!r}")
    numpy_rng = meta.get("numpy_rng")
    if numpy_rng is not None and not isinstance(numpy_rng, dict):
        raise ValueError("numpy_rng must be a mapping")
    extra = meta.get("extra", {})
    if not isinstance(extra, dict):
        raise ValueError("extra must be a mapping")
    optimizer = meta.get("optimizer")
    if optimizer is not None and not (isinstance(optimizer, dict) and isinstance(optimizer.get("param_groups"), list)):
        raise ValueError("optimizer must be a mapping with param_groups")
    return dict(step=step, train_losses=list(losses), val_losses=[tuple(x) for x in val], best_val_loss=best,
                numpy_rng=numpy_rng, extra=extra)
