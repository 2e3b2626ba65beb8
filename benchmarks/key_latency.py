"""Key press to visible effect while the app trains `small`, for two source trees side by side.

    .venv/bin/python benchmarks/key_latency.py [--presses 40] [--rounds 2] [--idle] TREE [TREE...]

Each TREE is a checkout of musictui (run with PYTHONPATH=TREE and this venv). Rounds alternate the
trees, so a busy machine weighs on each alike. In each run: a fresh folder, the app in tmux
(110×34), space to train `small` (not with --idle), 3 s to settle, then g and t in turn; each press
is timed from `send-keys` until `capture-pane` (polled every 5 ms) shows the other screen's title.
Prints the median, p95 and worst per tree, and the first frame (launch to the header) of each run.
KEYS_VERBOSE=1 prints every press to stderr. `benchmarks/app.py` uses `run_once` for its figure.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10).stdout


def wait_for(name: str, text: str, timeout: float = 120) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if text in tmux("capture-pane", "-p", "-t", name):
            return time.perf_counter()
        time.sleep(0.005)
    raise RuntimeError(f"{text!r} did not appear in {timeout} s:\n" + tmux("capture-pane", "-p", "-t", name))


@contextlib.contextmanager
def app_in_tmux(tree: Path | str, name: str):
    """The app of `tree` in a 140×40 tmux session, run from an empty folder (so it samples from the
    shipped model, and keeps its tunes and caches there): yields once the train screen is ready,
    then quits it with q and kills the session."""
    with tempfile.TemporaryDirectory() as folder:
        folder = shlex.quote(folder)
        command = (f"cd {folder} && XDG_DATA_HOME={folder} XDG_CACHE_HOME={folder} "
                   f"PYTHONPATH={shlex.quote(str(tree))} exec {shlex.quote(sys.executable)} -m musictui "
                   "--preset small --checkpoint-dir ckpt")
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "140", "-y", "40", command], check=True)
        try:
            wait_for(name, "press space")
            yield
            tmux("send-keys", "-t", name, "q")
            time.sleep(3)
        finally:
            tmux("kill-session", "-t", name)


def run_once(tree: str, presses: int, train: bool = True) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        name = f"musictui-keys-{os.getpid()}"
        command = (f"cd {shlex.quote(folder)} && XDG_DATA_HOME={shlex.quote(folder)} "
                   f"PYTHONPATH={shlex.quote(tree)} exec {shlex.quote(sys.executable)} -m musictui "
                   "--preset small --checkpoint-dir ckpt")
        start = time.perf_counter()
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "110", "-y", "34", command], check=True)
        try:
            first_frame = wait_for(name, "musictui — train") - start
            wait_for(name, "press space")
            if train:
                tmux("send-keys", "-t", name, "space")
                wait_for(name, "Training: space pauses")
            time.sleep(3)  # let training settle into its pace
            latencies = []
            for i in range(presses):
                key, title = ("g", "musictui — generate") if i % 2 == 0 else ("t", "musictui — train")
                t0 = time.perf_counter()
                tmux("send-keys", "-t", name, key)
                latencies.append(wait_for(name, title, timeout=20) - t0)
                if os.environ.get("KEYS_VERBOSE"):
                    print(key, f"{(latencies[-1]) * 1000:.0f}", file=sys.stderr)
                time.sleep(0.2)
            tmux("send-keys", "-t", name, "q")
            time.sleep(3)
        finally:
            tmux("kill-session", "-t", name)
    return first_frame, latencies


def summary(latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"median {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, worst {ms[-1]:.0f} ms over {len(ms)} presses"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+")
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--idle", action="store_true", help="do not train: the switch's own cost")
    args = parser.parse_args()
    results = {tree: ([], []) for tree in args.trees}
    for _ in range(args.rounds):
        for tree in args.trees:
            frame, latencies = run_once(tree, args.presses // args.rounds, train=not args.idle)
            results[tree][0].append(frame)
            results[tree][1].extend(latencies)
    for tree, (frames, latencies) in results.items():
        print(f"{tree}: key latency {'idle' if args.idle else 'while training small'}: {summary(latencies)}; "
              f"first frame {', '.join(f'{f:.2f}' for f in frames)} s")


if __name__ == "__main__":
    main()
