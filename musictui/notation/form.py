"""A tune's form: the plan the sampler follows, and the figures `evaluate` reports.

The figures, one definition here for the code and the README:
  * a *part* is the music between part boundaries: the tune's start, `|:` `:|` `::` `||` `|]`
    `[|`, and the tune's end. A second ending (`[2` ... up to the next boundary) belongs to the
    part before it, not a part of its own. A part with no bars is not a part.
  * its *bars* are the bars written in it (closed by any bar line, repeats not played twice,
    the second ending not counted), less one if its first bar is short: a pickup is not a bar.
    The short last bar that completes it is one. Music after the tune's last bar line is not a bar.
  * `parts_ok`: the tune has at least one part and every part has 4, 8 or 16 bars.
  * `ends_on_tonic`: the last note letter of the body (rests, chords' inner notes, quoted text,
    decorations and grace notes aside) is the letter of the last `K:` field, whatever the mode
    (`K:D Dorian` and `K:Dmix` -> D, `K:Ador` -> A).
  * `bars`: the bars of all parts together; `parts`: the number of parts.
No torch: the app's settings read FormPlan cheaply.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from musictui.errors import UserError

PART_BOUNDARIES = frozenset(("|:", ":|", "::", "||", "|]", "[|"))
PART_BARS_OK = (4, 8, 16)
# the dance types irish.abc names in its `Z: id:dc-TYPE-N` lines, and each one's usual meter
TUNE_TYPES = {"reel": "4/4", "jig": "6/8", "hornpipe": "4/4", "polka": "2/4", "slide": "12/8",
              "slipjig": "9/8", "waltz": "3/4", "setdance": "4/4", "ocarolan": "3/4"}


@dataclass(frozen=True)
class FormPlan:
    """The tune's plan: `parts` parts of `bars_per_part` bars each."""
    parts: int = 2
    bars_per_part: int = 8

    def check(self) -> None:
        if not 1 <= self.parts <= 16:
            raise UserError(f"--parts must be 1 to 16 (got {self.parts})")
        if not 1 <= self.bars_per_part <= 64:
            raise UserError(f"--bars-per-part must be 1 to 64 (got {self.bars_per_part})")


def key_tonic(value: str) -> str | None:
    """The tonic letter (upper case) of a K: value, mode-aware by construction: the mode names
    the scale on that letter (`D Dorian`, `Ador`, `F#m`). None for `none`, `HP` or junk."""
    value = value.strip()
    return value[0].upper() if value and value[0] in "ABCDEFGabcdefg" else None


@dataclass(frozen=True)
class Form:
    part_bars: tuple[int, ...]   # bars of each part
    ends_on_tonic: bool

    @property
    def parts(self) -> int:
        return len(self.part_bars)

    @property
    def bars(self) -> int:
        return sum(self.part_bars)

    @property
    def parts_ok(self) -> bool:
        return bool(self.part_bars) and all(b in PART_BARS_OK for b in self.part_bars)


_NOT_NOTES = re.compile(r'"[^"]*"|![^!\n]*!|\{[^}]*\}|\[[A-Za-z]:[^\]]*\]')
_CHORD = re.compile(r"\[([^\]|0-9]*)\]")


def form_of(tune: str) -> Form:
    """The form figures of one complete tune (see the module docstring)."""
    from musictui.notation.durations import bar_lengths

    parts: list[int] = []
    segs: list[tuple[int, int]] = []   # (ticks, bar) of each bar of the current part
    in_second = False

    def close() -> None:
        written = [s for s in segs if s[0] > 0]
        bars = len(written) - (1 if written and written[0][1] and written[0][0] < written[0][1] else 0)
        if bars > 0:
            parts.append(bars)
        segs.clear()

    for e in bar_lengths(tune):
        kind = e.kind
        if kind.startswith("[") and kind[1:].isdigit():
            if kind != "[1":
                if segs:
                    close()  # the first ending's part is over; the second belongs to it
                in_second = True
            continue
        if not in_second:
            segs.append((e.seg or 0, e.bar or 0))
        if kind in PART_BOUNDARIES:
            if in_second:
                in_second = False
            else:
                close()
    close()
    return Form(tuple(parts), _ends_on_tonic(tune))


def _ends_on_tonic(tune: str) -> bool:
    tonic, body = None, []
    for line in tune.split("\n"):
        if len(line) > 1 and line[1] == ":" and line[0].isalpha():
            if line[0] == "K":
                tonic = key_tonic(line[2:])
            continue
        if tonic is not None and not line.startswith("%"):
            body.append(line)
    text = _NOT_NOTES.sub(" ", "\n".join(body))
    text = _CHORD.sub(lambda m: (re.findall(r"[A-Ga-g]", m[1]) or [""])[0], text)
    letters = re.findall(r"[A-Ga-g]", text)
    return tonic is not None and bool(letters) and letters[-1].upper() == tonic
