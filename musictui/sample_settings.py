"""What a tune is sampled with: the settings and the header prompt. No torch here, so the app's UI
process reads its settings without importing torch (the sampler runs in a process of its own)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from musictui.errors import UserError
from musictui.limits import SEED_MAX, TEMPERATURE_MAX, TEMPERATURE_MIN
from musictui.notation.fields import check_header_fields, check_prompt
from musictui.notation.form import TUNE_TYPES, FormPlan

DEFAULT_PROMPT = "X:1\n"
HORNPIPE_METERS = ("4/4", "C", "2/4")  # abc2midi: "Hornpipe must be in 2/4 or 4/4 time"


@dataclass
class SampleSettings:
    temperature: float = 1.0        # < 1 plays safe, > 1 takes risks; must be > 0
    top_k: int | None = None        # sample only among the k likeliest characters
    top_p: float | None = None      # ... or among the fewest whose probabilities add up to p (0 < p <= 1)
    seed: int | None = None         # the same checkpoint, settings and seed give the same characters
    max_length: int = 2000          # characters per tune at most (the prompt not counted): a tune
                                    # still open after this many stops the sampling
    tunes: int | None = 1           # stop once this many tunes are complete (None: only max_length)
    meter_aware: bool = True        # mask characters that would make a bar the wrong length (issue 8:
                                    # 96% of tunes with every bar right, against 14% without)
    form: FormPlan | None = field(default_factory=FormPlan)  # with meter_aware, keep the tune on
                                    # this plan of parts and bars, ending on the tonic (issue 11);
                                    # None: free form, the meter alone

    def check(self) -> None:
        """The command line's ranges (musictui.limits), for the app and every other caller too."""
        if not (math.isfinite(self.temperature) and TEMPERATURE_MIN <= self.temperature <= TEMPERATURE_MAX):
            raise UserError(f"temperature must be between {TEMPERATURE_MIN} and {TEMPERATURE_MAX:g} "
                            f"(got {self.temperature})")
        if self.top_p is not None and not (math.isfinite(self.top_p) and 0 < self.top_p <= 1):
            raise UserError(f"top-p must be above 0 and at most 1 (got {self.top_p})")
        if self.seed is not None and not 0 <= self.seed <= SEED_MAX:
            raise UserError(f"the seed must be a whole number from 0 to 2**63-1 (got {self.seed})")
        if self.top_k is not None and self.top_k < 1:
            raise UserError(f"top-k must be at least 1 (got {self.top_k})")
        if self.max_length < 1:
            raise UserError(f"the length must be at least 1 (got {self.max_length})")
        if self.tunes is not None and self.tunes < 1:
            raise UserError(f"--tunes must be at least 1 (got {self.tunes})")
        if self.form is not None:
            self.form.check()


def build_prompt(title: str | None = None, meter: str | None = None, key: str | None = None,
                 unit: str | None = None, prefix: str | None = None, tune_type: str | None = None) -> str:
    """A tune header from the fields given, in the corpus's order (X, T, M, L, K), as folkrnn.org
    offers; or a free ABC `prefix`. With `key` the header is complete and the model starts the
    tune's body; without it, the model writes the remaining fields itself."""
    if prefix and any((title, meter, key, unit, tune_type)):
        raise UserError("give either a free prompt or header fields (title, meter, key), not both")
    if prefix:
        check_prompt(prefix)
        return prefix
    if tune_type is not None:
        if tune_type not in TUNE_TYPES:
            raise UserError(f"unknown tune type {tune_type!r}: use one of {', '.join(TUNE_TYPES)}")
        meter = meter or TUNE_TYPES[tune_type]  # the type's usual meter, unless one is given
        if tune_type == "hornpipe" and meter.strip() not in HORNPIPE_METERS:
            raise UserError(f"abc2midi plays R:hornpipe only in {', '.join(HORNPIPE_METERS)} (it swings the "
                            f"quavers), not {meter.strip()}: give one of those meters, or another --type")
    check_header_fields(meter, key, unit)
    header = "X:1\n"
    for name, value in (("T", title), ("R", tune_type), ("M", meter), ("L", unit), ("K", key)):
        if value:
            if "\n" in value:
                raise UserError(f"the {name}: field must be one line")
            header += f"{name}:{value.strip()}\n"
    return header


def number_prompt(prompt: str, number: int) -> str:
    """The prompt for the `number`th tune: its X: line says X:`number` (one is added in front of a
    free prompt that has none: a tune starts at its X: line)."""
    first, _, rest = prompt.partition("\n")
    if first.startswith("X:"):
        return f"X:{number}\n{rest}"
    return f"X:{number}\n{prompt}"


def check_prompt_for_sampler(prompt: str, settings: SampleSettings) -> None:
    """What the meter-aware sampler cannot go on from, said in one line: it used to write 2,000
    characters of `!` and no tune. (The plain sampler, --no-meter-aware, writes its way out.)"""
    if not settings.meter_aware:
        return
    body = _body(prompt)
    if settings.form is not None:
        # A form plan counts bars, and M:none has none: the plan would be dropped without a word.
        if re.search(r"^M:\s*none\s*$", prompt, re.MULTILINE):
            raise UserError("M:none has no bars, so no form plan can count them: give a meter, or --form free")
        if "|]" in body:
            raise UserError("the prompt ends its tune with |] before the form plan is done: remove the |], "
                            "or use --form free")
    if body.count('"') % 2:
        raise UserError('the prompt ends inside a chord name ("..."): close it with "')
    # `[` opens a chord or an inline field, closed by `]`; `[1` (an ending) and `[|` (a bar) are whole.
    opened = max((m.start() for m in re.finditer(r"\[(?![\d|])", body)), default=-1)
    if opened > body.rfind("]"):
        raise UserError("the prompt ends inside [...] (a chord or an inline field): close it with ]")


def _body(prompt: str) -> str:
    """The prompt's tune body: what follows its last K: line (nothing while the header is open)."""
    lines = prompt.split("\n")
    keys = [i for i, line in enumerate(lines) if line.startswith("K:")]
    return "\n".join(lines[keys[-1] + 1:]) if keys else ""
