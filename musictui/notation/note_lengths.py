"""Note lengths for the ABC tracker: notes, rests, chords, tuplets, broken rhythm.

`NoteLengths` is the part of `durations.AbcTracker` that turns a note's
characters into ticks, the way abc2midi counts them: a chord lasts as long
as its first note, a tuplet `(p:q:r` puts q notes' time into p, `>` takes
half of the next note's length (`>>` three quarters) and gives it to the
last one. A length that is not a whole number of ticks sets `lost`.
"""

TICKS = 6720  # ticks per unit note length: 2**6 * 3 * 5 * 7
NOTE_LETTERS = frozenset("ABCDEFGabcdefgzx")
# lexical states of the tracker's body (attribute `lex`)
BETWEEN, NOTE, ACC, BAR, PAREN, TUPLET, QUOTE, BANG, GRACE = range(9)
FIELD, INLINE, LBRACK, CHORD, ENDING, LETTER = range(9, 15)
# ABC's default q for a tuplet (p: q notes in the time of p); 0 = meter-dependent
TUPLET_Q = {2: 3, 3: 2, 4: 3, 5: 0, 6: 2, 7: 0, 8: 3, 9: 0}


class NoteLengths:
    """Mixin: the tracker's note states (see AbcTracker for the attributes)."""

    def _begin_note(self, base: int = TICKS) -> None:
        """Count a note, rest or chord of `base` ticks (before tuplet/broken)."""
        if self.tup_left:
            base = base * self.tup_num
            if base % self.tup_den:
                self.lost = True
            base //= self.tup_den
            self.tup_left -= 1
        bn, bd = self.broken_next
        if bn != 1 or bd != 1:
            base = base * bn // bd
            self.broken_next = (1, 1)
            self.broken_count = 0
        else:
            self.broken_count = 0
        self.lex = NOTE
        self.base = base
        self.start = self.fill
        self.num_s = 0
        self.den = 1
        self.den_s = 0
        self.stage = 0
        self.octave_ok = True
        self.fill += base
        self.seg += base

    def _note_char(self, ch: str) -> bool:
        """A character after a note letter; True if it belongs to the note."""
        stage = self.stage
        if ch.isdigit():
            if stage <= 1:
                self.num_s = self.num_s * 10 + int(ch)
                self.stage = 1
            elif stage >= 2:
                self.den_s = (self.den_s * 10 + int(ch)) if stage == 3 else int(ch)
                self.stage = 3
        elif ch == "/":
            if stage == 3:
                return False             # `A/2/` is not ABC; let it end the note
            self.den = 2 if stage < 2 else self.den * 2
            self.stage = 2
        elif (ch == "'" or ch == ",") and stage == 0 and self.octave_ok:
            return True
        else:
            return False
        self._remeasure()
        return True

    def _remeasure(self) -> None:
        num = self.num_s or 1
        den = self.den_s if self.stage == 3 else self.den
        if den == 0:
            den = 1
        ticks = self.base * num
        if ticks % den:
            self.lost = True
        dur = ticks // den
        old = self.fill
        self.fill = self.start + dur
        self.seg += self.fill - old

    def _end_note(self) -> None:
        self.lex = BETWEEN
        self.last_dur = self.fill - self.start

    def _broken(self, ch: str) -> None:
        """`>`: the last note gains half its length, the next loses half."""
        self.broken_count += 1
        k = 2 ** self.broken_count
        d = self.last_dur
        if (d * 2) % k:
            self.lost = True
        delta = d // k if ch == ">" else -(d // k)
        self.fill += delta
        self.seg += delta
        # the next note's factor: 1/k for `>`, 2 - 1/k for `<`
        self.broken_next = (1, k) if ch == ">" else (2 * k - 1, k)

    def _set_tuplet(self) -> None:
        parts = "".join(self.tup_parts).split(":")
        p = int(parts[0]) if parts[0] else 3
        q = int(parts[1]) if len(parts) > 1 and parts[1] else TUPLET_Q.get(p, 2)
        if q == 0:  # compound meters put odd tuplets in the time of 3
            compound = self.meter is not None and self.meter.numerator % 3 == 0 and self.meter.numerator > 3
            q = 3 if compound else 2
        r = int(parts[2]) if len(parts) > 2 and parts[2] else p
        self.tup_num, self.tup_den, self.tup_left = q, p, r

    def _chord_char(self, ch: str) -> bool:
        """Inside `[...]`: measure the first note; the chord lasts that long
        (abc2midi plays every note of a chord as long as the first)."""
        cn = self.chord_note
        if ch == "]":
            first = self._chord_len() if self.chord_first is None else self.chord_first
            self._begin_note(first or TICKS)
            self.octave_ok = False
            return True
        if ch in NOTE_LETTERS:
            if self.chord_first is None and cn is not None:
                self.chord_first = self._chord_len()
            self.chord_note = [0, 1, 0, 0]     # num, den, den digits, stage
            return True
        if cn is not None and self.chord_first is None:
            if ch.isdigit():
                if cn[3] <= 1:
                    cn[0], cn[3] = cn[0] * 10 + int(ch), 1
                else:
                    cn[2] = cn[2] * 10 + int(ch) if cn[3] == 3 else int(ch)
                    cn[3] = 3
            elif ch == "/":
                cn[1] = 2 if cn[3] < 2 else cn[1] * 2
                cn[3] = 2
        return True

    def _chord_len(self) -> int:
        cn = self.chord_note
        if cn is None:
            return 0
        den = (cn[2] if cn[3] == 3 else cn[1]) or 1
        if TICKS * (cn[0] or 1) % den:
            self.lost = True
        return TICKS * (cn[0] or 1) // den
