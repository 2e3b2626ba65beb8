"""abc2midi's bar check, replayed: which bars of a tune abc2midi rejects.

abc2midi does not check bars as they are written but as they are played:
repeats are played twice, endings are skipped on the pass they do not
belong to, a short bar before a soft bar line (`:|` `|:` `::` `||` `|]`
`[|`) is carried into the next bar, and the tune's first bar is exempt on
the first pass. `Replay` does the same, one bar line (`BarLine` from
durations) at a time, so that the meter constraint can ask "would this
bar line be accepted?" while the tune is still being written, and
`wrong_bars` gives the verdict on a finished tune. Both are one piece of
code, so the constraint and the judge cannot disagree.
"""

from dataclasses import dataclass
from fractions import Fraction

from musictui.notation.durations import TICKS, BarLine, bar_lengths

SOFT_BARS = frozenset(("||", ":|", "|:", "::", "|]", "[|"))


@dataclass
class BarVerdict:
    """A bar abc2midi would warn about: where its closing bar line is and
    how long it is, in unit lengths (`expected` is the meter's bar)."""
    line: int
    col: int
    length: Fraction
    expected: Fraction
    in_repeat: bool  # found while replaying a repeat (abc2midi adds "in repeat")


def _is_ending(kind: str) -> bool:
    return kind[0] == "[" and kind[1:].isdigit()


class Replay:
    """abc2midi's writetrack bar check, fed one bar line at a time.

    `verdicts` holds the rejected bars of everything pushed so far, exactly
    as `wrong_bars` would report them for that text."""

    def __init__(self):
        self.events: list[BarLine] = []
        self.kinds: list[str] = []
        self.open_rep = True      # the tune's start counts as an open `|:`
        self.last_colon = None    # index of the last `:|`
        self._trials: dict = {}   # bar_ok's answers, by what they depend on
        self._restart()

    def _restart(self) -> None:
        self.j = 0                # next event to play
        self.fill = 0             # ticks in the bar being played
        self.barno = 0            # bars played (0: the exempt first bar)
        self.passno, self.maxpass, self.expect = 1, 2, True
        self.saved = (-1, 0)      # where `:|` jumps back to, and its barno
        self.skipping = False     # inside an ending that this pass skips
        self.verdicts: dict[tuple[int, int], BarVerdict] = {}

    def copy(self) -> "Replay":
        new = Replay.__new__(Replay)
        new.__dict__.update(self.__dict__)
        new.events, new.kinds = list(self.events), list(self.kinds)
        new.verdicts = dict(self.verdicts)
        new._trials = {}
        return new

    def push(self, event: BarLine) -> None:
        """Play one more bar line (and whatever repeat it sends us through)."""
        self.events.append(event)
        self.kinds.append(event.kind)
        k = event.kind
        if k in ("|:", "::"):
            self.open_rep = True
        elif k == ":|":
            # abc2midi's parser fix-up: a `:|` with no `|:` since the last
            # `:|` turns that earlier one into `::` ("Assuming repeat"). It
            # changes how the music since then was played: play it again.
            if not self.open_rep and self.last_colon is not None:
                self.kinds[self.last_colon] = "::"
                self._restart()
            self.open_rep, self.last_colon = False, len(self.kinds) - 1
        self._run()

    def bar_ok(self, kind: str, seg: int, bar: int) -> bool:
        """Would a bar line `kind` after `seg` more ticks add no verdict?"""
        fill = self.fill + seg
        if kind in ("|", "|]") and not self.skipping:
            # neither jumps: decide without a copy (a short `|]` carries on)
            if kind == "|]" and fill < bar and self.barno > 0:
                return True
            return fill == bar or fill == 0 or (self.passno != 2 and self.barno == 0)
        key = (len(self.events), kind, seg, bar)
        ok = self._trials.get(key)
        if ok is None:   # the answer only changes when a bar line is pushed
            trial = self.copy()
            trial.push(BarLine(kind, -1, -1, seg, bar))
            ok = self._trials[key] = len(trial.verdicts) == len(self.verdicts)
        return ok

    def _check(self, e: BarLine) -> None:
        if self.fill != e.bar and self.fill != 0 and (self.passno == 2 or self.barno != 0):
            unit = Fraction(1, TICKS)
            self.verdicts.setdefault((e.line, e.col), BarVerdict(
                e.line, e.col, self.fill * unit, e.bar * unit, self.passno == 2))
        if self.fill > 0:
            self.barno += 1
        self.fill = 0

    def _run(self) -> None:
        events, kinds = self.events, self.kinds
        while self.j < len(events):
            e, k = events[self.j], kinds[self.j]
            if self.skipping:
                # an ending this pass does not play: up to and including the
                # next soft bar line or ending, nothing counts
                self.skipping = k not in SOFT_BARS and not _is_ending(k)
                self.j += 1
                continue
            self.fill += e.seg
            if k == "|":
                self._check(e)
            elif k in SOFT_BARS:
                if self.fill >= e.bar or self.barno <= 0:
                    self._check(e)
                if k == "|:" or (k == "::" and (self.passno > 1 or not self.expect)):
                    self.saved, self.expect, self.passno, self.maxpass = (self.j, self.barno), True, 1, 2
                elif k in (":|", "::") and (self.passno < self.maxpass if self.passno > 1 else self.expect):
                    self.j, self.barno = self.saved
                    self.passno += 1
                    self.expect = False
            elif _is_ending(k):
                if int(k[1:]) != (self.passno if self.expect or self.passno > 1 else 1):
                    self.skipping = True
                    self.barno += 1
                elif self.maxpass < 4:
                    self.maxpass = self.passno + 1
            self.j += 1


def wrong_bars(tune: str) -> list[BarVerdict] | None:
    """The bars of a complete tune whose length abc2midi rejects (positions
    are 0-based line and column within `tune`). None when the tune has no
    meter or a length we cannot count."""
    events = bar_lengths(tune)
    if any(e.seg is None or e.bar is None for e in events):
        return None
    replay = Replay()
    for e in events:
        replay.push(e)
    return list(replay.verdicts.values())
