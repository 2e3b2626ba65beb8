"""Header fields a user types (`--meter`, `--key`, `--unit`, or a free prompt's M: K: L: lines),
checked before sampling, so that a bad one is one clear line naming the accepted forms."""
from __future__ import annotations

import re

from musictui.errors import UserError

_METER = re.compile(r"^(C\|?|none|\d+(\+\d+)*/\d+)$")
_UNIT = re.compile(r"^(\d+)/(\d+)$")
_KEY = re.compile(r"^(none|HP|Hp|[A-G][#b]?\s*([A-Za-z]*)?)(\s.*)?$")  # K:c is no key to abc2midi
_MODES = ("", "m", "min", "minor", "maj", "major", "ion", "ionian", "dor", "dorian", "phr", "phrygian",
          "lyd", "lydian", "mix", "mixolydian", "aeo", "aeolian", "loc", "locrian")
METER_FORMS = "a fraction such as 4/4, 6/8 or 2+3/8, or C, C| or none"
UNIT_FORMS = "a fraction such as 1/8 or 1/16 (not 0, and below the line a power of 2)"
KEY_FORMS = "a note A-G with # or b and a mode, such as G, D Major, Ador, F#m, Bb Dorian, or none"


def check_meter(value: str) -> None:
    value = value.strip()
    num, _, den = value.partition("/")
    if not _METER.match(value) or (den and (int(den) == 0 or sum(int(n) for n in num.split("+")) == 0)):
        raise UserError(f"meter {value!r} is not one abc2midi reads: give {METER_FORMS}")


def check_unit(value: str) -> None:
    found = _UNIT.match(value.strip())
    # abc2midi reads note lengths in binary fractions: L:1/3 is "not a power of 2", and every bar wrong.
    if not found or int(found[1]) == 0 or int(found[2]) == 0 or int(found[2]) & (int(found[2]) - 1):
        raise UserError(f"unit length {value.strip()!r} is not one abc2midi reads: give {UNIT_FORMS}")


def check_key(value: str) -> None:
    found = _KEY.match(value.strip())
    mode = (found[2] or "").lower() if found else None
    if not found or (found[1] not in ("none", "HP", "Hp") and mode not in _MODES):
        raise UserError(f"key {value.strip()!r} is not one abc2midi reads: give {KEY_FORMS}")


def check_header_fields(meter: str | None = None, key: str | None = None, unit: str | None = None) -> None:
    """A UserError naming the accepted forms for the first field that is not one of them."""
    if meter is not None:
        check_meter(meter)
    if unit is not None:
        check_unit(unit)
    if key is not None:
        check_key(key)


def check_prompt(prompt: str) -> None:
    """The M:, L: and K: lines of a free prompt, by the same rules (`L:0` divides by zero)."""
    for line in prompt.replace("\r", "\n").split("\n"):
        name, value = line[:2], line[2:].split("%")[0]
        if name == "M:":
            check_meter(value)
        elif name == "L:":
            check_unit(value)
        elif name == "K:" and value.strip():
            check_key(value)
