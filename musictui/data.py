"""The corpus: ABC text -> tunes -> vocabulary and integer vectors -> training batches.

The default corpus is `irish.abc` from the `mitdeeplearning` package (MIT 6.S191). We find it
through the package's installed metadata and never import the package: its `__init__` imports
TensorFlow.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from musictui.errors import UserError
from musictui.limits import check_corpus
from musictui.notation.tunes import split_tunes  # noqa: F401 (one definition of a tune, in notation)

CORPUS_PACKAGE = "mitdeeplearning"
CORPUS_FILE = "mitdeeplearning/data/irish.abc"
CORPUS_PIN = "mitdeeplearning==0.7.5"  # the version scripts/setup.sh installs; its irish.abc has 804 tunes
NAMED_CORPORA = ("irish", "folk", "folk-keys")  # musictui.corpora.NAMES (it imports this module)
TUNE_SEPARATOR = "\n\n"  # between tunes in the training text, so the model learns where one ends


def corpus_install_command(*extra: str) -> str:
    """The exact command that installs the corpus into the Python running musictui. --no-deps:
    pip cannot skip mitdeeplearning's TensorFlow through our metadata, and we need only its data."""
    import shlex
    import sys

    return shlex.join([sys.executable, "-m", "pip", "install", "--no-deps", *extra, CORPUS_PIN])


def default_corpus_path() -> Path:
    """The irish.abc that ships inside the installed mitdeeplearning package."""
    try:
        dist = metadata.distribution(CORPUS_PACKAGE)
    except metadata.PackageNotFoundError:
        raise UserError(
            "the default corpus comes with the mitdeeplearning package, which is not installed: "
            f"run `{corpus_install_command()}`, or pass --corpus PATH"
        ) from None
    for file in dist.files or []:
        if file.as_posix() == CORPUS_FILE:
            return Path(dist.locate_file(file))
    raise UserError(
        f"the installed mitdeeplearning package has no {CORPUS_FILE}: reinstall it "
        f"(`{corpus_install_command('--force-reinstall')}`), or pass --corpus PATH"
    )


def read_abc_text(path: Path) -> str:
    """The text of one .abc file, or of every .abc file under a folder (sorted, recursively)."""
    path = check_corpus(Path(path))  # missing, endless (/dev/zero) or over the size cap: one line
    files = sorted(p for p in path.rglob("*.abc") if p.is_file()) if path.is_dir() else [path]
    if not files:
        raise UserError(f"no .abc files under {path}")
    return "\n\n".join(_read_utf8(f) for f in files)


def _read_utf8(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}") from None
    try:
        return raw.decode("utf-8-sig")  # -sig: a byte-order mark is not part of the first tune
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise UserError(
            f"{path} is not UTF-8 text (byte {error.start}, line {line}): convert it, e.g. "
            f"`iconv -f latin1 -t utf-8`"
        ) from None


class Vocabulary:
    """The sorted set of characters, and the maps between characters and indices."""

    def __init__(self, chars):
        self.chars: list[str] = sorted(set(chars))
        self.char2idx: dict[str, int] = {c: i for i, c in enumerate(self.chars)}
        self.idx2char: np.ndarray = np.array(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and self.chars == other.chars

    def encode(self, text: str) -> np.ndarray:
        """`text` as an int64 vector. Characters outside the vocabulary are a UserError that lists them."""
        unknown = sorted(set(text) - self.char2idx.keys())
        if unknown:
            # Python reads bytes that are not UTF-8 as lone surrogates ('\udcff'): name the bytes.
            raw = [f"0x{ord(c) - 0xDC00:02x}" for c in unknown if 0xDC80 <= ord(c) <= 0xDCFF]
            chars = "".join(c for c in unknown if not 0xDC80 <= ord(c) <= 0xDCFF)
            raise UserError(
                (f"characters not in the model's vocabulary: {chars!r} " if chars else "")
                + (f"{'and ' if chars else ''}bytes that are not UTF-8: {', '.join(raw)} (save the text as UTF-8) "
                   if raw else "")
                + f"(it knows: {''.join(self.chars)!r})"
            )
        return np.fromiter((self.char2idx[c] for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids) -> str:
        return "".join(self.idx2char[np.asarray(ids, dtype=np.int64)])


def vectorize_string(text: str, vocab: Vocabulary) -> np.ndarray:
    """The lab's name for `vocab.encode(text)`."""
    return vocab.encode(text)


def get_batch(vectorized: np.ndarray, seq_length: int, batch_size: int, rng: np.random.Generator | None = None):
    """Random windows of the corpus: `(x, y)`, int arrays of shape (batch_size, seq_length).

    The lab's contract: `y` is `x` shifted one character ahead (`x[:, 1:] == y[:, :-1]`). With
    `rng`, the windows come from that generator (reproducible, resumable); without, from numpy's
    global random state, as in the lab.
    """
    n = len(vectorized) - 1
    if n - seq_length <= 0:
        raise UserError(
            f"the corpus has {len(vectorized)} characters: too short for one window of {seq_length}"
        )
    starts = (rng.integers(0, n - seq_length, batch_size) if rng is not None
              else np.random.choice(n - seq_length, batch_size))
    windows = vectorized[starts[:, None] + np.arange(seq_length + 1)]  # one gather, no Python loop
    return windows[:, :-1], windows[:, 1:]


@dataclass
class Corpus:
    """Tunes split into training and held-out sets, with the vocabulary of all of them."""

    tunes: list[str]
    train_tunes: list[str]
    val_tunes: list[str]
    vocab: Vocabulary
    source: Path

    @property
    def train_text(self) -> str:
        return TUNE_SEPARATOR.join(self.train_tunes) + TUNE_SEPARATOR

    @property
    def val_text(self) -> str:
        return TUNE_SEPARATOR.join(self.val_tunes) + TUNE_SEPARATOR

    def train_ids(self) -> np.ndarray:
        return self.vocab.encode(self.train_text)

    def val_ids(self) -> np.ndarray:
        return self.vocab.encode(self.val_text)


def held_out_split(tunes: list[str], fraction: float = 0.1, seed: int = 0) -> tuple[list[str], list[str]]:
    """A deterministic (train, validation) split of whole tunes: the same seed, the same split."""
    if len(tunes) < 2 or fraction <= 0:
        return list(tunes), []
    n_val = max(1, math.ceil(len(tunes) * fraction))
    order = np.random.default_rng(seed).permutation(len(tunes))
    val_idx = set(order[:n_val].tolist())
    train = [t for i, t in enumerate(tunes) if i not in val_idx]
    val = [t for i, t in enumerate(tunes) if i in val_idx]
    return train, val


def load_corpus(path: Path | str | None = None, val_fraction: float = 0.1, split_seed: int = 0) -> Corpus:
    """Read, split into tunes, hold out `val_fraction` of them. `path=None` means irish.abc; a
    name of NAMED_CORPORA (`irish`, `folk`, `folk-keys`) means that corpus (write `./folk` for a path)."""
    if path is not None and str(path) in NAMED_CORPORA:
        from musictui.corpora import load_named  # it imports this module

        return load_named(str(path), val_fraction, split_seed)
    source = Path(path) if path is not None else default_corpus_path()
    tunes = split_tunes(read_abc_text(source))
    if not tunes:
        raise UserError(f"no tunes found in {source}: a tune starts with an `X:` line")
    train, val = held_out_split(tunes, val_fraction, split_seed)
    vocab = Vocabulary(TUNE_SEPARATOR.join(tunes) + TUNE_SEPARATOR)
    return Corpus(tunes=tunes, train_tunes=train, val_tunes=val, vocab=vocab, source=source)
