"""How good a checkpoint's tunes are: held-out loss, and what abc2midi, the training corpus and
the model itself make of N tunes it writes (or, as a baseline, of the held-out human tunes).

The figures, and exactly what each one counts:

- `val_loss` / `val_bpc`: cross-entropy on the held-out tunes, each tune scored on its own from a
  fresh (zero) LSTM state, as generation starts; its first character (`X`) is given, every later
  one is scored, including the blank line that ends the tune. (Training's own validation loss
  scores fixed windows of `seq_length` instead, so the two differ a little.)
- Shares are over the N tunes asked for: a text with no complete tune in `max_length` characters
  is a failed tune and counts against every share. Medians are over the complete tunes.
- `parse_ok`: abc2midi reports no error. `bars_ok`: no error and no bar of the wrong length
  (abc2midi exempts the pickup and the final bar).
- `headers_ok`: `X:`, `T:`, `M:` and `L:` lines all stand before the first `K:` line (ABC's
  header ends at `K:`), and there is one.
- `longest_shared`: the longest run of characters the tune shares with the training text; 60 or
  more is a copy. Headers count too, so even human tunes share ~25 (`Z: id:dc-reel-...\nM:...`).
- Form (defined once, in `musictui/notation/form.py`): `ends_on_tonic`, the last note is the key's
  tonic (mode-aware: `K:D Dorian` -> D); `parts_ok`, every part (the music between `|:` `:|` `::`
  `||` `|]`, a second ending belonging to its part) has 4, 8 or 16 bars, a short first bar (a
  pickup) not counted; `median_bars`, `median_parts` over the complete tunes. Shares as above.
- `logprob_per_char`: mean log-probability (nats) per scored character under the checkpoint's own
  model at temperature 1 with no mask: what the model thinks of the tune, however it was sampled.
  A tune is `likely` when that is at least the 10th percentile of the held-out human tunes' figure.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from musictui.audio import RenderError, check_abc
from musictui.data import NAMED_CORPORA, TUNE_SEPARATOR, Corpus, Vocabulary, default_corpus_path, load_corpus
from musictui.errors import UserError
from musictui.model import CharLSTM
from musictui.notation.form import form_of
from musictui.notation.tunes import extract_tunes
from musictui.sample import SampleSettings, Sampler

COPY_LENGTH = 60          # the line: sharing this many characters in a row is copying
LIKELY_PERCENTILE = 10    # of the held-out human tunes' log-probability per character
HEADER_FIELDS = ("X", "T", "M", "L", "K")
DEFAULT_MAX_LENGTH = 1500  # characters per tune; corpus tunes run 100-1000, median ~230
SCORE_BATCH = 16          # tunes per forward pass when scoring log-probabilities


@dataclass
class TuneScore:
    """One tune's figures. A failed tune (no complete tune in the text) has `text=None`."""

    text: str | None
    parse_ok: bool = False
    bars_ok: bool = False
    headers_ok: bool = False
    longest_shared: int | None = None
    logprob_per_char: float | None = None
    likely: bool = False
    first_error: str | None = None  # abc2midi's first complaint, for whoever reads --out-dir
    ends_on_tonic: bool = False
    parts_ok: bool = False
    bars: int | None = None
    parts: int | None = None

    @property
    def copy(self) -> bool:
        return self.longest_shared is not None and self.longest_shared >= COPY_LENGTH


@dataclass
class Evaluation:
    # what was measured
    checkpoint: str
    step: int
    source: str              # "generated" or "human" (the held-out tunes)
    n: int                   # tunes asked for (or held-out tunes taken)
    temperature: float | None
    seed: int | None
    meter_aware: bool | None
    form: str | None         # the plan, e.g. "2x8"; "free" (meter only); None (human tunes)
    max_length: int | None
    # the model on held-out text
    val_loss: float          # nats per character
    val_bpc: float           # bits per character
    # the tunes
    complete: int
    failed: int
    parse_ok: float
    bars_ok: float
    headers_ok: float
    median_chars: float | None
    copies: float
    median_longest_shared: float | None
    logprob_per_char: float | None  # mean over complete tunes of each tune's mean
    likely: float
    likely_threshold: float
    ends_on_tonic: float
    parts_ok: float
    median_bars: float | None
    median_parts: float | None
    seconds_generating: float
    seconds_scoring: float
    tunes: list[TuneScore] = field(default_factory=list, repr=False)

    def figures(self) -> dict:
        """Everything but the per-tune detail: what `--json` prints."""
        out = asdict(self)
        del out["tunes"]
        return out


# -- per-tune figures ---------------------------------------------------------------------------

def has_header_fields(tune: str) -> bool:
    seen = set()
    for line in tune.split("\n"):
        name = line[:2]
        if len(name) == 2 and name[1] == ":" and name[0] in HEADER_FIELDS:
            seen.add(name[0])
            if name[0] == "K":
                break  # the header ends at K:; a field that only appears later is in the body
    return seen == set(HEADER_FIELDS) and "K" in seen


def longest_shared_run(tune: str, corpus_text: str) -> int:
    """The length of the longest substring of `tune` that occurs in `corpus_text`.

    `best` only grows, and each test either grows it or moves `start` on, so there are at most
    len(tune) + best substring searches; CPython's `in` scans 177k characters in microseconds
    (about 15 ms per human tune), exact, with no index to build.
    """
    best, n = 0, len(tune)
    for start in range(n):
        if start + best >= n:
            break  # no longer run can start here or later
        while start + best < n and tune[start : start + best + 1] in corpus_text:
            best += 1
    return best


@torch.no_grad()
def tune_logprobs(model: CharLSTM, vocab: Vocabulary, tunes: list[str]) -> list[tuple[float, int]]:
    """(total log-probability in nats, characters scored) of each tune followed by the blank line
    that ends it, from a fresh state, its first character given. Tunes go through in batches of
    similar length, padded at the end: the LSTM reads left to right, so padding after a tune
    cannot change its scores, and padded positions are masked out."""
    model.eval()
    encoded = [vocab.encode(t + TUNE_SEPARATOR) for t in tunes]
    results: list[tuple[float, int]] = [(0.0, 0)] * len(tunes)
    order = sorted(range(len(tunes)), key=lambda i: len(encoded[i]))
    for b in range(0, len(order), SCORE_BATCH):
        rows = order[b : b + SCORE_BATCH]
        width = max(len(encoded[i]) for i in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width - 1, dtype=torch.bool)
        for r, i in enumerate(rows):
            ids[r, : len(encoded[i])] = torch.from_numpy(encoded[i])
            mask[r, : len(encoded[i]) - 1] = True
        logits, _ = model(ids[:, :-1])
        logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        totals = (logp * mask).sum(1).tolist()
        for r, i in enumerate(rows):
            results[i] = (totals[r], len(encoded[i]) - 1)
    return results


def score_tunes(texts: list[str | None], model: CharLSTM, vocab: Vocabulary, corpus_text: str,
                likely_threshold: float) -> list[TuneScore]:
    """The figures of each tune; None stands for a failed tune and scores nothing."""
    scores = [TuneScore(text=t) for t in texts]
    complete = [s for s in scores if s.text is not None]
    for s, (total, count) in zip(complete, tune_logprobs(model, vocab, [s.text for s in complete])):
        s.logprob_per_char = total / count
        s.likely = s.logprob_per_char >= likely_threshold
    for s in complete:
        try:
            report = check_abc(s.text)
            s.parse_ok = report.ok
            s.bars_ok = report.ok and report.bars_ok
            if report.errors:
                s.first_error = report.errors[0].message
            elif report.bar_warnings:
                w = report.bar_warnings[0]
                s.first_error = f"bar {w.bar} has {w.units:g} units, the meter asks {w.expected:g}"
        except RenderError as error:  # abc2midi hung on this tune: it does not parse
            s.first_error = str(error)
        s.headers_ok = has_header_fields(s.text)
        form = form_of(s.text)
        s.ends_on_tonic, s.parts_ok, s.bars, s.parts = form.ends_on_tonic, form.parts_ok, form.bars, form.parts
        s.longest_shared = longest_shared_run(s.text, corpus_text)
    return scores


def summarize(scores: list[TuneScore]) -> dict:
    """The Evaluation fields that describe a set of tunes: shares over all of them (a failed
    tune counts as not ok, not a copy, not likely), medians and means over the complete ones."""
    if not scores:
        raise ValueError("no tunes to summarize")
    done = [s for s in scores if s.text is not None]
    n = len(scores)

    def share(flag) -> float:
        return sum(1 for s in scores if flag(s)) / n

    return dict(
        n=n, complete=len(done), failed=n - len(done),
        parse_ok=share(lambda s: s.parse_ok), bars_ok=share(lambda s: s.bars_ok),
        headers_ok=share(lambda s: s.headers_ok),
        median_chars=statistics.median(len(s.text) for s in done) if done else None,
        copies=share(lambda s: s.copy),
        median_longest_shared=statistics.median(s.longest_shared for s in done) if done else None,
        logprob_per_char=statistics.fmean(s.logprob_per_char for s in done) if done else None,
        likely=share(lambda s: s.likely),
        ends_on_tonic=share(lambda s: s.ends_on_tonic), parts_ok=share(lambda s: s.parts_ok),
        median_bars=statistics.median(s.bars for s in done) if done else None,
        median_parts=statistics.median(s.parts for s in done) if done else None,
    )


def plan_name(settings: SampleSettings) -> str:
    """How the tunes were sampled: "2x8" (form-aware), "free" (meter only) or "plain"."""
    if not settings.meter_aware:
        return "plain"
    plan = settings.form
    return "free" if plan is None else f"{plan.parts}x{plan.bars_per_part}"


# -- the whole evaluation -----------------------------------------------------------------------

def checkpoint_corpus(extra: dict, override: Path | str | None = None) -> Corpus:
    """The corpus a checkpoint was trained on, split as training split it: `override` if given,
    else the path its notes record, else (a path from another machine) the default corpus when
    that is what it was, else a UserError asking for --corpus."""
    if override is not None:
        return load_corpus(override)
    recorded = extra.get("corpus")
    if recorded is None or recorded in NAMED_CORPORA or Path(recorded).exists():
        return load_corpus(recorded)
    if Path(recorded).as_posix().endswith("mitdeeplearning/data/irish.abc"):
        return load_corpus(default_corpus_path())  # the same file, installed somewhere else
    raise UserError(f"the checkpoint was trained on {recorded}, which is not here: pass --corpus PATH")


def evaluate(checkpoint: Path | str, tunes: int = 100, settings: SampleSettings | None = None,
             human: bool = False, corpus: Path | str | Corpus | None = None) -> Evaluation:
    """Generate `tunes` tunes from `checkpoint` (one per text, sampled side by side) and measure
    them; or, with `human`, measure the first `tunes` held-out human tunes instead.

    Without `settings`, SampleSettings(max_length=1500). `settings.tunes` is forced to 1, and a
    None seed becomes 0, so that the same call gives the same figures.
    """
    from musictui.checkpoint import load_checkpoint

    if tunes < 1:
        raise UserError(f"--tunes must be at least 1 (got {tunes})")
    settings = settings or SampleSettings(max_length=DEFAULT_MAX_LENGTH)
    settings = replace(settings, tunes=1, seed=0 if settings.seed is None else settings.seed)
    settings.check()
    ckpt = load_checkpoint(checkpoint)
    corpus = corpus if isinstance(corpus, Corpus) else checkpoint_corpus(ckpt.extra, corpus)
    if not corpus.val_tunes:
        raise UserError(f"{corpus.source} has no held-out tunes to measure the model on")
    model = ckpt.build_model("cpu")
    try:
        val = tune_logprobs(model, ckpt.vocab, corpus.val_tunes)
    except UserError as error:
        raise UserError(f"the held-out tunes of {corpus.source} do not fit this checkpoint: {error}") from None
    val_loss = -sum(t for t, _ in val) / sum(n for _, n in val)
    threshold = float(np.percentile([t / n for t, n in val], LIKELY_PERCENTILE))

    start = time.perf_counter()
    if human:
        texts: list[str | None] = list(corpus.val_tunes[:tunes])
    else:
        generated = Sampler(model, ckpt.vocab).generate_batch(tunes, settings=settings)
        texts = [(extract_tunes(t)[0] or [None])[0] for t in generated]
    generating = time.perf_counter() - start

    start = time.perf_counter()
    scores = score_tunes(texts, model, ckpt.vocab, corpus.train_text, threshold)
    scoring = time.perf_counter() - start

    return Evaluation(
        checkpoint=str(ckpt.path), step=ckpt.step, source="human" if human else "generated",
        temperature=None if human else settings.temperature, seed=None if human else settings.seed,
        meter_aware=None if human else settings.meter_aware, form=None if human else plan_name(settings),
        max_length=None if human else settings.max_length,
        val_loss=val_loss, val_bpc=val_loss / math.log(2), likely_threshold=threshold,
        **summarize(scores),
        seconds_generating=generating, seconds_scoring=scoring, tunes=scores,
    )
