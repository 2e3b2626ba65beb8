"""The meter constraint: which next characters keep every bar the right length.

The sampler asks `allowed_mask()` before each character and tells `feed(ch)` what it chose.
In a tune's body (after K:, with a meter we can count) the constraint allows only a small
grammar of ABC, the one the corpus is written in, whose durations abc2midi counts as we do:
  * notes `^A,` `c'` and rests `z` `x`, one accidental, at most two octave marks the right
    way round, lengths from LENGTHS; broken rhythm `A>B` `A<B` between two notes of the same
    written length (abc2midi refuses it otherwise), not inside or right after a tuplet;
  * triplets `(3` of three notes of one length; ties `A2-A` to the same pitch;
  * bar lines `|` `|]` `:|`, endings `[1` ... `:|[2` ... `|]`, `!` before a line break,
    spaces, and `K:` lines between bars. No chords, slurs, grace notes, quotes or decorations.
Every bar line is checked by notation.replay.Replay, abc2midi's own rule played through
repeats and endings; notes may never overflow the bar, and every length is a multiple of a
quarter unit, so an unfinished bar can always be finished. Header, field lines and anything
we cannot count get None. Masks are built once per distinct set of allowed characters.
"""

import logging
from fractions import Fraction

import torch

from musictui.notation import durations as ad
from musictui.notation.replay import Replay

log = logging.getLogger(__name__)

TICKS = ad.TICKS
GRID = TICKS // 4  # every note is a whole number of quarter units
# the written lengths we steer towards, as (text, multiple of a unit)
LENGTHS = {s: Fraction(s.partition("/")[0] or 1) / (Fraction(int(s.partition("/")[2] or 2))
                                                    if "/" in s else 1)
           for s in ["", "2", "3", "4", "5", "6", "7", "8", "9", "10", "12", "16",
                     "/", "/2", "/4", "3/2", "3/4"]}
LENGTHS["//"] = Fraction(1, 4)
SHORT = ("", "/", "2")  # lengths a triplet or a broken pair may use
LENGTH_TICKS = {s: int(v * TICKS) for s, v in LENGTHS.items()}


def _next_chars(choices) -> dict[str, list[tuple[str, int]]]:
    """For each prefix of a length in `choices`: the characters that may extend
    it, each with the ticks of the shortest length it can still become."""
    out: dict[str, list[tuple[str, int]]] = {}
    for s in choices:
        for i in range(len(s)):
            out.setdefault(s[:i], [])
    for p, nexts in out.items():
        for c in "0123456789/":
            fits = [LENGTH_TICKS[s] for s in choices if s.startswith(p + c)]
            if fits:
                nexts.append((c, min(fits)))
    return out


NEXT_ANY, NEXT_SHORT = _next_chars(LENGTHS), _next_chars(SHORT)
PITCHES = frozenset("ABCDEFGabcdefg")
NOTE_CLASS = PITCHES | frozenset("zx")  # what a note or rest starts with
NOTE_START = NOTE_CLASS | frozenset("^_=")


class MeterConstraint:
    """Streaming mask of the characters the tune's meter still allows."""

    def __init__(self, vocab: list[str]):
        self.vocab = list(vocab)
        self.index = {c: i for i, c in enumerate(self.vocab)}
        self.tracker = ad.AbcTracker(keep_events=True)
        self._masks: dict[int, torch.Tensor] = {}
        self._bit_cache: dict = {}
        # states whose next character is fixed
        self.FIXED = {"colon": self._bits("|"), "paren": self._bits("3"), "bang": self._bits("\n"),
                      "fieldkey": self._bits(":"), "lbrack": 0}
        self.reset()

    def _bits(self, chars) -> int:
        """The vocabulary's bit set of `chars` (a string or a frozenset), cached."""
        bits = self._bit_cache.get(chars)
        if bits is None:
            bits = sum(1 << self.index[c] for c in set(chars) if c in self.index)
            self._bit_cache[chars] = bits
        return bits

    def reset(self) -> None:
        self.tracker.reset()
        self._new_tune()

    def _new_tune(self) -> None:
        self.replay = Replay()
        self.used = 0           # tracker events already pushed to the replay
        self.carry = 0          # ticks carried into the bar from the last bar line
        self.state = "between"  # see feed()
        self.after_bar = False  # just after a bar line: endings, `!`, K: may follow
        self.ending = 0         # 1 inside `[1`, 2 inside `[2`, 3: `[2` must come next, 4: the end
        self.pitch = ""         # the note being written: accidental, letter, octave marks
        self.length = ""        # ... and its length as written
        self.last = None        # (pitch, length, may take `>`) of the last finished note
        self.tie = None         # the pitch a tie must land on
        self.need = None        # the length the next note must be written with
        self.triplet = 0        # triplet notes still to come
        self.section_bars = 0   # plain bar lines since the last other one
        self.ending_open = False  # `[1` came in a part no `:|` had closed before
        self.ending_carry = 0   # the carry where `[1` began: `[2` starts from it too
        self.line_start = True
        self.line_note = False  # the note being written starts its line

    # ------------------------------------------------------------ feeding
    def feed(self, ch: str) -> None:
        t = self.tracker
        was_body = t.mode == ad.BODY
        t.feed(ch)
        if t.mode != ad.BODY:
            if was_body or self.used:
                self._new_tune()
            t.events.clear()
            return
        while self.used < len(t.events):   # bar lines the tracker has closed
            self._on_bar(t.events[self.used])
            self.used += 1
        if was_body:
            self._step(ch)

    def _on_bar(self, e: ad.BarLine) -> None:
        """A bar line or ending is complete: what the next bar starts with."""
        if e.seg is None or e.bar is None:
            self.tracker.lost = True
            return
        self.replay.push(e)
        kind, fill = e.kind, self.carry + e.seg
        if kind == "[1":
            self.ending = 1
        elif kind == "[2":
            self.ending, fill = 2, self.ending_carry
        elif kind != "|" and fill < e.bar:
            pass                         # a short bar before a soft bar line carries on
        else:
            fill = 0
        if self.replay.skipping:
            self.carry = fill            # an ending abc2midi skips for now: our own count
        else:
            self.carry = self.replay.fill  # the bar as abc2midi will play it, repeats and all
        if kind == "[1":
            self.ending_carry = self.carry
            self.ending_open = self.replay.open_rep
        if kind == "|":
            self.section_bars += 1
        elif kind[0] != "[":
            self.section_bars = 0
        if kind == "|]" and fill != 0 and not (self.ending == 2 and self.ending_open):
            # a short closing bar: the tune must end here. abc2midi carries it
            # into the next part only after an ending of a part opened by the
            # tune's start (elsewhere it may drop it when it replays a repeat)
            self.ending = 4
        if kind == ":|" and self.ending == 1:
            self.ending = 3
        elif kind == "|]" and self.ending != 4:
            self.ending = 0

    def _step(self, ch: str) -> None:
        """Advance the grammar by `ch` (already fed to the tracker)."""
        st = self.state
        if st == "note":
            if ch in "',":
                self.pitch += ch
                return
            if ch.isdigit() or ch == "/":
                self.length += ch
                return
            self._close_note()
        elif st == "acc":
            self.pitch += ch
            self.state = "note"
            return
        elif st in ("pipe", "colon"):
            self.state = "between"
            self.after_bar, self.last = True, None
            if ch in "]:|":
                return                  # `|]` `:|`: the bar line's second character
        elif st in ("lbrack", "paren", "fieldkey"):
            self.state = {"lbrack": "between", "paren": "between", "fieldkey": "field"}[st]
            if st == "paren":
                self.triplet = 3
            return
        elif st in ("field", "bang"):
            if ch == "\n":
                self.state = "between"
                self.line_start = True
            return
        self._between_char(ch)

    def _close_note(self) -> None:
        """The note is finished: may it take `>` or `-`; what must come next."""
        in_triplet = self.triplet > 0
        if in_triplet:
            self.triplet -= 1
        # only a plain pitched note takes `>` `<` or a tie after it
        plain = not in_triplet and self.need is None and any(c in PITCHES for c in self.pitch)
        self.last = (self.pitch, self.length, plain)
        self.need = self.length if self.triplet else None
        self.tie = None
        self.pitch = self.length = ""
        self.state = "between"

    def _between_char(self, ch: str) -> None:
        at_start = self.line_start
        self.line_start = ch == "\n"
        last, self.last = self.last, None
        if ch in NOTE_CLASS or ch in "^_=":
            self.state = "note" if ch in NOTE_CLASS else "acc"
            self.pitch, self.length, self.line_note = ch, "", at_start
        elif ch == "|" or ch == ":":
            self.state = "pipe" if ch == "|" else "colon"
            return
        elif ch == "[":
            self.state = "lbrack"
            return
        elif ch == "(":
            self.state = "paren"
        elif ch == ">" or ch == "<":
            # with no note before it (a prompt, or a fallback) there is no length to match
            self.need = last[1] if last is not None else None
        elif ch == "-":
            self.tie = last[0] if last is not None else None
        elif at_start and ch.isalpha():
            self.state = "fieldkey"
            return
        elif ch == "!":
            self.state = "bang"
            return
        elif ch in " \n":
            return                      # after_bar survives `|!\n[1`
        self.after_bar = False

    # -------------------------------------------------------------- masks
    def allowed_mask(self) -> "torch.Tensor | None":
        bits = self._allowed()
        if bits is None:
            return None
        if bits == 0:
            # nothing the meter allows is in the vocabulary: let the model choose
            log.debug("meter constraint: nothing allowed at %d:%d", self.tracker.line, self.tracker.col)
            return None
        return self._mask(bits)

    def _mask(self, bits: int) -> torch.Tensor:
        mask = self._masks.get(bits)
        if mask is None:
            mask = torch.tensor([bool(bits >> i & 1) for i in range(len(self.vocab))])
            self._masks[bits] = mask
        return mask

    def _allowed(self) -> int | None:  # the allowed characters as a bit set; None: no opinion
        t, st = self.tracker, self.state
        if t.mode != ad.BODY or t.bar is None or t.lost or st == "field":
            return None
        if self._fill() > t.bar and st != "note":
            return None   # already overlong (a fallback or the prompt): nothing to save
        if st == "between":
            return self._between()
        if st == "note":  # a lone letter starting a line, then `:`, is a field (`A:|` = area)
            lone = self.line_note and len(self.pitch) == 1 and not self.length
            return self._note() & ~self._bits(":") if lone else self._note()
        if st == "acc":
            return self._bits(self.tie[1] if self.tie else PITCHES)
        if st == "pipe":
            return self._pipe()
        if st == "lbrack":
            return self._bits("2" if self.ending == 3 else "1")
        return self.FIXED[st]

    def _fill(self) -> int:  # ticks in the current bar, carry and the note being written included
        return self.carry + self.tracker.seg

    def _between(self) -> int:
        bar, fill = self._bar_end(), self._fill()
        if self.ending == 3:
            # `:|` closed ending 1: `[2` comes next (a line break may come first)
            return self._bits("[") | (self._bits("!\n") if not self.line_start else 0)
        if self.ending == 4:
            return self._bits("!\n")   # after a short `|]`: only the end of the tune
        if self.tie is not None:
            bits = self._bits(self.tie[0]) if fill < bar else 0
            return bits | self._bar_bits(soft=False)
        if self.need is not None or self.triplet:
            return self._bits(NOTE_START)
        bits = 0 if self.line_start else self._bits(" ")
        if fill < bar:   # every length is a multiple of GRID: a note always fits
            bits |= self._bits(NOTE_START)
            if fill + TICKS <= bar:      # a triplet of `/` notes at least
                bits |= self._bits("(")
        if self.last is not None and self.last[2]:
            bits |= self._bits("-")
            if self.last[1] in SHORT and fill + LENGTH_TICKS[self.last[1]] <= bar:
                bits |= self._bits("><")
        bits |= self._bar_bits(soft=True)
        if self.after_bar:
            if not self.line_start:
                bits |= self._bits("!")
            if fill == 0 and self._ending_may_open():
                bits |= self._bits("[")
            if self.line_start:
                bits |= self._bits("K")      # a key change: it changes no length
        if not self.line_start or (self.ending == 0 and self.replay.events):
            bits |= self._bits("\n")   # a line break; a blank line ends the tune (not an empty one)
        return bits

    def _plain_ok(self) -> bool:
        """May a plain `|` close the bar now (full, or the tune's pickup)?"""
        t = self.tracker
        fill = self._fill()
        ok = fill == t.bar or (not self.replay.events and 0 < fill < t.bar)
        return ok and self.replay.bar_ok("|", t.seg, t.bar)

    def _soft_ok(self, kind: str) -> bool:
        """May `|]` or `:|` close the bar now? `|]` any bar (a short one may end the tune: see
        _on_bar); `:|` a short one too (the section's pickup completes it), but only after a
        section of at least one plain bar line."""
        t = self.tracker
        fill = self._fill()
        if fill == 0 or fill > t.bar:
            return False
        if kind == ":|" and not self.section_bars:
            return False
        return self.replay.bar_ok(kind, t.seg, t.bar)

    def _bar_bits(self, soft: bool) -> int:
        """`|` if a bar line that starts with it fits here, `:` for `:|`."""
        if self._fill() == 0 or self.triplet or self.need is not None:
            return 0
        bits = self._bits("|") if self._plain_ok() else 0
        if soft:
            if not bits and self._soft_ok("|]"):
                bits |= self._bits("|")
            if self.ending != 2 and self._soft_ok(":|"):
                bits |= self._bits(":")
        return bits

    def _pipe(self) -> int:
        """After `|`: `]` for `|]`, or what starts the bar after a plain `|`."""
        bar = self.tracker.bar
        if self.tie is not None:
            return self._bits(self.tie[0]) if self._plain_ok() else 0
        bits = self._bits("]") if self._soft_ok("|]") else 0
        if self._plain_ok():
            bits |= self._bits(" !\n" + "ABCDEFGabcdefgzx^_=")
            if bar >= TICKS:
                bits |= self._bits("(")
            if self._ending_may_open():
                bits |= self._bits("[")
        return bits

    def _ending_may_open(self) -> bool:
        """`[1` needs a part still open: the tune's start or `|:`, not a `:|` since (abc2midi:
        "found [1 or like before |:")."""
        return self.ending == 0 and bool(self.replay.events) and self.replay.open_rep

    def _note(self) -> int:
        """After a note letter, octave mark or part of its length."""
        pitch, length = self.pitch, self.length
        if self.tie is not None and pitch != self.tie:
            # a tie lands on the same pitch, written the same way
            return self._bits(self.tie[len(pitch)]) if self.tie.startswith(pitch) else 0
        bits = 0
        if not length and self.tie is None:
            marks = sum(1 for c in pitch if c in "',")
            if marks < 2 and pitch[-1] not in "zx":
                up = pitch[-1] in "abcdefg'"   # lower case goes up, upper case down
                bits |= self._bits("'" if up else ",")
        if self.need is not None:          # the length is given: spell it out
            need = self.need
            if length == need:
                return bits | self._after_note_bits()
            return bits | (self._bits(need[len(length)]) if need.startswith(length) else 0)
        t = self.tracker
        room = self._bar_end() - (self._fill() - (t.fill - t.start)) - self._reserve()  # from the note's start
        if self.triplet:
            choices, nexts, room = SHORT, NEXT_SHORT, room // 2  # three notes of 2/3 each
        else:
            choices, nexts = LENGTHS, NEXT_ANY
        for c, shortest in nexts.get(length, ()):
            if shortest <= room:
                bits |= self._bits(c)
        if length in choices and LENGTH_TICKS[length] <= room:
            bits |= self._after_note_bits()
        return bits

    def _reserve(self) -> int:  # ticks the note must leave free in its bar (the form's hook)
        return 0

    def _bar_end(self) -> int:  # where notes must stop in this bar (the form's hook: a short last bar)
        return self.tracker.bar

    def _after_note_bits(self) -> int:
        """What may follow if the note ends here (computed as if it had)."""
        saved = dict(self.__dict__)
        self._close_note()
        try:
            return self._between()
        finally:
            self.__dict__.update(saved)
