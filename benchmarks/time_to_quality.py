#!/usr/bin/env python3
"""Time to quality (issue 13, item 6): the lab's recipe and a faster one, side by side.

Starts two `musictui train` processes at once, one thread each (OMP_NUM_THREADS=1), same seed,
same corpus and the same yardstick: the trainer's validation loss on its 128 held-out windows,
every `--eval-every` steps. Then reads both runs' metrics.jsonl (wall time of each evaluation,
`elapsed_s`, counted from the run's first step: process start-up and corpus loading are left
out of both) and prints both curves and the result:

  lab best: the lowest validation loss of the lab run, its step and wall time;
  recipe:   the wall time of the recipe's first evaluation at or below that loss;
  ratio:    recipe wall time / lab wall time to the lab's best (the target is at most 0.5).

The recipe run is usually the shorter one: once it ends, the lab run has the second core to
itself, which can only make the lab's time shorter and so the ratio larger (a conservative
figure). With `--report DIR` it only reads the metrics of an earlier run's folder.

Usage:
  python benchmarks/time_to_quality.py [--out DIR] [--lab-steps 400] [--recipe-steps 600] \
      [--recipe "--hidden-size 512 --batch-size 16 --precision bf16 --warmup 20 --lr-schedule cosine"] [--seed 0] [--eval-every 25]
  python benchmarks/time_to_quality.py --report DIR
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_RECIPE = "--hidden-size 512 --batch-size 16 --precision bf16 --warmup 20 --lr-schedule cosine"


def train_command(folder: Path, steps: int, seed: int, eval_every: int, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "musictui", "train", "--preset", "lab", "--steps", str(steps),
            "--seed", str(seed), "--eval-every", str(eval_every), "--checkpoint-every", "100000",
            "--checkpoint-dir", str(folder), *extra]


def curve(folder: Path) -> list[tuple[int, float, float]]:
    """(step, wall s, validation loss) of every evaluation in the run's metrics.jsonl."""
    rows = []
    for line in (folder / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("val_loss") is not None:
            rows.append((record["step"], record["elapsed_s"], record["val_loss"]))
    return rows


def result(lab: list, recipe: list) -> dict:
    best_step, best_wall, best_loss = min(lab, key=lambda row: row[2])
    reached = next((row for row in recipe if row[2] <= best_loss), None)
    return {
        "lab_best": {"val_loss": round(best_loss, 4), "step": best_step, "wall_s": round(best_wall, 1)},
        "recipe_reaches_it": None if reached is None else {
            "val_loss": round(reached[2], 4), "step": reached[0], "wall_s": round(reached[1], 1)},
        "recipe_best": round(min(row[2] for row in recipe), 4),
        "ratio": None if reached is None else round(reached[1] / best_wall, 3),
    }


def report(out: Path, commands: dict | None = None) -> dict:
    lab, recipe = curve(out / "lab"), curve(out / "recipe")
    if commands:
        for name, command in commands.items():
            print(f"{name}: OMP_NUM_THREADS=1 {shlex.join(command)}")
    print(f"{'step':>5} | {'lab wall s':>10} {'lab val':>8} | {'recipe wall s':>13} {'recipe val':>10}")
    by_step = {row[0]: row for row in recipe}
    steps = sorted({row[0] for row in lab} | set(by_step))
    lab_by_step = {row[0]: row for row in lab}
    for step in steps:
        a, b = lab_by_step.get(step), by_step.get(step)
        left = f"{a[1]:>10.1f} {a[2]:>8.4f}" if a else f"{'':>10} {'':>8}"
        right = f"{b[1]:>13.1f} {b[2]:>10.4f}" if b else ""
        print(f"{step:>5} | {left} | {right}")
    summary = result(lab, recipe)
    print(json.dumps(summary))
    (out / "result.json").write_text(json.dumps({**summary, "lab_curve": lab, "recipe_curve": recipe,
                                                 "commands": commands}, indent=1))
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/time-to-quality"))
    parser.add_argument("--lab-steps", type=int, default=400)
    parser.add_argument("--recipe-steps", type=int, default=600)
    parser.add_argument("--recipe", default=DEFAULT_RECIPE, help="the recipe's flags beside --preset lab")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--report", type=Path, metavar="DIR", help="only read an earlier run's folder")
    args = parser.parse_args()
    if args.report is not None:
        report(args.report)
        return 0
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"{args.out} is not empty: choose another --out (or read it with --report {args.out})")
    commands = {
        "lab": train_command(args.out / "lab", args.lab_steps, args.seed, args.eval_every, []),
        "recipe": train_command(args.out / "recipe", args.recipe_steps, args.seed, args.eval_every,
                                shlex.split(args.recipe)),
    }
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    processes = {name: subprocess.Popen(command, env=env, stdout=open(args.out / f"{name}.log", "w"),
                                        stderr=subprocess.STDOUT)
                 for name, command in commands.items()}
    codes = {name: process.wait() for name, process in processes.items()}
    print(f"both done in {time.time() - started:.0f} s; exit codes {codes}")
    report(args.out, commands)
    return 0 if not any(codes.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
