"""`musictui export`: a weights-only copy of a checkpoint, to share or to ship (no optimizer state)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, metavar="CHECKPOINT", help="a checkpoint, or a folder (its newest)")
    parser.add_argument("target", type=Path, metavar="OUT.safetensors")
    parser.add_argument("--force", action="store_true", help="overwrite OUT.safetensors if it exists")
    parser.add_argument("--half", action="store_true", help="store the weights as float16 (half the size)")
    parser.add_argument("--note", action="append", default=[], metavar="KEY=VALUE",
                        help="a line for the checkpoint's notes (repeatable), e.g. command=...")


def run(args: argparse.Namespace) -> int:
    from musictui.checkpoint import load_checkpoint, save_checkpoint
    from musictui.errors import UserError
    from musictui.outputs import check_output

    source = args.source
    if source.is_dir():
        from musictui.checkpoint import newest_checkpoint

        source = newest_checkpoint(source)
    check_output(args.target, [source], args.force, "the target")  # `export A A` would replace A
    ckpt = load_checkpoint(source)
    for note in args.note:
        key, sep, value = note.partition("=")
        if not sep:
            raise UserError(f"--note needs KEY=VALUE, not {note!r}")
        ckpt.extra[key] = value
    ckpt.optimizer_state = ckpt.torch_rng = ckpt.numpy_rng = None
    path = save_checkpoint(ckpt, args.target, half=args.half)
    print(f"exported step {ckpt.step} of {ckpt.path} to {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
