"""`musictui bench`: our training and generation speed beside the lab's loop, measured in one run.

The reference is `benchmarks/lab.py` in the repository (the MIT lab's training and generation loops
as its notebook writes them), run as a subprocess on the same sizes, interleaved with our own
measurements so that both see the same machine. Prints one JSON object. `make bench` runs it for
the README's table.
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

# In a clone (or an editable install) the lab's loops sit beside the package; a wheel has none.
LAB_LOOPS = Path(__file__).resolve().parents[2] / "benchmarks" / "lab.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reference", type=Path, metavar="PATH", help="the lab's loops "
                        "(default: benchmarks/lab.py of the clone musictui runs from)")
    parser.add_argument("--precision", choices=["int8", "fp32"], default="int8",
                        help="recurrent weights of our batch-1 sampler, as in `musictui generate` (default int8)")
    parser.add_argument("--train-steps", type=int, default=5, help="timed training steps per round (default 5)")
    parser.add_argument("--chars", type=int, default=300, help="timed characters per generation round (default 300)")
    parser.add_argument("--batch", type=int, default=32, help="tunes side by side for batched generation (default 32)")
    parser.add_argument("--rounds", type=positive_int, default=2, help="alternating rounds; the best of each is kept (default 2)")
    parser.add_argument("--checkpoint", type=Path, metavar="PATH",
                        help="a lab-sized checkpoint to generate from (default: the shipped model if it is lab-sized, "
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
    if path is not None:
        if not path.is_file():
            from musictui.errors import UserError
            raise UserError(f"--reference {path}: no such file (the lab's loops are benchmarks/lab.py in a clone)")
        return path
    return LAB_LOOPS if LAB_LOOPS.is_file() else None


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

    from musictui.checkpoint_meta import read_meta
    from musictui.runs import resolve_named, shipped_checkpoint

    reference = find_reference(args.reference)  # before the slow part: a wrong path fails at once
    lab = PRESETS["lab"]
    corpus = load_corpus()
    torch.manual_seed(0)
    # Not ./checkpoints: the bench needs lab-sized weights, and the user's own may be any size. The
    # shipped model only where it is lab-sized: the one shipped since 2026-12-03 has 512 units.
    model_path = resolve_named(args.checkpoint) if args.checkpoint else shipped_checkpoint()
    random_note = "random weights"
    if model_path:
        hidden = read_meta(model_path).config.hidden_size  # its header: the weights only if they are used
        if hidden != lab.hidden_size:
            if args.checkpoint:
                from musictui.errors import UserError
                raise UserError(f"{model_path} is not lab-sized (hidden {hidden}): pass a lab checkpoint")
            random_note = f"random weights (the shipped model has {hidden} units, not the lab's)"
            model_path = None
    if model_path:
        sampler = Sampler.from_checkpoint(model_path, precision=args.precision)
    else:
        sampler = Sampler(CharLSTM.from_config(len(corpus.vocab), lab), corpus.vocab, args.precision)
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
        "gen_model": str(model_path) if model_path else random_note,
        "gen_batched_chars_per_s": round(best["gen_batched"], 1),
        "gen_batch": args.batch,
        "train_chars_per_s": round(best["train"], 1),
        "reference_gen_chars_per_s": round(best["ref_gen"], 1) if "ref_gen" in best else None,
        "reference_train_chars_per_s": round(best["ref_train"], 1) if "ref_train" in best else None,
        "gen_ratio": ratio("gen", "ref_gen"),
        "gen_batched_ratio": ratio("gen_batched", "ref_gen"),
        "train_ratio": ratio("train", "ref_train"),
        "reference": str(reference) if reference else "not found (a wheel has no benchmarks/): pass --reference PATH",
        "rounds": args.rounds,
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "cpu": cpu_name(),
    }
    print(json.dumps(result, indent=2))
    return 0
