"""Streaming ABC duration tracker: meter, unit length and how full the bar is.

`AbcTracker.feed(ch)` reads a text stream (several tunes, one after another)
one character at a time, the way the sampler emits it, and keeps:
  * the header fields that set time (M:, L:), closed by K:;
  * in the body, `fill`: the ticks of music since the last bar line that
    reset the bar, with the note being written counted as it grows
    (`A` counts one unit, `A3` three, `A3/` one and a half).
Durations are integer ticks: TICKS ticks per unit note length (L:), a number
divisible by 2**6, 3, 5 and 7, so that lengths like `/16`, triplets and broken
rhythm stay whole numbers; anything else sets `lost` (no judgement).

Bar lines follow abc2midi, which is what judges our tunes: `|` checks the bar;
`:|` `::` `|:` `||` and `|]` close a bar only when it is full and otherwise
carry the short bar into the next one (that is how a pickup completes the
last bar of a repeated section); `[2` restarts from where `[1` began.

`bar_lengths(tune)` measures every written bar of one complete tune;
notation.replay plays them back as abc2midi does and says which bars it rejects.
"""

from dataclasses import dataclass
from fractions import Fraction

from musictui.notation.note_lengths import (  # noqa: F401 (the lexical states are re-exported)
    ACC, BANG, BAR, BETWEEN, CHORD, ENDING, FIELD, GRACE, INLINE, LBRACK, LETTER, NOTE,
    NOTE_LETTERS, PAREN, QUOTE, TICKS, TUPLET, NoteLengths)

# modes (attribute `mode`)
OUTSIDE, HEADER, BODY = range(3)


def parse_meter(value: str) -> Fraction | None:
    """The bar length in whole notes of an M: value; None for `none` or junk."""
    value = value.strip().split(" ")[0] if value.strip() else ""
    if value in ("C", ""):  # abc2midi's default when M: is absent is 4/4 too
        return Fraction(1)
    if value == "C|":
        return Fraction(1)
    num, _, den = value.partition("/")
    try:
        # "2+3/8" style additive meters are summed
        return Fraction(sum(int(n) for n in num.split("+")), int(den))
    except (ValueError, ZeroDivisionError):
        return None


def parse_unit(value: str) -> Fraction | None:
    """The unit length of an L: value; None (ABC's default) for junk or 0."""
    num, _, den = value.strip().split(" ")[0].partition("/")
    try:
        unit = Fraction(int(num), int(den or 1))
    except (ValueError, ZeroDivisionError):
        return None
    return unit if unit > 0 else None


@dataclass
class BarLine:
    """One bar line as written: where it is and the music before it."""
    kind: str        # the bar line as written: "|", ":|", "|]", "[1" (ending) ...
    line: int        # 0-based line within the fed text
    col: int         # 0-based column of its first character
    seg: int | None  # ticks of music since the previous BarLine (None: lost)
    bar: int | None  # the bar length in ticks at this point (None: no meter)


class AbcTracker(NoteLengths):
    """Character-by-character ABC reader; see the module docstring."""

    def __init__(self, keep_events: bool = False):
        self.keep_events = keep_events
        self.reset()

    def reset(self) -> None:
        self.mode = OUTSIDE
        self.lex = BETWEEN
        self.line = 0
        self.col = -1
        self.line_start = True
        self.buf = []            # the field line being read (header or body)
        self.events: list[BarLine] = []
        self._new_tune()

    def _new_tune(self) -> None:
        self.meter = Fraction(1)
        self.unit = None
        self.bar = None          # bar length in ticks; None = no checking
        self.fill = 0            # ticks in the current bar (carry included)
        self.seg = 0             # ticks since the last recorded bar line
        self.lost = False        # a duration we cannot represent: no verdicts
        self.first_bar = True    # no non-empty bar closed yet (abc2midi exempts it)
        self.ending_fill = 0     # fill where ending [1 began
        self.after_bar = False   # just after a bar line: digits are endings
        self.tup_left = 0        # notes left in the tuplet
        self.tup_num = self.tup_den = 1
        self.broken_next = (1, 1)  # factor for the note after > or <
        self.last_dur = 0        # ticks of the last note/rest/chord
        self.broken_count = 0
        self._note_reset()

    def _note_reset(self) -> None:
        self.base = 0            # ticks of the note before its length modifier
        self.start = 0           # fill before the note
        self.num_s = 0           # numerator digits read (0 = none)
        self.den = 1
        self.den_s = 0           # denominator digits read after a slash
        self.stage = 0           # 0 bare, 1 numerator, 2 slashes, 3 denominator
        self.octave_ok = True    # octave marks may follow (not after a chord)

    # ---------------------------------------------------------------- header
    def _field(self, text: str) -> None:
        key, _, value = text.partition(":")
        key = key.strip()
        if key == "X":
            self._new_tune()
            self.mode = HEADER
        elif key == "M":
            self.meter = parse_meter(value)
            if self.mode == BODY:
                self._set_bar()
        elif key == "L":
            self.unit = parse_unit(value)
            if self.mode == BODY:
                self._set_bar()
        elif key == "K" and self.mode == HEADER:
            self.mode = BODY
            self._set_bar()

    def _set_bar(self) -> None:
        if self.unit is None:  # ABC's default unit length
            m = self.meter if self.meter is not None else Fraction(1)
            self.unit = Fraction(1, 16) if m < Fraction(3, 4) else Fraction(1, 8)
        if self.meter is None:
            self.bar = None
        else:
            b = self.meter / self.unit * TICKS
            self.bar = int(b) if b.denominator == 1 else None

    # ------------------------------------------------------------------ feed
    def feed(self, ch: str) -> None:
        if ch == "\n":
            self._newline()
            return
        self.col += 1
        if self.mode != BODY:
            if self.line_start and self.mode == OUTSIDE and ch != "X":
                self.mode = -1   # a line of prose between tunes: skip it
            self.buf.append(ch)
            self.line_start = False
            return
        at_start = self.line_start
        self.line_start = False
        lex = self.lex
        if lex == NOTE:
            if self._note_char(ch):
                return
            self._end_note()
        elif lex == BAR:
            if self._bar_char(ch):
                return
        elif lex != BETWEEN:
            if self._other_char(ch):
                return
        self._start(ch, at_start)

    def _newline(self) -> None:
        if self.mode != BODY:
            if self.line_start and self.mode == HEADER:
                self.mode = OUTSIDE   # blank line: the tune had no body
            elif self.buf and self.buf[0] != "%" and len(self.buf) > 1 and self.buf[1] == ":":
                self._field("".join(self.buf))
            if self.mode == -1:
                self.mode = OUTSIDE
        else:
            if self.line_start:       # blank line: the tune is over
                self.mode = OUTSIDE
                self.lex = BETWEEN
            else:
                if self.lex == NOTE:
                    self._end_note()
                elif self.lex == BAR:
                    self._bar_char(" ")
                elif self.lex == FIELD:
                    self._field("".join(self.buf))
                    self.lex = BETWEEN
                elif self.lex in (BANG, LETTER, ENDING, PAREN, TUPLET):
                    self.lex = BETWEEN   # `!` at line end is the corpus's line break
        self.buf = []
        self.line += 1
        self.col = -1
        self.line_start = True

    def _start(self, ch: str, at_start: bool) -> None:
        """Begin a new token at `ch` (state BETWEEN)."""
        self.lex = BETWEEN
        if ch in NOTE_LETTERS:
            self._begin_note()
        elif ch == "|" or ch == ":":
            self.lex = BAR
            self.bar_text = ch
            self.bar_col = self.col
        elif ch in "^_=":
            self.lex = ACC
        elif ch == " " or ch == "\t":
            return                       # spaces keep after_bar (`|: [1`)
        elif ch.isdigit() and self.after_bar:
            self.lex = ENDING
            self._ending(int(ch))
            return
        elif ch == "[":
            self.lex = LBRACK
            self.bar_col = self.col
            return
        elif ch == "(":
            self.lex = PAREN
        elif ch == '"':
            self.lex = QUOTE
        elif ch == "!":
            self.lex = BANG
        elif ch == "{":
            self.lex = GRACE
        elif ch == ">" or ch == "<":
            self._broken(ch)
        elif at_start and ch.isalpha():
            self.lex = LETTER            # maybe a field line such as `M:3/4`
            self.buf = [ch]
        self.after_bar = False

    def _other_char(self, ch: str) -> bool:
        """Feed `ch` in the minor states; True when it was consumed."""
        lex = self.lex
        if lex == ACC:
            if ch in "^_=":
                return True
            self.lex = BETWEEN
            return False
        if lex == QUOTE:
            if ch == '"':
                self.lex = BETWEEN
            return True
        if lex == BANG:
            if ch == "!":
                self.lex = BETWEEN
            return True
        if lex == GRACE:
            if ch == "}":
                self.lex = BETWEEN
            return True
        if lex == FIELD:
            self.buf.append(ch)
            return True
        if lex == INLINE:
            if ch == "]":
                self._field("".join(self.buf))
                self.lex = BETWEEN
            else:
                self.buf.append(ch)
            return True
        if lex == LETTER:
            if ch == ":":
                self.lex = FIELD
                self.buf.append(ch)
                return True
            self.lex = BETWEEN           # it was a decoration such as `T` or `H`
            return False
        if lex == PAREN:
            if ch.isdigit() and ch != "0" and ch != "1":
                self.lex = TUPLET
                self.tup_p = int(ch)
                self.tup_parts = [ch]
                return True
            self.lex = BETWEEN           # a slur
            return False
        if lex == TUPLET:
            if ch.isdigit() or ch == ":":
                self.tup_parts.append(ch)
                return True
            self._set_tuplet()
            self.lex = BETWEEN
            return False
        if lex == ENDING:
            if ch.isdigit() or ch in ",-":
                return True
            self.lex = BETWEEN
            return False
        if lex == LBRACK:
            if ch.isdigit():
                self.lex = ENDING
                self._ending(int(ch))
                return True
            if ch == "|":
                self.lex = BAR
                self.bar_text = "[|"
                return True
            if ch.isalpha() and ch not in NOTE_LETTERS:
                self.lex = INLINE
                self.buf = [ch]
                return True
            self.lex = CHORD
            self.chord_first = None
            self.chord_note = None
            self.after_bar = False
            return self._chord_char(ch)
        if lex == CHORD:
            return self._chord_char(ch)
        return False

    # ------------------------------------------------------------- bar lines
    def _bar_char(self, ch: str) -> bool:
        """After `|`, `:` or `[|`: extend the bar line or close it."""
        text = self.bar_text
        if text == "|" and ch in "|]:":
            self._close_bar(text + ch)
            return True
        if text == ":" and ch in "|:":
            self._close_bar(text + ch)
            return True
        self._close_bar(text)
        return False

    def _close_bar(self, text: str) -> None:
        self.lex = BETWEEN
        self.after_bar = True
        bar = self.bar
        if self.keep_events:
            self.events.append(BarLine(text, self.line, self.bar_col,
                                       None if self.lost else self.seg, bar))
        self.seg = 0
        fill = self.fill
        if text == "|" or bar is None:
            if fill > 0:
                self.first_bar = False
            self.fill = 0
            return
        # soft bar lines (`:|` `::` `|:` `||` `|]` `[|`) reset only a full bar
        if fill >= bar or (self.first_bar and fill > 0):
            self.first_bar = self.first_bar and fill == 0
            self.fill = 0

    def _ending(self, n: int) -> None:
        """`[1`/`|1` remember the fill; `[2` restarts from it (abc2midi's pass 2)."""
        self.after_bar = False
        if self.keep_events:
            self.events.append(BarLine("[%d" % n, self.line, self.col, None if self.lost else self.seg, self.bar))
        self.seg = 0
        if n == 1:
            self.ending_fill = self.fill
        else:
            self.fill = self.ending_fill


def bar_lengths(tune: str) -> list[BarLine]:
    """Every bar line of one complete tune with the music written before it.

    `seg` is in ticks (TICKS per unit length); `Fraction(seg, TICKS) * unit`
    is the length in whole notes."""
    t = AbcTracker(keep_events=True)
    for ch in tune:
        t.feed(ch)
    t.feed("\n")
    return t.events
