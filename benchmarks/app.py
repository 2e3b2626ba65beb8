"""Benchmarks for the app (not tests): first frame, key latency while training, streaming speed.

    .venv/bin/python benchmarks/app.py [--checkpoint PATH] [--presses 40] [--launches 5] [--seeds 3]

1. First frame: launch `musictui` in a fresh tmux pane and poll `capture-pane` until the header
   is drawn. The time includes starting Python and tmux's own start-up: an upper bound.
2. Key latency while training: `key_latency.run_once` on this tree (see benchmarks/key_latency.py,
   which also compares trees side by side). Polling costs a few ms per look: an upper bound.
3. Streaming: the characters per second of a tune streamed in the app (as its generate screen
   received them from the sampling process, with the UI drawing every 0.1 s batch) against
   `Sampler.stream` alone in a separate process: same checkpoint, seed and settings, so the very
   same characters.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from key_latency import run_once, summary, tmux, wait_for  # beside this file: python puts its folder on sys.path

MUSICTUI = Path(sys.executable).with_name("musictui")
SIZE = ("110", "34")


def _launch(name: str, folder: Path, preset: str) -> float:
    """Start musictui in a tmux session; returns the time.perf_counter() of the launch."""
    command = f"cd {shlex.quote(str(folder))} && exec {shlex.quote(str(MUSICTUI))} --preset {preset} --checkpoint-dir ckpt"
    start = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", SIZE[0], "-y", SIZE[1], command], check=True)
    return start


def _quit(name: str) -> None:
    tmux("send-keys", "-t", name, "q")
    time.sleep(3)
    tmux("kill-session", "-t", name)


def first_frame(launches: int) -> list[float]:
    times = []
    for i in range(launches):
        with tempfile.TemporaryDirectory() as folder:
            name = f"musictui-bench-ff-{os.getpid()}-{i}"
            start = _launch(name, Path(folder), "tiny")
            times.append(wait_for(name, "musictui — train") - start)
            wait_for(name, "press space")
            _quit(name)
    return times


HEADLESS = """
import json, sys, time
import torch
if int(sys.argv[4]):
    torch.set_num_threads(int(sys.argv[4]))
from musictui.sample import Sampler, SampleSettings
sampler = Sampler.from_checkpoint(sys.argv[1])
settings = SampleSettings(temperature=1.0, seed=int(sys.argv[2]), max_length=int(sys.argv[3]), tunes=1)
start = time.perf_counter()
n = sum(1 for _ in sampler.stream("X:1\\n", settings))
print(json.dumps({"chars": n, "seconds": time.perf_counter() - start}))
"""


def headless_rate(checkpoint: Path, seed: int, length: int, threads: int = 0) -> float:
    """`threads` 0 leaves torch its default (every core); the app leaves one core for the UI."""
    out = subprocess.run([sys.executable, "-c", HEADLESS, str(checkpoint), str(seed), str(length), str(threads)],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.splitlines()[-1])
    return result["chars"] / result["seconds"]


def in_app_rate(checkpoint: Path, seed: int, length: int) -> float:
    from musictui.app import tunes
    from musictui.app.app import make_app

    tunes.MAX_TUNE_CHARS = length  # the same length as the headless run

    async def run() -> float:
        with tempfile.TemporaryDirectory() as folder:
            app = make_app(checkpoint_dir=Path(folder) / "ckpt", generate_checkpoint=checkpoint, preset="tiny")
            async with app.run_test(size=(110, 34)) as pilot:
                screen = app.generate_screen
                await pilot.press("g")
                screen.query_one("#seed").value = str(seed)
                # Load the model in the sampling process first, as the headless run loads before its clock starts.
                await pilot.press("n")
                while not screen.tunes:
                    await pilot.pause(0.05)
                # The render of the first tune (not the train screen's worker: it reads the
                # training process for as long as the app runs).
                while any(w.is_running for w in app.workers if w.node is screen):
                    await pilot.pause(0.05)
                await pilot.press("n")
                while len(screen.tunes) < 2:
                    await pilot.pause(0.05)
                app.stop_sound()
                return screen.last_rate

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="checkpoint to stream from (default: newest in ./checkpoints)")
    parser.add_argument("--launches", type=int, default=5)
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--length", type=int, default=1500)
    parser.add_argument("--seeds", type=int, default=3, help="tunes each way for the streaming figure (seeds 1 to N)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["frame", "keys", "stream"])
    args = parser.parse_args()

    if "frame" not in args.skip:
        times = first_frame(args.launches)
        print(f"first frame: median {statistics.median(times):.2f} s, worst {max(times):.2f} s "
              f"over {len(times)} launches")
    if "keys" not in args.skip:
        _, latencies = run_once(str(Path(__file__).resolve().parents[1]), args.presses)
        print(f"key latency while training (small preset): {summary(latencies)}")
    if "stream" not in args.skip:
        from musictui.commands.common import find_checkpoint

        checkpoint = find_checkpoint(args.checkpoint)
        from musictui.app.sample_process import app_threads

        rates = {"headless": [], "headless-app-threads": [], "app": []}
        for seed in range(1, args.seeds + 1):
            rates["headless"].append(headless_rate(checkpoint, seed, args.length))
            rates["headless-app-threads"].append(headless_rate(checkpoint, seed, args.length, app_threads()))
            rates["app"].append(in_app_rate(checkpoint, seed, args.length))
        median = {k: statistics.median(v) for k, v in rates.items()}
        app = median["app"]
        print(f"streaming from {checkpoint} (medians of {args.seeds} seeds, the same up-to-{args.length} characters "
              f"each way): in the app {app:,.0f} chars/s; headless with torch's default threads "
              f"{median['headless']:,.0f} chars/s ({app / median['headless']:.0%}); headless with the app's "
              f"{app_threads()} thread(s) {median['headless-app-threads']:,.0f} chars/s "
              f"({app / median['headless-app-threads']:.0%})")


if __name__ == "__main__":
    main()
