"""The header half of meter-aware sampling: a tune must state its meter before its music.

The meter constraint can only count bars in a tune whose header says what to count (`M:`, `L:`)
and where the music starts (`K:`). Measured on the shipped model, 5 of 100 tunes went wrong before
any bar: a title line, then notes with no `K:` at all, which abc2midi refuses outright. So while a
tune's header is open (from its `X:` line to the end of its `K:` line), every line must start as a
field, `K` only once `M:` and `L:` are written. A field letter comes at most twice (`M:` `L:`
once), and after MAX_HEADER_LINES lines only the missing `M:` `L:` or `K:` (the shipped model
once wrote 60 lines of `A:|!`). The values of `M:`, `L:` and `K:` are spelled from the lists below,
the forms abc2midi and the meter constraint read (the model wrote `M:C||`, `K:3 Dorian`, `M:Athole`);
inside other lines the model is free. Anywhere, an `X:` line must carry a number (abc2midi skips a
tune whose `X:` has none).
"""
from __future__ import annotations

import torch

FIELD_LETTERS = "ABCDEFGHILMNOPQRSTUVWZ"  # ABC 2.1 header fields, K aside (X starts a tune)
NEEDED_BEFORE_KEY = {"M", "L"}
MAX_HEADER_LINES = 6
METERS = ("C", "C|", "2/4", "3/4", "4/4", "6/8", "9/8", "12/8", "3/2")
UNITS = ("1/8", "1/16", "1/4")
MODES = ("", "m", " Major", " Minor", " Dorian", " Mixolydian", " Lydian", " Phrygian", " Aeolian",
         " Locrian", " Ionian")
KEYS = tuple(t + a + m for t in "ABCDEFG" for a in ("", "#", "b") for m in MODES)
VALUES = {"M": METERS, "L": UNITS, "K": KEYS}


class HeaderConstraint:
    """The interface of every constraint: reset(), feed(ch), allowed_mask() -> BoolTensor | None."""

    def __init__(self, vocab: list[str]):
        self.vocab = list(vocab)
        self._digit = self._chars("0123456789")
        self._colon = self._chars(":")
        self._masks: dict[str, torch.Tensor] = {}
        # every prefix of an allowed value -> the characters that may follow it
        self._next: dict[tuple[str, str], set[str]] = {}
        for field, values in VALUES.items():
            for v in values:
                for k in range(len(v)):
                    self._next.setdefault((field, v[:k]), set()).add(v[k])
                self._next.setdefault((field, v), set()).add("\n")
        self.reset()

    def _chars(self, chars) -> torch.Tensor:
        return torch.tensor([c in chars for c in self.vocab])

    def _cached(self, chars: str) -> torch.Tensor:
        mask = self._masks.get(chars)
        if mask is None:
            mask = self._masks[chars] = self._chars(chars)
        return mask

    def reset(self) -> None:
        self.in_header = False
        self.line = ""          # the current line so far
        self.seen: dict[str, int] = {}
        self.lines = 0          # header lines after X:

    def feed(self, ch: str) -> None:
        if ch == "\n":
            if self.line.startswith("X:"):
                self.in_header, self.seen, self.lines = True, {}, 0
            elif self.in_header and self.line.startswith("K:"):
                self.in_header = False  # the music starts
            elif self.in_header and len(self.line) >= 2 and self.line[1] == ":":
                self.seen[self.line[0]] = self.seen.get(self.line[0], 0) + 1
            self.lines += self.in_header
            self.line = ""
        elif len(self.line) < 80:
            self.line += ch

    def allowed_mask(self) -> torch.Tensor | None:
        line = self.line
        if line == "X:" and bool(self._digit.any()):
            return self._digit
        if not self.in_header:
            return None
        if line == "":
            missing = "".join(sorted(NEEDED_BEFORE_KEY - self.seen.keys()))
            if self.lines >= MAX_HEADER_LINES:
                starts = missing or "K"
            else:
                starts = "".join(c for c in FIELD_LETTERS if self.seen.get(c, 0) < (1 if c in "ML" else 2))
                starts += "" if missing else "K"
            return self._cached(starts)
        if len(line) == 1:
            return self._colon
        nexts = self._next.get((line[0], line[2:])) if line[1] == ":" and line[0] in VALUES else None
        if nexts is not None:
            mask = self._cached("".join(sorted(nexts)))
            return mask if bool(mask.any()) else None
        return None
