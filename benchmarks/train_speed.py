"""Training speed in the app's child process against `musictui train`, side by side (issue 14).

    .venv/bin/python benchmarks/train_speed.py [--preset small] [--steps 300] [--rounds 2]

Each round runs the same new run twice, one after the other, in fresh folders with the same seed:
`musictui train --preset P --steps N`, then the app in a real terminal (tmux, 110×34) that starts
training at once (`autostart`) and shows its train screen all along, as a user watching it would.
Both write the run's `metrics.jsonl`; the speed is the characters of the steps after the first 10
(torch's warm-up) over their wall time. Rounds alternate, so a busy machine weighs on both alike.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WARM_UP_STEPS = 10
APP = """
from musictui.app.app import make_app
make_app(checkpoint_dir="ckpt", preset={preset!r}, overrides={{"steps": {steps}}}, autostart=True).run()
"""


def chars_per_s(metrics: Path, chars_per_step: int) -> float:
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    first = next(r for r in records if r["step"] == WARM_UP_STEPS)
    last = records[-1]
    return (last["step"] - first["step"]) * chars_per_step / (last["elapsed_s"] - first["elapsed_s"])


def run_cli(folder: Path, preset: str, steps: int) -> Path:
    subprocess.run([sys.executable, "-m", "musictui", "train", "--preset", preset, "--steps", str(steps),
                    "--checkpoint-dir", "ckpt", "--seed", "0"], cwd=folder, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return folder / "ckpt" / "metrics.jsonl"


def run_app(folder: Path, preset: str, steps: int) -> Path:
    name = f"musictui-train-speed-{os.getpid()}"
    script = folder / "app.py"
    script.write_text(APP.format(preset=preset, steps=steps))
    env = f"XDG_DATA_HOME={shlex.quote(str(folder))} PYTHONPATH={shlex.quote(os.getcwd())}"
    command = f"cd {shlex.quote(str(folder))} && {env} exec {shlex.quote(sys.executable)} app.py"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "110", "-y", "34", command], check=True)
    metrics = folder / "ckpt" / "metrics.jsonl"
    try:
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            if metrics.exists() and f'"step": {steps},' in metrics.read_text():
                break
            time.sleep(0.5)
        else:
            raise RuntimeError("the app's run did not finish in 30 minutes")
        subprocess.run(["tmux", "send-keys", "-t", name, "q"], check=True)
        time.sleep(3)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from musictui.model import PRESETS

    config = PRESETS[args.preset]
    per_step = config.batch_size * config.seq_length
    speeds: dict[str, list[float]] = {"musictui train": [], "app (child process)": []}
    for _ in range(args.rounds):
        for label, runner in (("musictui train", run_cli), ("app (child process)", run_app)):
            with tempfile.TemporaryDirectory() as folder:
                speeds[label].append(chars_per_s(runner(Path(folder), args.preset, args.steps), per_step))
    cli, app = (statistics.median(v) for v in speeds.values())
    for label, values in speeds.items():
        print(f"{label}: {', '.join(f'{v:,.0f}' for v in values)} chars/s")
    print(f"{args.preset} preset, {args.steps} steps, {args.rounds} rounds: the app's child trains at "
          f"{app / cli:.0%} of musictui train ({app:,.0f} against {cli:,.0f} chars/s, medians)")


if __name__ == "__main__":
    main()
