"""The form constraint: a tune of the plan's parts and bars, ending on the key's tonic.

A reel or a jig is, almost always, two 8-bar parts, each played twice, ending on the home note.
`FormConstraint` is the meter constraint (every bar the right length) with a plan on top:
  * a plain `|` may close only the first bars of a part; the plan's last bar of each part must be
    closed by the repeat `:|` (every part is played twice, as a reel's; `||`, or `|]` for the
    last part, only where abc2midi would refuse the repeat), and no part may close before it
    (a pickup is not a bar, and the short last bar it completes is one);
  * a part that began with a pickup ends its last bar short by exactly the pickup, so that the
    repeat plays whole bars (`_bar_end`); any other part's last bar is whole;
  * no blank line before the last part is closed, and after it only the blank line that ends
    the tune (a `!` line break first, as the corpus writes it);
  * in the last bar of the tune a note that is not the tonic leaves at least a unit note's room
    (so the tonic is no grace-note afterthought), and the bar
    takes no `>`, tie or triplet, so its last note is the tonic (the letter of `K:`, whatever
    the mode: `K:D Dorian` -> D, `K:Ador` -> A);
  * no endings `[1`/`[2` (so no "[1 before |:"), no key change, no run of spaces.
Where these rules leave nothing (a prompt that broke them already), the meter's own choice
stands, and where that is empty too, the model chooses: the constraint never blocks sampling.
"""
from __future__ import annotations

from musictui.notation import durations as ad
from musictui.notation.form import FormPlan, key_tonic
from musictui.notation.constraints.meter import NOTE_START, PITCHES, MeterConstraint


class FormConstraint(MeterConstraint):
    """MeterConstraint (same interface) that also keeps the tune on a FormPlan."""

    def __init__(self, vocab: list[str], plan: FormPlan | None = None):
        self.plan = plan or FormPlan()
        self.tonic: str | None = None
        self.key_line = ""
        super().__init__(vocab)
        self._no_final = self._bits("><(-")

    def reset(self) -> None:
        self.tonic, self.key_line = None, ""
        super().reset()

    def _new_tune(self) -> None:
        super()._new_tune()
        self.part = 0             # parts closed so far
        self.bars = 0             # bars closed in the current part (a pickup not counted)
        self.written = 0          # bars written in the current part, a pickup too
        self.pickup = 0           # ticks of the part's pickup: its last bar is that much short
        self.done = False         # the last part is closed: only the tune's end may follow
        self.last_pitch = None    # letter of the last note written (None: a rest or none yet)
        self.prev_space = False
        self.free = False         # asking what the meter alone allows (the fallback)

    def feed(self, ch: str) -> None:
        if self.tracker.mode == ad.HEADER:  # remember the key: the tune must end on its tonic
            if ch == "\n":
                if self.key_line.startswith("K:"):
                    self.tonic = key_tonic(self.key_line[2:])
                self.key_line = ""
            else:
                self.key_line += ch
        self.prev_space = ch == " "
        super().feed(ch)

    def _on_bar(self, e: ad.BarLine) -> None:
        if e.seg is not None and e.bar is not None and not e.kind.startswith("["):
            fill = self.carry + e.seg
            if e.kind == "|":
                # counted as form.form_of counts: a part's first bar, written short, is a pickup
                # (at the tune's start, or completing the short bar a `:|` carried over)
                if e.seg > 0 and (self.written or e.seg >= e.bar):
                    self.bars += 1
                elif e.seg > 0:
                    self.pickup = e.seg
                self.written += e.seg > 0
            elif fill > 0:              # a closing bar line: the part is over
                self.part += 1
                self.bars = self.written = self.pickup = 0
                self.done = self.part >= self.plan.parts
        super()._on_bar(e)

    def _close_note(self) -> None:
        letters = [c for c in self.pitch if c in PITCHES]
        self.last_pitch = letters[0].upper() if letters else None
        super()._close_note()

    # ------------------------------------------------------------ the plan
    def _last_bar(self) -> bool:
        """Writing the last bar of the part?"""
        return not self.free and self.bars + 1 >= self.plan.bars_per_part

    def _final_bar(self) -> bool:
        """Writing the tune's last bar, whose last note must be the tonic?"""
        return self.part + 1 >= self.plan.parts and self._last_bar() and self.tonic is not None

    def _plain_ok(self) -> bool:
        if self.free:
            return super()._plain_ok()
        if self.done:
            return False
        counted = self._fill() == self.tracker.bar
        return (not counted or not self._last_bar()) and super()._plain_ok()

    def _soft_ok(self, kind: str) -> bool:
        if self.free:
            return kind != "||" and super()._soft_ok(kind)
        if self.done or self.tie is not None or not self._last_bar() or self._fill() != self._bar_end():
            return False   # a part closes where its last bar is whole (less the pickup: _bar_end)
        if kind == ("||" if self.part + 1 >= self.plan.parts else "|]"):
            return False
        if kind != ":|" and super()._soft_ok(":|"):
            return False   # a reel's part is played twice: `||` or `|]` only where abc2midi refuses `:|`
        if self._final_bar() and self.last_pitch != self.tonic:
            return False
        return super()._soft_ok(kind)

    def _bar_end(self) -> int:
        # a part that began with a pickup ends its last bar short by the pickup, so that the
        # repeat `:|` plays whole bars (abc2midi refuses it otherwise, and only `||` could close)
        bar = self.tracker.bar
        if not self.pickup or not self._last_bar():
            return bar
        end = bar - self.pickup
        if end <= self.carry or not self.replay.bar_ok(":|", end - self.carry, bar):
            return bar
        return end

    def _reserve(self) -> int:
        if not self._final_bar():
            return 0
        letters = [c for c in self.pitch if c in PITCHES]
        return 0 if letters and letters[0].upper() == self.tonic else ad.TICKS

    # ------------------------------------------------------------ masks
    # _between and _pipe, not _allowed: the meter also asks _between what may follow a note
    def _between(self) -> int:
        bits = super()._between()
        if self.free:
            return bits
        if self.done:   # the corpus ends a tune `:|!` and a blank line: `!` is the model's habit
            return self._bits("\n" if self.line_start else "!\n")
        bits &= ~self._bits("[K")
        if self.line_start or self.prev_space:
            bits &= ~self._bits(" \n" if self.line_start else " ")
        if (self._last_bar() and self._fill() >= self._bar_end()) or (
                self._short_last_next() and self._fill() >= self.tracker.bar):
            bits &= ~self._bits("-")    # a tie over the part's last bar line has nowhere to land
        if self._final_bar():
            bits &= ~self._no_final
            if self._bar_end() - self._fill() < 2 * ad.TICKS:
                # other notes leave a unit note's room for the tonic (no `d3/4 d/4` endings);
                # where that is all there is, only the tonic may take it
                bits &= ~self._bits(NOTE_START) | self._tonic_bits()
        return bits

    def _pipe(self) -> int:
        bits = super()._pipe()
        if self.free:
            return bits
        if self._soft_ok("||"):
            bits |= self._bits("|")
        if self._short_last_next():
            # the next bar may be the part's last, short by the pickup, and this bar line is not
            # counted yet: a note starting it must fit the shortest that bar can be (as _between)
            room = self.tracker.bar - (self.pickup or self._fill())
            if room < ad.TICKS:
                bits &= ~self._bits("(")
            if self.part + 1 >= self.plan.parts and self.tonic and room < 2 * ad.TICKS:
                bits &= ~self._bits(NOTE_START) | self._tonic_bits()
        return bits & ~self._bits("[")

    def _short_last_next(self) -> bool:
        return (not self.free and self.bars + 2 >= self.plan.bars_per_part
                and bool(self.pickup or not self.written))

    def _allowed(self) -> int | None:
        bits = super()._allowed()
        if (bits and not self.free and self.state == "acc" and self._final_bar()
                and self._bar_end() - self._fill() < 2 * ad.TICKS):
            return bits & self._tonic_bits()
        return bits

    def _tonic_bits(self) -> int:
        return self._bits(self.tonic + self.tonic.lower()) if self.tonic else 0

    def _bar_bits(self, soft: bool) -> int:
        bits = super()._bar_bits(soft)
        if soft and self._fill() and not self.triplet and self.need is None and self._soft_ok("||"):
            bits |= self._bits("|")
        return bits

    def allowed_mask(self):
        # the rules above may leave nothing (a prompt that broke them): then the meter's choice
        mask = super().allowed_mask()
        if mask is None and self.tracker.mode == ad.BODY and self.state != "field":
            self.free = True
            try:
                bits = self._allowed()
            finally:
                self.free = False
            if bits:
                return self._mask(bits)
        return mask
