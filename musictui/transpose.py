"""Transposition augmentation: each training tune also in other common keys of its mode.

folk-rnn trained on every tune in two keys, so that the model learns a tune's intervals rather
than its pitches. We transpose with abcmidi's `abc2abc -t N` (installed with abc2midi), which
rewrites notes, accidentals and the key signature together, then spell the key as irish.abc
does. Only training tunes are transposed: `musictui.corpora` keeps the held-out ones, and
anything near them, out.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from musictui.normalise import Dropped, spell_key

# The keys irish.abc uses most, per mode, most used first: the keys a player of this music expects.
COMMON_TONICS = {
    "Major": ["D", "G", "A", "C", "F"],
    "Minor": ["E", "A", "B", "D"],
    "Dorian": ["A", "E", "D", "G", "B"],
    "Mixolydian": ["D", "A", "G"],
}
PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_K_LINE = re.compile(r"^K:(.*)$", re.MULTILINE)


class TransposeError(Exception):
    """abc2abc failed on a tune (the tune is then simply not augmented)."""


def tune_key(tune: str) -> tuple[str, str]:
    """(tonic, mode) of a tune's K: line, e.g. ("F#", "Minor")."""
    match = _K_LINE.search(tune)
    if match is None:
        raise Dropped("no K: line")
    tonic, mode = spell_key(match[1]).split(" ")
    return tonic, mode


def semitones(tonic_from: str, tonic_to: str) -> int:
    """The shift from one tonic to another, the smaller way round: in -5..6."""
    def pitch(tonic):
        return PITCH[tonic[0]] + {"#": 1, "b": -1}.get(tonic[1:], 0)
    shift = (pitch(tonic_to) - pitch(tonic_from)) % 12
    return shift - 12 if shift > 6 else shift


def shifts_for(tune: str, keys: int) -> list[int]:
    """The shifts that take `tune` to the `keys` most common other keys of its mode ([] for a
    mode irish.abc hardly uses, or a tune with no readable key)."""
    try:
        tonic, mode = tune_key(tune)
    except Dropped:
        return []
    targets = [t for t in COMMON_TONICS.get(mode, []) if semitones(tonic, t) != 0]
    return [semitones(tonic, t) for t in targets[:keys]]


def transpose(tune: str, shift: int, timeout: float = 10) -> str:
    """`tune` moved by `shift` semitones, in irish.abc's dialect. Raises TransposeError."""
    from musictui.audio import MissingTool

    abc2abc = shutil.which("abc2abc")
    if abc2abc is None:
        raise MissingTool("abc2abc is not installed: install the Debian package abcmidi (sudo apt install abcmidi)")
    with tempfile.TemporaryDirectory(prefix="musictui-") as folder:
        path = Path(folder) / "tune.abc"
        path.write_text(tune + "\n", encoding="utf-8")
        try:
            # -e: no error reports written into the tune (abc2abc writes them as % lines)
            result = subprocess.run([abc2abc, str(path), "-e", "-t", str(shift)], capture_output=True,
                                    text=True, errors="replace", timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise TransposeError(f"abc2abc took longer than {timeout:g} s") from None
    lines = [line.rstrip() for line in result.stdout.split("\n")
             if line.strip() and not line.startswith("%")]
    if result.returncode != 0 or not lines or not lines[0].startswith("X:"):
        raise TransposeError(f"abc2abc failed: {result.stderr.strip() or result.stdout.strip()[:200]}")
    keys = [i for i, line in enumerate(lines) if line.startswith("K:")]
    old = tune.split("\n")
    old_key = next((i for i, line in enumerate(old) if line.startswith("K:")), None)
    if not keys or old_key is None:
        raise TransposeError("abc2abc wrote no K: line")
    try:
        key = spell_key(lines[keys[0]][2:])  # abc2abc writes `K:F#min`; irish.abc writes `K:F# Minor`
    except Dropped as error:
        raise TransposeError(f"abc2abc wrote a key we cannot read: {error}") from None
    # The header as it was (abc2abc respaces fields: `Z: id:` would become `Z:id:`), the new key,
    # abc2abc's body.
    return "\n".join(old[:old_key] + [f"K:{key}"] + lines[keys[0] + 1:])


def augment(tunes: list[str], keys: int = 2) -> list[str]:
    """Every tune of `tunes` moved to its mode's `keys` most common other keys (the originals are
    not included). Tunes abc2abc fails on are skipped."""
    jobs = [(tune, shift) for tune in tunes for shift in shifts_for(tune, keys)]

    def one(job):
        try:
            return transpose(*job)
        except TransposeError:
            return None
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        return [t for t in pool.map(one, jobs) if t is not None]
