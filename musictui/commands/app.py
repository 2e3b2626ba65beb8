"""`musictui` (or `musictui app`): the terminal app. Options as in `musictui train`."""
from __future__ import annotations

import argparse
from pathlib import Path

from musictui.commands.common import DEFAULT_CHECKPOINT_DIR, add_corpus_argument, add_device_argument
from musictui.config import PRESETS  # not musictui.model: the app's first frame must not wait for torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint-dir", type=Path, default=DEFAULT_CHECKPOINT_DIR, metavar="DIR",
                        help="your run: resumed from its newest checkpoint, saved to (default: ./checkpoints)")
    add_corpus_argument(parser)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small",
                        help="model size for a new run (a resumed run keeps its own; default: small)")
    add_device_argument(parser)
    parser.add_argument("--tunes-dir", type=Path, default=Path("tunes"), metavar="DIR",
                        help="where w saves a tune's ABC, MIDI and WAV (default: ./tunes)")


def run(args: argparse.Namespace) -> int:
    from musictui.app.app import end_lingering_threads, make_app

    app = make_app(checkpoint_dir=args.checkpoint_dir, corpus=args.corpus, preset=args.preset,
                   device=args.device, tunes_dir=args.tunes_dir)
    app.run()
    end_lingering_threads(app.return_code or 0)
    return app.return_code or 0
