"""Streaming generation: one character at a time, carrying the LSTM's (h, c) state forward.

The prompt, of any length, primes the state in one call of the `nn.LSTM` module. After that each
character costs one *step*: the work that one character needs and nothing more. Because the
input is a single character, the embedding and the input half of the LSTM's gates collapse into
one lookup table (vocab × 4·hidden), computed once; what is left per character is one
matrix-vector product with the recurrent weights and one with the output layer.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import torch

from musictui.data import Vocabulary
from musictui.errors import UserError
from musictui.model import CharLSTM
from musictui.sample_settings import DEFAULT_PROMPT, SampleSettings, build_prompt, number_prompt  # noqa: F401 (callers import them from here)
from musictui.notation.tunes import TuneCounter, extract_tunes  # noqa: F401 (callers import them from here)

log = logging.getLogger(__name__)

class Sampler:
    """Samples characters from a trained CharLSTM. Holds its own copy of what it needs."""

    def __init__(self, model: CharLSTM, vocab: Vocabulary, precision: str = "int8"):
        """`precision="int8"` keeps the recurrent weights as 8-bit integers (one scale per row):
        a quarter of the bytes to read per character, about 10x faster for that product on a
        CPU, and faithful (see `int8_recurrent`). "fp32" is the exact computation."""
        if precision not in ("int8", "fp32"):
            raise UserError(f"precision must be int8 or fp32, not {precision!r}")
        model = model.eval()
        self.model = model
        self.vocab = vocab
        self.device = model.fc.weight.device  # sampling runs where the model is
        lstm, H = model.lstm, model.hidden_size
        with torch.no_grad():
            bias = lstm.bias_ih_l0 + lstm.bias_hh_l0
            # Input gates for every possible character: embedding -> W_ih, precomputed once.
            self.input_gates = (model.embedding.weight @ lstm.weight_ih_l0.T + bias).contiguous()  # (V, 4H)
            self.w_hh_t = lstm.weight_hh_l0.T.contiguous()  # (H, 4H): h @ W_hh^T as a row-major product
            self.w_out_t = model.fc.weight.T.contiguous()   # (H, V)
            self.b_out = model.fc.bias.detach().clone()
        self.hidden_size = H
        self.packed_hh = int8_recurrent(lstm.weight_hh_l0.detach()) if precision == "int8" else None
        self.precision = "int8" if self.packed_hh is not None else "fp32"

    @classmethod
    def from_checkpoint(cls, path: Path | str, device: torch.device | str = "cpu",
                        precision: str = "int8") -> "Sampler":
        from musictui.checkpoint import load_checkpoint

        ckpt = load_checkpoint(path)
        return cls(ckpt.build_model(device), ckpt.vocab, precision)

    # -- the two ways of advancing the state -------------------------------------------------

    @torch.no_grad()
    def prime(self, prompt_ids: torch.Tensor):
        """Run the whole prompt (batch, length) through the LSTM module in one call: (logits, h, c)."""
        logits, (h, c) = self.model(prompt_ids)
        return logits[:, -1, :], h[0], c[0]

    @torch.no_grad()
    def step(self, ids: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        """One character per row of the batch: (logits, h, c) after reading `ids` (batch,)."""
        if self.packed_hh is not None:
            gates = self.input_gates[ids] + torch.ops.quantized.linear_dynamic(h, self.packed_hh, True)
        else:
            gates = torch.addmm(self.input_gates[ids], h, self.w_hh_t)
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return torch.addmm(self.b_out, h, self.w_out_t), h, c

    # -- choosing a character ----------------------------------------------------------------

    @staticmethod
    def choose(logits: torch.Tensor, settings: SampleSettings, generator: torch.Generator) -> torch.Tensor:
        """One index per row of `logits` (batch, vocab), under temperature, top-k and top-p."""
        logits = logits / settings.temperature  # flatter (>1) or sharper (<1) distribution
        if settings.top_k is not None and settings.top_k < logits.size(-1):
            kth = torch.topk(logits, settings.top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        if settings.top_p is not None and settings.top_p < 1:
            sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
            # Keep each character whose predecessors in the ranking add up to less than p:
            # the smallest set that reaches p, and always the likeliest one.
            drop = (sorted_probs.cumsum(-1) - sorted_probs) >= settings.top_p
            sorted_probs = sorted_probs.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)

    # -- generation --------------------------------------------------------------------------

    def _start(self, prompt: str, settings: SampleSettings, batch: int = 1):
        settings.check()
        if not prompt:
            raise UserError("the prompt is empty: give at least one character (e.g. 'X')")
        ids = torch.from_numpy(self.vocab.encode(prompt)).unsqueeze(0).expand(batch, -1).to(self.device)
        generator = torch.Generator(device=self.device)
        generator.manual_seed(settings.seed if settings.seed is not None else torch.seed())
        logits, h, c = self.prime(ids)
        return logits, h.contiguous(), c.contiguous(), generator

    def stream(self, prompt: str = DEFAULT_PROMPT, settings: SampleSettings | None = None) -> Iterator[str]:
        """Yield characters one at a time as they are sampled (the prompt itself is not yielded).

        Stops after `settings.tunes` complete tunes (counting the prompt's), or when the tune being
        written reaches `max_length` characters (with `tunes=None`: when the whole text does).
        """
        settings = settings or SampleSettings()
        logits, h, c, generator = self._start(prompt, settings)
        constraint = self._constraint(prompt, settings)
        counter = TuneCounter()
        for ch in prompt:
            counter.feed(ch)
        counter.reset_chars()  # the cap counts sampled characters, not the prompt's
        idx2char = self.vocab.chars
        stuck = 0  # line ends in a row: see STUCK_AFTER
        while _under_cap(counter, settings):
            if constraint is not None:
                logits = _apply_mask(logits, constraint)
            idx = self.choose(logits, settings, generator)
            ch = idx2char[int(idx[0])]
            yield ch
            counter.feed(ch)
            if constraint is not None:
                constraint.feed(ch)
                stuck = stuck + 1 if ch in "!\n" else 0
                if stuck >= STUCK_AFTER:
                    raise UserError("the meter-aware sampler cannot go on from this prompt (its bars, repeats or "
                                    "endings do not fit the form plan): change the prompt, or use --form free")
            if settings.tunes is not None and counter.complete >= settings.tunes:
                return
            logits, h, c = self.step(idx, h, c)

    def stream_tunes(self, prompt: str = DEFAULT_PROMPT, settings: SampleSettings | None = None) -> Iterator[str]:
        """`settings.tunes` tunes, each sampled afresh from the prompt, its X: numbered 1, 2, ...:
        every tune keeps the header asked for (`--type hornpipe --tunes 20` gives 20 hornpipes; one
        long stream gave one, then whatever the model chose) and the form plan. Tune i takes seed
        S+i-1, so it is the first tune of seed S+i-1. Yields as `stream` does, the later tunes'
        prompts included; stops early where a tune reaches `max_length` unfinished."""
        settings = settings or SampleSettings()
        counter = TuneCounter()  # of the whole text, as the caller has it: the first prompt too
        for ch in prompt:
            counter.feed(ch)
        last = prompt[-2:]
        for number in range(1, (settings.tunes or 1) + 1):
            head = prompt if number == 1 else self._numbered(prompt, number)
            if number > 1:
                # A tune is complete at a blank line, or at the next X: line, then already written.
                for ch in head[2:] if last.endswith("X:") and head.startswith("X:") else head:
                    counter.feed(ch)
                    yield ch
            seed = None if settings.seed is None else (settings.seed + number - 1) % 2**63
            for ch in self.stream(head, replace(settings, tunes=1, seed=seed)):
                last = (last + ch)[-2:]
                counter.feed(ch)
                yield ch
            if counter.complete < number:
                return  # cut off at max_length: the caller says so

    def _numbered(self, prompt: str, number: int) -> str:
        """The prompt with X:`number`, or as it is where the model has no such digit (a corpus of a
        few tunes): a number it cannot read would end the run, and lose the tunes made so far."""
        numbered = number_prompt(prompt, number)
        return numbered if all(ch in self.vocab.char2idx for ch in numbered) else prompt

    def generate(self, prompt: str = DEFAULT_PROMPT, settings: SampleSettings | None = None) -> str:
        """The prompt and everything `stream` yields, as one string."""
        return prompt + "".join(self.stream(prompt, settings))

    def generate_batch(self, n: int, prompt: str = DEFAULT_PROMPT, settings: SampleSettings | None = None) -> list[str]:
        """`n` independent texts sampled side by side (one matrix product per step for all of them):
        for evaluation, where throughput matters more than seeing each character arrive.
        Each text stops at its own `tunes`/`max_length` limit; the prompt is included."""
        settings = settings or SampleSettings()
        logits, h, c, generator = self._start(prompt, settings, batch=n)
        counters = [TuneCounter() for _ in range(n)]
        constraints = ([self._constraint(prompt, settings) for _ in range(n)]
                       if settings.meter_aware else None)
        for counter in counters:
            for ch in prompt:
                counter.feed(ch)
            counter.reset_chars()
        out: list[list[str]] = [[] for _ in range(n)]
        active = torch.ones(n, dtype=torch.bool)
        idx2char = self.vocab.chars
        while active.any():
            if constraints is not None:
                biases = [c.allowed_bias(logits.device) for c in constraints]
                if any(b is not None for b in biases):
                    none = torch.zeros_like(logits[:1])
                    logits = logits + torch.cat([none if b is None else b for b in biases])
            idx = self.choose(logits, settings, generator)
            for row, value in enumerate(idx.tolist()):
                if not active[row]:
                    continue
                ch = idx2char[value]
                out[row].append(ch)
                counters[row].feed(ch)
                if constraints is not None:
                    constraints[row].feed(ch)
                done = settings.tunes is not None and counters[row].complete >= settings.tunes
                if done or not _under_cap(counters[row], settings):
                    active[row] = False
            if not active.any():
                break
            logits, h, c = self.step(idx, h, c)
        return [prompt + "".join(chars) for chars in out]

    def _constraint(self, prompt: str, settings: SampleSettings):
        """The constraint the settings ask for, fed the prompt; None when sampling freely."""
        if not settings.meter_aware:
            return None
        from musictui.notation.constraints import build_constraint  # only when asked for

        return build_constraint(self.vocab.chars, prompt, settings.form)


def int8_recurrent(w_hh: torch.Tensor):
    """The recurrent weights (4H, H) as int8 with one scale per output row, packed for fbgemm's
    dynamic int8 product (which also rounds h to 8 bits on the fly); None where this torch or
    device has no such kernel, and the sampler stays in fp32.

    Faithfulness, measured on the shipped model over 1,621 held-out characters: mean KL divergence
    from the fp32 distribution 3e-5 nats per character (largest 0.005), largest change in any
    probability 0.045, held-out loss 1.05613 -> 1.05614. tests/test_sample.py holds it to
    mean KL < 1e-3 and loss within 0.005."""
    if w_hh.device.type != "cpu":
        return None
    try:
        scales = (w_hh.abs().amax(dim=1).clamp_min(1e-8) / 127).double()
        zero_points = torch.zeros(w_hh.size(0), dtype=torch.long)
        with warnings.catch_warnings():
            # torch 2.13 calls quantized tensors deprecated (the pin keeps them; the fallback
            # covers their removal). The warning would otherwise land on the app's screen.
            warnings.simplefilter("ignore")
            qweight = torch.quantize_per_channel(w_hh.float(), scales, zero_points, 0, torch.qint8)
        packed = torch.ops.quantized.linear_prepack(qweight, None)
        torch.ops.quantized.linear_dynamic(torch.zeros(1, w_hh.size(1)), packed, True)  # the kernel runs here
        return packed
    except (RuntimeError, NotImplementedError, AttributeError):
        return None


# A constraint left with nothing but line ends to allow writes `!` and newlines until --length (a
# prompt like `|:AB cd|[2` that no plan can continue). No tune has six lines holding only `!`.
STUCK_AFTER = 12


def _under_cap(counter: TuneCounter, settings: SampleSettings) -> bool:
    """`max_length` caps each tune (so --tunes N gives N tunes); with `tunes=None`, the whole text."""
    return (counter.chars if settings.tunes is not None else counter.fed) < settings.max_length


def _apply_mask(logits: torch.Tensor, constraint) -> torch.Tensor:
    """The logits with what the constraint forbids at -inf: one addition of a bias the
    constraint caches per mask (no mask, or one that allows nothing: the logits unchanged)."""
    bias = constraint.allowed_bias(logits.device)
    return logits if bias is None else logits + bias
