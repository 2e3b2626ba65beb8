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
from musictui.notation.tunes import first_tune, title  # noqa: F401 (the screen imports first_tune here)

# How many characters a generated tune may run to before we stop waiting for its blank line.
MAX_TUNE_CHARS = 1500


@dataclass
class Tune:
    number: int                    # 1-based, in the order this session made them
    text: str                      # the ABC, header included
    complete: bool                 # False when sampling stopped before the blank line that ends a tune
    source: str                    # which checkpoint wrote it, as shown to the user
    meter_aware: bool = True       # sampled with the meter constraint (issue 8) or without
    wav_path: Path | None = None   # set once rendered
    report_text: str = ""          # abc2midi's report, as shown under the tune

    @property
    def title(self) -> str:
        return title(self.text)

    @property
    def label(self) -> str:
        return (f"{self.number}. {self.title}" + ("" if self.meter_aware else " (meter-aware off)")
                + ("" if self.complete else " (unfinished)"))


def read_settings(temperature: str, seed: str, title: str, meter: str, key: str, top_k: str = "",
                  top_p: str = "", meter_aware: bool = True, form: str = "", tune_type: str = ""):
    """The sampler's settings and header prompt from the screen's input texts, or a UserError.
    A blank field means the default: temperature 1.0, a random seed, no top-k or top-p cut, the
    form 2x8 (two parts of eight bars), any tune type."""
    from musictui.sample_settings import SampleSettings, build_prompt, check_prompt_for_sampler

    temp = _number(temperature, float, "temperature must be a number such as 0.8", 1.0)
    seed_value = _number(seed, int, "the seed must be a whole number (or blank for a random one)")
    k = _number(top_k, int, "top-k must be a whole number such as 10 (or blank for all characters)")
    p = _number(top_p, float, "top-p must be a number such as 0.9 (or blank for no cut)")
    settings = SampleSettings(temperature=temp, top_k=k, top_p=p, seed=seed_value, max_length=MAX_TUNE_CHARS,
                              tunes=1, meter_aware=meter_aware, form=read_form(form))
    settings.check()
    prompt = build_prompt(title=title.strip() or None, meter=meter.strip() or None, key=key.strip() or None,
                          tune_type=tune_type.strip().lower() or None)
    check_prompt_for_sampler(prompt, settings)
    return settings, prompt


def read_form(text: str):
    """"2x8" (parts x bars per part; blank: the default plan) or "free" (the meter alone)."""
    from musictui.notation.form import FormPlan

    text = text.strip().lower()
    if not text:
        return FormPlan()
    if text == "free":
        return None
    parts, x, bars = text.partition("x")
    if not (x and parts.strip().isdigit() and bars.strip().isdigit()):
        raise UserError(f"the form must be parts x bars such as 2x8, or free, not {text!r}")
    return FormPlan(int(parts), int(bars))


def _number(text: str, kind: type, problem: str, blank=None):
    """`text` as an int or float, `blank` when empty, or a UserError saying `problem`."""
    try:
        return kind(text) if text.strip() else blank
    except ValueError:
        raise UserError(f"{problem}, not {text!r}") from None


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
    from musictui.outputs import write_whole

    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"tune-{tune.number:02d}-{slug(tune.title)}"
    abc = stem.with_suffix(".abc")
    write_whole(abc, tune.text + "\n")  # saved again over itself, a full disk must not cut it short
    midi, wav = stem.with_suffix(".mid"), stem.with_suffix(".wav")
    render(tune.text, wav_path=wav, midi_path=midi)
    return [abc, midi, wav]
