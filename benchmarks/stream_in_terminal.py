"""In-app streaming in a real terminal against the headless sampler on the app's one torch thread.

    .venv/bin/python benchmarks/stream_in_terminal.py [--tunes 5]

The app runs in tmux (140×40) from an empty folder, so it samples from the shipped model; `n` is
pressed once per tune, and the rate is the one the generate screen reports in its status line
("Tune N: … (R chars/s)"). The first tune loads the model and is left out. The headless side
streams as many tunes, seeds 1 to N, with `Sampler.stream` on one thread (benchmarks/app.py).
Tunes differ between the two sides (the app's seeds are random), so compare medians.
"""
from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

from app import headless_rate  # beside this file: python puts its folder on sys.path
from key_latency import app_in_tmux, tmux, wait_for

ROOT = Path(__file__).resolve().parents[1]


def app_rates(tunes: int) -> list[int]:
    rates = []
    with app_in_tmux(ROOT, name := "musictui-stream-rate"):
        time.sleep(2)
        tmux("send-keys", "-t", name, "g")
        wait_for(name, "musictui — generate")
        for i in range(1, tunes + 1):
            tmux("send-keys", "-t", name, "n")
            wait_for(name, f"Tune {i}:", timeout=120)
            line = next(l for l in tmux("capture-pane", "-p", "-t", name).splitlines() if f"Tune {i}:" in l)
            rates.append(int(re.search(r"\(([\d,]+) chars/s\)", line).group(1).replace(",", "")))
            time.sleep(4)  # its render, and the first seconds of its playback
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tunes", type=int, default=5)
    args = parser.parse_args()
    in_app = app_rates(args.tunes)[1:]
    from musictui.runs import shipped_checkpoint  # what the app samples from an empty folder

    headless = [headless_rate(shipped_checkpoint(), seed, 1500, threads=1) for seed in range(1, args.tunes + 1)]
    app, alone = statistics.median(in_app), statistics.median(headless)
    print(f"in the app (tmux): {', '.join(map(str, in_app))} chars/s; headless on one thread: "
          f"{', '.join(f'{h:.0f}' for h in headless)} chars/s; medians {app:,.0f} against {alone:,.0f} "
          f"chars/s ({app / alone:.0%})")


if __name__ == "__main__":
    main()
