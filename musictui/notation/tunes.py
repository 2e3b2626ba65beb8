"""Tunes in ABC text: where each starts and ends, counted once, here.

A tune runs from its `X:` line to the blank line that ends it (or to the next `X:` line). Text
before the first tune or between tunes is ignored, `%` comment lines are dropped (`%%`
directives are kept: abc2midi reads them), CRLF/CR line ends and a byte-order mark are read as
plain newlines. Every reader of tunes uses `_scan` (corpus loading, the sampler's stop rule,
`render --tune N`, the app's generate screen), so they cannot disagree about what a tune is.
No torch, no textual: the app imports this in its first frame.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from musictui.errors import UserError

_TITLE = re.compile(r"^T:\s*(.*)$", re.MULTILINE)


def _scan(text: str) -> list[tuple[str, bool]]:
    """Each tune in `text` and whether it was closed (by a blank line or the next `X:` line)."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    tunes: list[tuple[str, bool]] = []
    current: list[str] | None = None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the text's last newline ends a line; it is not a blank line
    for line in lines:
        if line.startswith("X:"):
            if current:
                tunes.append(("\n".join(current), True))
            current = [line.rstrip()]
        elif current is None:
            continue  # text before the first tune, or between tunes
        elif not line.strip():
            tunes.append(("\n".join(current), True))
            current = None
        elif line.startswith("%") and not line.startswith("%%"):
            continue
        else:
            current.append(line.rstrip())
    if current:
        # the text ends inside a tune: no blank line has closed it
        tunes.append(("\n".join(current), False))
    return tunes


def split_tunes(text: str) -> list[str]:
    """Every tune in ABC text, a last one with no blank line after it included (a corpus file)."""
    return [tune for tune, _ in _scan(text)]


def extract_tunes(text: str) -> tuple[list[str], str | None]:
    """The complete tunes in generated text, and the unfinished last one (None if there is none).

    A tune is complete when a blank line (or the next `X:` line) ends it; text that stops mid-tune
    is not a tune. Prose after a finished tune does not unfinish it."""
    scanned = _scan(text)
    if scanned and not scanned[-1][1]:
        return [t for t, _ in scanned[:-1]], scanned[-1][0]
    return [t for t, _ in scanned], None


def first_tune(text: str) -> tuple[str, bool]:
    """The first tune in generated text, and whether it is complete."""
    tunes, tail = extract_tunes(text)
    if tunes:
        return tunes[0], True
    return (tail or text).rstrip("\n"), False


def title(tune: str) -> str:
    """The tune's first `T:` field, or "untitled"."""
    found = _TITLE.search(tune)
    return found[1].strip() if found and found[1].strip() else "untitled"


class TuneCounter:
    """Counts tunes completed in a stream of characters without re-reading the text, by the rule
    of `_scan`: a tune is complete at the blank line (or next `X:` line) after its `X:` line.
    `chars` counts the characters fed since the last tune was completed (the sampler's cap)."""

    def __init__(self):
        self.complete = 0
        self.chars = 0             # since the last tune was completed (or since reset_chars)
        self.fed = 0               # since reset_chars
        self._line_start = True
        self._blank = False        # the current line holds only spaces so far
        self._segment_has_x = False
        self._x_pending = False    # "X" at a line start, waiting for ":"

    def reset_chars(self) -> None:
        """Count from here (the sampler calls it after the prompt)."""
        self.chars = self.fed = 0

    def feed(self, ch: str) -> None:
        self.chars += 1
        self.fed += 1
        if self._x_pending and ch == ":":
            if self._segment_has_x:
                self._done()        # an X: line with no blank line before it starts a new tune
            self._segment_has_x = True
        self._x_pending = self._line_start and ch == "X"
        if ch == "\n":
            if self._blank and self._segment_has_x:
                self._done()
                self._segment_has_x = False
            self._line_start = self._blank = True
        else:
            self._blank = self._blank and ch.isspace()
            self._line_start = False

    def _done(self) -> None:
        self.complete += 1
        self.chars = 0


@dataclass(frozen=True)
class PickedTune:
    text: str
    number: int  # 1-based position in the file
    count: int  # tunes in the file
    # Line of the file the tune starts on (1-based), so that abc2midi's line L inside the tune is
    # line first_line + L - 1 of the file. None when split_tunes tidied the tune (it drops
    # % comments and trailing spaces) and the lines no longer line up.
    first_line: int | None
    title: str


def pick_tune(file_text: str, number: int = 1) -> PickedTune:
    """The `number`-th tune (1-based, by position: X: numbers repeat in the corpus) of an ABC file."""
    tunes = split_tunes(file_text)
    if not tunes:
        raise UserError("no tune found: a tune starts with an X: line and ends at a blank line")
    if not 1 <= number <= len(tunes):
        raise UserError(f"there is no tune {number}: the file holds {len(tunes)} "
                        f"tune{'s' if len(tunes) > 1 else ''} (1 to {len(tunes)})")
    text = tunes[number - 1]
    start = file_text.find(text)
    return PickedTune(text=text, number=number, count=len(tunes),
                      first_line=file_text.count("\n", 0, start) + 1 if start >= 0 else None,
                      title=title(text))
