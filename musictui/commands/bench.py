"""`musictui bench`: our training and generation speed beside the lab's loop, measured in one run.

The reference is `shared/bench/lab_reference.py` (a plain re-implementation of the MIT lab's loops),
run as a subprocess on the same sizes, interleaved with our own measurements so that both see the
same machine. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

from musictui.limits import positive_int

REFERENCE_CANDIDATES = [
    Path(__file__).resolve().parents[3] / "shared" / "bench" / "lab_reference.py",  # beside the checkout
    Path.cwd().parent / "shared" / "bench" / "lab_reference.py",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reference", type=Path, metavar="PATH", help="the lab reference script "
                        "(default: ../shared/bench/lab_reference.py)")
    parser.add_argument("--train-steps", type=int, default=5, help="timed training steps per round (default 5)")
    parser.add_argument("--chars", type=int, default=300, help="timed characters per generation round (default 300)")
    parser.add_argument("--batch", type=int, default=32, help="tunes side by side for batched generation (default 32)")
    parser.add_argument("--rounds", type=positive_int, default=2, help="alternating rounds; the best of each is kept (default 2)")
    parser.add_argument("--checkpoint", type=Path, metavar="PATH",
                        help="a lab-sized checkpoint to generate from (default: the shipped model if present, "
                             "else random weights; speed of the plain sampler does not depend on them)")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def find_reference(path: Path | None) -> Path | None:
    for candidate in ([path] if path else REFERENCE_CANDIDATES):
        if candidate and candidate.is_file():
            return candidate
    return None


def run_reference(script: Path, mode: str, *args: str) -> float:
    out = subprocess.run([sys.executable, str(script), mode, *args], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"reference {mode} failed: {out.stderr.strip()[-300:]}")
    return float(out.stdout.split()[-1])


# A complete header, so that the meter-aware sampler has a meter to enforce from the first note.
BENCH_PROMPT = "X:1\nT:Bench\nM:6/8\nL:1/8\nK:D Major\n"


def our_generation(sampler, chars: int, meter_aware: bool = False, warmup: int = 20) -> float:
    from musictui.sample import SampleSettings

    settings = SampleSettings(seed=0, max_length=chars + warmup, tunes=None, meter_aware=meter_aware)
    stream = sampler.stream(BENCH_PROMPT, settings)
    for _ in range(warmup):
        next(stream)
    start = time.perf_counter()
    n = sum(1 for _ in stream)
    return n / (time.perf_counter() - start)


def our_batched_generation(sampler, batch: int, chars: int) -> float:
    from musictui.sample import SampleSettings

    settings = SampleSettings(seed=0, max_length=chars, tunes=None, meter_aware=False)
    sampler.generate_batch(batch, BENCH_PROMPT, SampleSettings(seed=0, max_length=5, tunes=None))  # warm-up
    start = time.perf_counter()
    sampler.generate_batch(batch, BENCH_PROMPT, settings)
    return batch * chars / (time.perf_counter() - start)


def our_training(trainer, steps: int) -> float:
    trainer.train_step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    cfg = trainer.config
    return steps * cfg.batch_size * cfg.seq_length / (time.perf_counter() - start)


def run(args: argparse.Namespace) -> int:
    import tempfile

    import torch

    from musictui.data import load_corpus
    from musictui.model import PRESETS, CharLSTM
    from musictui.sample import Sampler
    from musictui.train import Trainer

    from musictui.checkpoint import list_checkpoints
    from musictui.commands.common import SHIPPED_DIR

    lab = PRESETS["lab"]
    corpus = load_corpus()
    torch.manual_seed(0)
    shipped = list_checkpoints(SHIPPED_DIR)
    model_path = args.checkpoint or (shipped[-1] if shipped else None)
    if model_path:
        sampler = Sampler.from_checkpoint(model_path)
        if sampler.hidden_size != lab.hidden_size:
            from musictui.errors import UserError
            raise UserError(f"{model_path} is not lab-sized (hidden {sampler.hidden_size}): pass a lab checkpoint")
    else:
        sampler = Sampler(CharLSTM.from_config(len(corpus.vocab), lab), corpus.vocab)
    reference = find_reference(args.reference)
    sizes = ["--batch", str(lab.batch_size), "--seq", str(lab.seq_length),
             "--embedding", str(lab.embedding_dim), "--hidden", str(lab.hidden_size)]
    best: dict[str, float] = {}

    def keep(name: str, value: float) -> None:
        best[name] = max(best.get(name, 0.0), value)

    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(corpus, lab, tmp)
        for _ in range(args.rounds):  # alternate ours and the reference so both see the same machine
            if reference:
                keep("ref_gen", run_reference(reference, "generate", "--chars", str(args.chars), *sizes[4:]))
            keep("gen", our_generation(sampler, args.chars))
            keep("gen_meter_aware", our_generation(sampler, args.chars, meter_aware=True))
            keep("gen_batched", our_batched_generation(sampler, args.batch, max(args.chars // 2, 50)))
            if reference:
                keep("ref_train", run_reference(reference, "train", "--steps", str(args.train_steps), *sizes))
            keep("train", our_training(trainer, args.train_steps))

    def ratio(ours: str, theirs: str):
        return round(best[ours] / best[theirs], 2) if theirs in best else None

    result = {
        "preset": "lab",
        "sizes": {"embedding": lab.embedding_dim, "hidden": lab.hidden_size, "batch": lab.batch_size,
                  "seq": lab.seq_length, "vocab": len(corpus.vocab)},
        "gen_chars_per_s": round(best["gen"], 1),
        "gen_precision": sampler.precision,
        "gen_meter_aware_chars_per_s": round(best["gen_meter_aware"], 1),
        "meter_aware_speed_ratio": ratio("gen_meter_aware", "gen"),
        "gen_model": str(model_path) if model_path else "random weights",
        "gen_batched_chars_per_s": round(best["gen_batched"], 1),
        "gen_batch": args.batch,
        "train_chars_per_s": round(best["train"], 1),
        "reference_gen_chars_per_s": round(best["ref_gen"], 1) if "ref_gen" in best else None,
        "reference_train_chars_per_s": round(best["ref_train"], 1) if "ref_train" in best else None,
        "gen_ratio": ratio("gen", "ref_gen"),
        "gen_batched_ratio": ratio("gen_batched", "ref_gen"),
        "train_ratio": ratio("train", "ref_train"),
        "reference": str(reference) if reference else "not found: pass --reference PATH",
        "rounds": args.rounds,
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "cpu": cpu_name(),
    }
    print(json.dumps(result, indent=2))
    return 0
