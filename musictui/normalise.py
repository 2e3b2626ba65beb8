"""Rewrite a tune from another collection in the dialect of irish.abc, the one the model writes.

irish.abc's tunes look alike: `X T M L K` headers (`L:1/8` always, `K:D Major`), no notes or
transcribers' fields, no `%` comments, no chord symbols, grace notes or decorations, and each
body line ending in `!` (its line break). A model trained on tunes written in one way learns the
music, not the typography: so O'Neill's, Ryan's and Aird's tunes are rewritten the same way
before training, and a tune that cannot be (no key, several voices, a key change mid-tune, keys
irish.abc never uses such as the Highland pipes') is dropped with the reason.

`normalise(raw)` does the text; whether abc2midi reads the result and its bars add up is checked
by the caller (`musictui.corpora`), since that costs a process per tune.
"""
from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from fractions import Fraction

# Kept in this order; everything else in the header (N: Z: B: S: H: Q: I: C: O: ...) is dropped.
# R: (tune type) is dropped too: irish.abc has none, and abc2midi plays `R:hornpipe` swung (and
# refuses it under M:C|), so it would change how a tune sounds, not only what it is called.
KEEP_FIELDS = ("X", "T", "M", "L", "K")

MODES = {  # how ABC spells a mode (lower case, any prefix of 3+ letters) -> irish.abc's word
    "": "Major", "maj": "Major", "ion": "Major", "m": "Minor", "min": "Minor", "aeo": "Minor",
    "dor": "Dorian", "mix": "Mixolydian", "phr": "Phrygian", "lyd": "Lydian", "loc": "Locrian",
}
_KEY = re.compile(r"^([A-G])([#b]?)\s*([A-Za-z]*)\s*(.*)$")
_FIELD = re.compile(r"^([A-Za-z]):\s*(.*)$")
# One note or rest: accidentals, letter, octave marks, length. Chords' lengths come after `]`.
_NOTE = re.compile(r"([\^=_]*)([A-Ga-gzx])([,']*)(\d*/*\d*)")
_CHORD = r"\[[\^=_]*[A-Ga-g][\^=_A-Ga-g,'\d/ ]*\]"  # `[CEG]`, not an ending's `[2`
_CHORD_LENGTH = re.compile(f"({_CHORD})" + r"(\d*/*\d*)")
_DECORATION = re.compile(r"![^!\s|]+!|\+[A-Za-z0-9().<>]+\+")
_ANNOTATION = re.compile(r'"[^"]*"')
_GRACE = re.compile(r"\{[^}]*\}")
_INLINE_FIELD = re.compile(r"\[[A-Za-z]:")
# Letters in a body that are neither notes nor rests are one-letter decorations (H L M O P S T
# u v ...) or spacers (y); `~` is a roll and `.` staccato: irish.abc writes none of them.
_NOT_MUSIC = re.compile(r"[HIJKLMNOPQRSTUVWYhijklmnopqrstuvwy~.`]")


class Dropped(Exception):
    """A tune that cannot be written in irish.abc's dialect; the message is the reason (short,
    the same for every tune dropped for it, so that reasons can be counted)."""


@dataclass
class Normalised:
    text: str
    title: str


def normalise(raw: str, number: int | None = None) -> Normalised:
    """`raw` (one tune, as `data.split_tunes` gives it) in irish.abc's dialect, numbered `number`
    (default: its own X:). Raises Dropped with the reason when it cannot be."""
    lines = [_ascii(line) for line in raw.split("\n")]
    header: dict[str, str] = {}
    body_start = None
    for i, line in enumerate(lines):
        match = _FIELD.match(line)
        if match is None:
            if line.startswith("%%") or not line.strip():
                continue  # directives (%%MIDI ...) and blank lines: not in the dialect
            raise Dropped("music before the K: line")
        name, value = match[1], re.sub(r"(?<!\\)%.*$", "", match[2]).strip()  # a comment after the value
        if name == "V":
            raise Dropped("several voices")
        if name in KEEP_FIELDS and name not in header:  # the first T: is the title
            header[name] = value
        if name == "K":
            body_start = i + 1
            break
    if body_start is None:
        raise Dropped("no K: line")
    for name in ("T", "M"):
        if not header.get(name):
            raise Dropped(f"no {name}: line")
    key = spell_key(header["K"])
    meter = header["M"].replace(" ", "")
    unit = _unit_length(header.get("L"), meter)
    body = _clean_body(lines[body_start:])
    if not body:
        raise Dropped("no music")
    body, unit = _rescale_lengths(body, unit)
    title = _title(header["T"])
    out = [f"X:{number if number is not None else header.get('X', '1')}", f"T:{title}"]
    out += [f"M:{meter}", f"L:{unit.numerator}/{unit.denominator}", f"K:{key}"]
    return Normalised(text="\n".join(out + body), title=title)


def _title(title: str) -> str:
    """`ACROBAT'S -- HORNPIPE` -> `Acrobat's`; `The Lads of the Village.` -> `The Lads of the Village`:
    irish.abc's titles are plain names in title case, with no tune type after them."""
    title = re.sub(r"\s+--\s+.*$", "", title).replace("&", "and")
    title = re.sub(r"[^A-Za-z0-9 ',.()/-]", "", title).rstrip(" .")  # irish.abc's titles use no others
    return string.capwords(title) if title.isupper() else title


def spell_key(value: str) -> str:
    """A K: value as irish.abc spells it: `G` -> `G Major`, `Ador` -> `A Dorian`, `F#m` -> `F# Minor`."""
    value = re.sub(r"\s*%.*$", "", value)
    value = re.sub(r"\b\w+=\S*", "", value).strip()  # clef=treble, transpose=...: how to print it
    match = _KEY.match(value)
    if match is None:
        raise Dropped("a key irish.abc does not use (e.g. Highland pipes, none)")
    tonic, accidental, mode, rest = match[1], match[2], match[3].lower(), match[4]
    mode = "m" if mode == "m" else mode[:3]
    if mode not in MODES:
        raise Dropped("a key irish.abc does not use (e.g. Highland pipes, none)")
    if re.search(r"[\^_=][A-Ga-g]", rest):
        raise Dropped("a key with explicit accidentals")
    return f"{tonic}{accidental} {MODES[mode]}"


def _unit_length(value: str | None, meter: str) -> Fraction:
    if value:
        try:
            unit = Fraction(value.replace(" ", ""))
        except (ValueError, ZeroDivisionError):
            raise Dropped("an L: that is not a fraction") from None
        if unit <= 0:
            raise Dropped("an L: that is not a fraction")
        return unit
    # ABC's default: 1/16 when the meter is below 3/4, else 1/8.
    try:
        return Fraction(1, 16) if Fraction(meter) < Fraction(3, 4) else Fraction(1, 8)
    except (ValueError, ZeroDivisionError):
        return Fraction(1, 8)  # C, C|, none


def _clean_body(lines: list[str]) -> list[str]:
    body: list[str] = []
    joined: list[str] = []
    for line in lines:  # a line ending in `\` continues on the next: one line, as irish.abc would
        if joined and joined[-1].rstrip().endswith("\\"):
            joined[-1] = joined[-1].rstrip()[:-1] + " " + line
        else:
            joined.append(line)
    for line in joined:
        line = re.sub(r"(?<!\\)%.*$", "", line).rstrip()  # a comment to the line's end
        if not line:
            continue
        match = _FIELD.match(line)
        if match is not None:
            if match[1] in "WwNZBSHIOCDFGQAPTR":  # words, notes, parts, subtitles: not music
                continue
            raise Dropped("a field (key, meter or length change) in the body")
        if _INLINE_FIELD.search(line):
            raise Dropped("a field (key, meter or length change) in the body")
        for pattern in (_ANNOTATION, _GRACE, _DECORATION):
            line = pattern.sub("", line)
        line = _NOT_MUSIC.sub("", line)
        line = re.sub(r" *((?::*\|+:*)+) *", r"\1", line)  # `| F2 G2 |` -> `|F2 G2|`, as irish.abc spaces bars
        line = re.sub(r" {2,}", " ", line).strip().rstrip("!")
        if line.startswith("|") and not line.startswith(("|:", "||", "|]")) and body and body[-1].endswith("|!"):
            line = line[1:]  # the bar line the last line already ended with
        if line:
            body.append(line + "!")
    return body


def parse_length(text: str) -> Fraction:
    """An ABC note length as a fraction of the unit: "" 1, "3" 3, "/" 1/2, "//" 1/4, "3/2" 3/2."""
    if "/" not in text:
        return Fraction(int(text)) if text else Fraction(1)
    num, _, rest = text.partition("/")
    slashes = 1 + len(rest) - len(rest.lstrip("/"))
    rest = rest.lstrip("/")
    den = int(rest) if rest else 2 ** slashes
    return Fraction(int(num) if num else 1, den)


def write_length(length: Fraction) -> str:
    """A length as irish.abc writes it: 1 "", 3 "3", 1/2 "/", 3/2 "3/", else "n/d"."""
    if length.denominator == 1:
        return "" if length == 1 else str(length.numerator)
    if length.denominator == 2:
        return "/" if length.numerator == 1 else f"{length.numerator}/"
    return f"{'' if length.numerator == 1 else length.numerator}/{length.denominator}"


def _rescale_lengths(body: list[str], unit: Fraction) -> tuple[list[str], Fraction]:
    """The body rewritten for L:1/8 when every note still has a length irish.abc writes (whole
    units or halves); else the body as it was, with its own unit."""
    if unit == Fraction(1, 8):
        return body, unit
    factor = unit / Fraction(1, 8)
    ok = True

    def scaled(text: str) -> str:
        nonlocal ok
        new = parse_length(text) * factor
        if new.denominator > 2:
            ok = False
        return write_length(new)

    def note(m: re.Match) -> str:
        return m[1] + m[2] + m[3] + scaled(m[4])

    def chord(m: re.Match) -> str:
        # Lengths inside a chord are per note, so they scale too; the chord's own length after `]`.
        return _NOTE.sub(note, m[1]) + scaled(m[2])

    out = []
    for line in body:
        # Chords first (their notes are rewritten inside), then the notes outside them.
        parts = re.split(f"({_CHORD}" + r"\d*/*\d*)", line)
        out.append("".join(_CHORD_LENGTH.sub(chord, p) if i % 2 else _NOTE.sub(note, p)
                           for i, p in enumerate(parts)))
    return (out, Fraction(1, 8)) if ok else (body, unit)


def _ascii(line: str) -> str:
    """`é` -> `e`; other characters that have no ASCII form are dropped (irish.abc is ASCII)."""
    return unicodedata.normalize("NFKD", line).encode("ascii", "ignore").decode("ascii")
