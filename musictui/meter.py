"""The meter constraint: which next characters would make a bar the wrong length.

The sampler asks `allowed_mask()` before each character and tells `feed(ch)`
what it chose. The rules are abc2midi's, so that what we allow is what
abc2midi accepts (see abc_durations):
  * `|` only when the bar is full (or empty, or it closes the tune's pickup);
  * `:|` only when this short bar and the section's first bar make one bar
    (the pickup played again on the repeat), or when both are full;
  * `|]` when either of those holds;
  * once the bar is full, no more notes: a bar line, a space, a tie, ... ;
  * a length modifier only if some way of finishing it (more digits, `/`s,
    at most MAX_DEN as denominator) still fits in the bar.
Everything else (header, quotes, grace notes, lengths we cannot count, no
meter) gets None: no restriction. Masks are built once per distinct set of
allowed characters, so a step costs a few integer comparisons and a dict
lookup.
"""

import logging

import torch

from musictui import abc_durations as ad

log = logging.getLogger(__name__)

MAX_DEN = 8  # the finest length we steer towards: a note's 1/8 (e.g. `A/8`, `A///`)


class MeterConstraint:
    """Streaming mask of the characters the tune's meter still allows."""

    def __init__(self, vocab: list[str]):
        self.vocab = list(vocab)
        self.tracker = ad.AbcTracker()
        self._masks: dict[int, torch.Tensor] = {}

        def bits(chars) -> int:
            return sum(1 << i for i, c in enumerate(self.vocab) if c in chars)

        self.NOTE = bits("ABCDEFGabcdefgzx^_=")
        self.LETTER = bits("ABCDEFGabcdefgzx")
        self.ACC = bits("^_=")
        self.PRE = bits("({~.")            # these only lead to a note
        self.DIGIT = [bits(str(d)) for d in range(10)]
        self.DIGITS19 = bits("123456789")
        self.DIGITS29 = bits("23456789")
        self.ENDINGS = bits("12")
        self.SLASH = bits("/")
        self.OCTAVE = bits("',")
        self.GT, self.LT = bits(">"), bits("<")
        self.PIPE, self.COLON = bits("|"), bits(":")
        self.LBRACK, self.RBRACK = bits("["), bits("]")
        self.TIE = bits("-")                # only straight after a note
        special = self.NOTE | self.PRE | bits("0123456789/',><|:[]-")
        # spaces, line breaks, ties, slur ends, quotes, decorations: always fine
        self.OTHER = ((1 << len(self.vocab)) - 1) & ~special

    def reset(self) -> None:
        self.tracker.reset()

    def feed(self, ch: str) -> None:
        self.tracker.feed(ch)

    def allowed_mask(self) -> "torch.Tensor | None":
        bits = self._allowed_bits()
        if bits is None:
            return None
        if bits == 0:
            # nothing the meter allows is in the vocabulary: let the model choose
            log.debug("meter constraint: no allowed character at line %d col %d",
                      self.tracker.line, self.tracker.col)
            return None
        mask = self._masks.get(bits)
        if mask is None:
            mask = torch.tensor([bool(bits >> i & 1) for i in range(len(self.vocab))])
            self._masks[bits] = mask
        return mask

    # -------------------------------------------------------------- the rules
    def _allowed_bits(self) -> int | None:
        t = self.tracker
        if t.mode != ad.BODY or t.bar is None or t.lost:
            return None
        lex = t.lex
        if lex == ad.NOTE:
            return self._note()   # may be overlong for now: `A3` can become `A3/4`
        if t.fill > t.bar:
            return None   # already overlong (a fallback or the prompt): nothing to save
        if lex == ad.BETWEEN:
            return self._between(t.fill, t.after_bar)
        if lex == ad.BAR:
            return self._bar()
        if lex == ad.ACC:
            return self.LETTER | self.ACC
        if lex == ad.TUPLET:
            return self.NOTE      # we steer `(3` straight to its notes
        if lex == ad.ENDING:
            return self._between(t.fill, False)
        if lex == ad.LBRACK:
            # a chord if a note still fits, or an ending number
            return (self.NOTE if t.fill < t.bar else 0) | self.ENDINGS
        if lex == ad.PAREN:
            # `(3` starts a tuplet only if a note can still come
            return self._between(t.fill, False) | (self.DIGITS29 if t.fill < t.bar else 0)
        return None

    def _repeat_ok(self, fill: int) -> bool:
        """May a `:|` close the bar now? (The section's first bar is replayed.)"""
        t = self.tracker
        first = t.sec_first
        if fill == t.bar:
            return first is None or first == t.bar
        return first is not None and fill + first == t.bar

    def _between(self, fill: int, after_bar: bool) -> int:
        t = self.tracker
        bar = t.bar
        bits = self.OTHER
        if bar - fill >= ad.TICKS // MAX_DEN:   # room for at least the shortest note
            bits |= self.NOTE | self.PRE | self.LBRACK
        if after_bar:
            bits |= self.ENDINGS | self.LBRACK    # endings: `|1`, `[2`
        repeat = self._repeat_ok(fill)
        if fill == bar or fill == 0 or repeat or (t.first_bar and fill > 0) \
                or fill + t.tune_pickup == bar:      # the last `|` of `|]`
            bits |= self.PIPE
        if repeat:
            bits |= self.COLON
        return bits

    def _bar(self) -> int | None:
        """After `|` or `:`, which next character still makes a right bar."""
        t = self.tracker
        fill, bar = t.fill, t.bar
        text = t.bar_text
        if text == ":":
            return self.PIPE if self._repeat_ok(fill) else 0
        if text != "|":
            return None
        bits = 0
        if fill == bar or fill == 0:
            bits |= self.PIPE | self.COLON        # `||`, `|:`
        if fill == bar or self._repeat_ok(fill) or fill + t.tune_pickup == bar:
            bits |= self.RBRACK                   # `|]`: the opening pickup may complete it
        if fill == bar or fill == 0 or (t.first_bar and fill > 0):
            # a single bar line: a fresh bar follows
            bits |= self._between(0, True)
        return bits

    def _note(self) -> int:
        """After a note letter, octave mark or part of its length."""
        t = self.tracker
        bar, fill = t.bar, t.fill
        base, stage = t.base, t.stage
        num = t.num_s or 1
        room = bar - t.start          # ticks left for this note
        bits = 0
        if stage == 0 and t.octave_ok:
            bits |= self.OCTAVE
        if stage <= 1:
            # another numerator digit: fits if it can still be divided by MAX_DEN
            for d in range(10):
                n = t.num_s * 10 + d
                if 0 < n < 100 and base * n <= room * MAX_DEN:
                    bits |= self.DIGIT[d]
        if stage <= 2 and (2 if stage < 2 else t.den * 2) <= MAX_DEN \
                and base * num <= room * MAX_DEN:
            bits |= self.SLASH
        if stage == 2 and t.den == 2:
            # the denominator after one slash: `A/4`
            for d in (2, 4, 8):   # abc2midi wants powers of two
                if (base * num) % d == 0 and base * num // d <= room:
                    bits |= self.DIGIT[d]
        if fill <= bar:
            # the note may end here: what may follow it
            bits |= self._between(fill, False)
            dur = fill - t.start
            if fill + dur // 2 < bar:
                bits |= self.GT
            if dur > 0:
                bits |= self.LT | self.TIE
        return bits
