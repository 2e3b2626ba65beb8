"""The first tune of a session, in a real terminal: how long `n` takes to show its effect.

    .venv/bin/python benchmarks/first_tune.py [--rounds 2] TREE [TREE...]

Each tree's app runs in tmux (140×40) from an empty folder, so it samples from the shipped model.
After the generate screen has been shown for `--settle` seconds (the user reading the settings),
`n` is sent and `capture-pane` polled: the first figure is until the status line says "Loading
the model…" (the key's visible effect), the second until it says the tune is done ("Tune 1").
Trees alternate round by round, so both see the same machine. Every tree runs with this
interpreter's venv (the tree's own code: PYTHONPATH).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from key_latency import app_in_tmux, tmux, wait_for  # beside this file: python puts its folder on sys.path


def first_tune(tree: Path, settle: float) -> tuple[float, float]:
    with app_in_tmux(tree, name := "musictui-first-tune"):
        tmux("send-keys", "-t", name, "g")
        wait_for(name, "musictui — generate")
        time.sleep(settle)
        start = time.perf_counter()
        tmux("send-keys", "-t", name, "n")
        shown = wait_for(name, "Loading the model") - start
        done = wait_for(name, "Tune 1") - start
    return shown, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--settle", type=float, default=2.0)
    args = parser.parse_args()
    for _ in range(args.rounds):
        for tree in args.trees:
            shown, done = first_tune(tree.resolve(), args.settle)
            print(f"{tree}: n to 'Loading the model…' {shown * 1000:.0f} ms; to the whole first tune {done * 1000:.0f} ms",
                  flush=True)


if __name__ == "__main__":
    main()
