"""Speed of form-aware sampling against meter-aware (free form) and plain sampling, side by side.

    .venv/bin/python benchmarks/form_speed.py [--chars 3000] [--rounds 3]

One process, one model (the shipped one), the three samplers interleaved round by round so that a
busy machine slows all three alike; prints characters per second of each and the ratios to plain,
by the wall clock and by this process's CPU time (the fairer one on a shared, loaded machine);
then the constraint's own CPU time per character, fed a form-aware text apart from the model.
Each stream writes tune after tune (`tunes=None`), from a complete header, so the constraint works
from the first note.
"""
import argparse
import statistics
import time

import torch

from musictui.commands.common import find_checkpoint
from musictui.notation.form import FormPlan
from musictui.sample import SampleSettings, Sampler

PROMPT = "X:1\nT:Bench\nM:6/8\nL:1/8\nK:D Major\n"
MODES = {"plain": dict(meter_aware=False), "meter": dict(form=None), "form 2x8": dict(form=FormPlan())}


def chars_per_second(sampler: Sampler, chars: int, seed: int, **kw) -> tuple[float, float]:
    stream = sampler.stream(PROMPT, SampleSettings(seed=seed, max_length=chars + 20, tunes=None, **kw))
    for _ in range(20):  # warm-up: the first masks are built here
        next(stream)
    wall, cpu = time.perf_counter(), time.process_time()
    n = sum(1 for _ in stream)
    return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)


def _constraint_cpu(sampler: Sampler, text: str, form) -> float:
    from musictui.notation.constraints import build_constraint
    from musictui.sample import _apply_mask   # what the sampler does with the constraint

    logits = torch.zeros(1, len(sampler.vocab.chars))
    constraint, start = build_constraint(sampler.vocab.chars, PROMPT, form), time.process_time()
    for ch in text:
        _apply_mask(logits, constraint)
        constraint.feed(ch)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: no spinning threads "
                        "on a shared machine, so CPU time is the work itself)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sampler = Sampler.from_checkpoint(find_checkpoint(None))
    rates = {m: [] for m in MODES}
    for r in range(args.rounds):
        for mode, kw in MODES.items():
            rates[mode].append(chars_per_second(sampler, args.chars, seed=r, **kw))
    # the constraint's own work, apart from the model (whose cache misses it shares on a busy
    # machine): a fresh constraint fed a form-aware text, asked for its bias at every character
    text = "".join(sampler.stream(PROMPT, SampleSettings(seed=0, max_length=args.chars, tunes=None)))
    for mode, kw in MODES.items():
        if mode != "plain":
            cpu = min(_constraint_cpu(sampler, text, kw["form"]) for _ in range(args.rounds))
            print(f"{mode:10s} constraint alone: {1e6 * cpu / len(text):.1f} us of CPU per character")
    plain = [statistics.median(r[i] for r in rates["plain"]) for i in (0, 1)]
    for mode in MODES:
        wall, cpu = (statistics.median(r[i] for r in rates[mode]) for i in (0, 1))
        print(f"{mode:10s} wall {wall:7.0f} chars/s ({wall / plain[0]:.2f} x plain)   "
              f"cpu {cpu:7.0f} chars/s ({cpu / plain[1]:.2f} x plain)")


if __name__ == "__main__":
    main()
