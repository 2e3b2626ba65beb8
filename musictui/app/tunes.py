"""What the generate screen keeps about each tune, and the plain functions it calls: no textual here.

The screen reads its inputs into `SampleSettings` and a header prompt with `read_settings`, keeps
one `Tune` per generated tune, and saves a tune's ABC, MIDI and WAV with `save_tune`. The
functions that touch torch or the audio tools import them when called, so that this module loads
in the app's first frame.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from musictui.errors import UserError

# How many characters a generated tune may run to before we stop waiting for its blank line.
MAX_TUNE_CHARS = 1500


@dataclass
class Tune:
    number: int                    # 1-based, in the order this session made them
    text: str                      # the ABC, header included
    complete: bool                 # False when sampling stopped before the blank line that ends a tune
    source: str                    # which checkpoint wrote it, as shown to the user
    wav_path: Path | None = None   # set once rendered
    report_text: str = ""          # abc2midi's report, as shown under the tune

    @property
    def title(self) -> str:
        found = re.search(r"^T:\s*(.*)$", self.text, re.MULTILINE)
        return found[1].strip() if found and found[1].strip() else "untitled"

    @property
    def label(self) -> str:
        return f"{self.number}. {self.title}" + ("" if self.complete else " (unfinished)")


def read_settings(temperature: str, seed: str, title: str, meter: str, key: str):
    """The sampler's settings and header prompt from the screen's input texts, or a UserError."""
    from musictui.sample import SampleSettings, build_prompt

    try:
        temp = float(temperature) if temperature.strip() else 1.0
    except ValueError:
        raise UserError(f"temperature must be a number such as 0.8, not {temperature!r}") from None
    try:
        seed_value = int(seed) if seed.strip() else None
    except ValueError:
        raise UserError(f"the seed must be a whole number (or blank for a random one), not {seed!r}") from None
    settings = SampleSettings(temperature=temp, seed=seed_value, max_length=MAX_TUNE_CHARS, tunes=1)
    settings.check()
    prompt = build_prompt(title=title.strip() or None, meter=meter.strip() or None, key=key.strip() or None)
    return settings, prompt


def first_tune(text: str) -> tuple[str, bool]:
    """The first tune in generated text, and whether it is complete (ended by a blank line)."""
    from musictui.sample import extract_tunes

    tunes, tail = extract_tunes(text)
    if tunes:
        return tunes[0], True
    return (tail or text).rstrip("\n"), False


def describe_report(report) -> str:
    """abc2midi's report in a few lines: the summary, then the first errors and bar warnings."""
    lines = [f"abc2midi: {report.summary()}"]
    for error in report.errors[:3]:
        lines.append(f"  error, line {error.line} char {error.char}: {error.message}")
    for warning in report.bar_warnings[:3]:
        lines.append(f"  bar {warning.bar}: {warning.units:g} units where the meter asks for {warning.expected:g}")
    return "\n".join(lines)


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "tune"


def save_tune(tune: Tune, folder: Path) -> list[Path]:
    """Write the tune as .abc, .mid and .wav into `folder`; returns the three paths."""
    from musictui.audio import render

    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"tune-{tune.number:02d}-{slug(tune.title)}"
    abc = stem.with_suffix(".abc")
    abc.write_text(tune.text + "\n", encoding="utf-8")
    midi, wav = stem.with_suffix(".mid"), stem.with_suffix(".wav")
    render(tune.text, wav_path=wav, midi_path=midi)
    return [abc, midi, wav]
