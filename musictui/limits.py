"""The sane ranges of what a user may ask for, checked before any work starts (no torch here).

Each check is an argparse type (a bad value is one line naming the option and the range) and is
also called by the core, so the app and the command line refuse the same things.
"""
from __future__ import annotations

import argparse
import math
import os
import stat
from pathlib import Path

from musictui.errors import UserError

# folkrnn.org offers 0.01-10; below 0.01 the softmax underflows to one character (or to nothing
# at 1e-300), above 10 it is uniform noise, and inf/nan make torch.multinomial fail.
TEMPERATURE_MIN, TEMPERATURE_MAX = 0.01, 10.0
# torch.manual_seed and numpy take seeds up to 2**64-1; 2**63-1 also fits a signed 64-bit field.
SEED_MAX = 2**63 - 1
# The whole Irish corpus is 0.2 MB and the biggest ABC collections are a few MB; 64 MB of text
# already takes minutes to split into tunes. Anything larger (or endless: /dev/zero, a pipe) is
# refused before it is read.
CORPUS_MAX_BYTES = 64 * 2**20


def _parse(text: str, kind, what: str):
    try:
        return kind(text)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"not {what}: {text}") from None


def finite_number(text: str) -> float:
    value = _parse(text, float, "a number")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text}")
    return value


def temperature(text: str) -> float:
    value = _parse(text, float, "a number")
    if not (math.isfinite(value) and TEMPERATURE_MIN <= value <= TEMPERATURE_MAX):
        raise argparse.ArgumentTypeError(
            f"must be between {TEMPERATURE_MIN} and {TEMPERATURE_MAX:g}, not {text}")
    return value


def top_k(text: str) -> int:
    value = _parse(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (1 = always the likeliest), not {text}")
    return value


def top_p(text: str) -> float:
    value = _parse(text, float, "a number")
    if not (math.isfinite(value) and 0 < value <= 1):
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 1, not {text}")
    return value


def seed(text: str) -> int:
    value = _parse(text, int, "a whole number")
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 2**63-1, not {text}")
    return value


def positive_finite(text: str) -> float:
    value = _parse(text, float, "a number")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number greater than 0, not {text}")
    return value


def positive_int(text: str) -> int:
    value = _parse(text, int, "a whole number")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text}")
    return value


# -- the corpus ----------------------------------------------------------------------------------

def check_corpus(path: Path) -> Path:
    """Refuse a corpus that is not plain files or holds more than CORPUS_MAX_BYTES, without reading it."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UserError(f"corpus not found: {path} (pass --corpus with an .abc file or a folder of them)") from None
    except OSError as error:
        raise UserError(f"cannot read the corpus {path}: {error.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        total = 0
        for file in path.rglob("*.abc"):
            try:
                file_info = file.stat()
            except OSError:
                continue  # data.py says which one cannot be read
            if stat.S_ISDIR(file_info.st_mode):
                continue  # a folder called tunes.abc: rglob reads what is in it
            if not stat.S_ISREG(file_info.st_mode):
                raise UserError(f"{file} is not a regular file: a corpus is made of .abc text files")
            total += file_info.st_size
        size = total
    elif stat.S_ISREG(info.st_mode):
        size = info.st_size
    else:
        raise UserError(f"{path} is not a regular file (a device or a pipe has no end): "
                        "pass an .abc file or a folder of them")
    if size > CORPUS_MAX_BYTES:
        raise UserError(f"the corpus {path} holds {size / 2**20:,.0f} MB: musictui reads at most "
                        f"{CORPUS_MAX_BYTES // 2**20} MB of ABC (split it, or pick the tunes you want)")
    return path


# -- memory --------------------------------------------------------------------------------------

def training_bytes(vocab_size: int, embedding_dim: int, hidden_size: int, batch_size: int,
                   seq_length: int) -> int:
    """A lower bound on what one training step of the Embedding -> LSTM -> Linear model holds.

    Weights, their gradients and Adam's two moments (4 float32 copies), plus the activations
    autograd keeps per character of the batch: the embedding, the LSTM's four gates, its cell and
    hidden states, and the logits with their softmax and gradient.
    """
    v, e, h = vocab_size, embedding_dim, hidden_size
    params = v * e + 4 * h * (e + h) + 8 * h + h * v + v
    per_char = e + 4 * h + 3 * h + 3 * v
    return 4 * (4 * params + batch_size * seq_length * per_char)


def available_bytes(device_type: str = "cpu") -> int | None:
    """Free memory on the device, or None when it cannot be told."""
    if device_type == "cuda":
        try:
            import torch

            return torch.cuda.mem_get_info()[0]
        except Exception:  # noqa: BLE001 - no driver or no device: do not guess
            return None
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def human_bytes(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB", "EB"):
        if count < 1000 or unit == "EB":
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} EB"


def check_training_memory(vocab_size: int, config, device_type: str = "cpu") -> None:
    """Refuse sizes that cannot fit, before torch tries to allocate them (and the OS kills us)."""
    need = training_bytes(vocab_size, config.embedding_dim, config.hidden_size, config.batch_size,
                          config.seq_length)
    have = available_bytes(device_type)
    if have is not None and need > have:
        raise UserError(
            f"this model and batch need at least {human_bytes(need)} of memory to train "
            f"(hidden size {config.hidden_size:,}, batch {config.batch_size:,} x {config.seq_length:,} "
            f"characters), but the {device_type.upper() if device_type == 'cpu' else device_type} has "
            f"{human_bytes(have)} free: choose a smaller --hidden-size or --batch-size")
