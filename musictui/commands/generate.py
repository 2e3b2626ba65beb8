"""`musictui generate`: sample tunes from a checkpoint, writing each character as it is sampled."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from musictui.commands.common import add_checkpoint_argument, add_device_argument, find_checkpoint, positive_int, seed, temperature, top_k, top_p
from musictui.notation.form import TUNE_TYPES, FormPlan


def add_form_arguments(parser: argparse.ArgumentParser) -> None:
    """--form, --parts, --bars-per-part: shared with `musictui evaluate`."""
    parser.add_argument("--form", choices=["plan", "free"], default="plan",
                        help="plan (default): PARTS parts of BARS bars, each closed by a repeat or a "
                             "double bar, ending on the key's tonic; free: the meter alone")
    parser.add_argument("--parts", type=positive_int, default=2, metavar="N", help="parts of the plan (default 2)")
    parser.add_argument("--bars-per-part", type=positive_int, default=8, metavar="N",
                        help="bars in each part of the plan (default 8)")


def form_plan(args: argparse.Namespace) -> FormPlan | None:
    return FormPlan(args.parts, args.bars_per_part) if args.form == "plan" else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_argument(parser)
    parser.add_argument("--prompt", help="free ABC to start from (default: 'X:1' and a new line)")
    parser.add_argument("--title", help="T: field of the header prompt")
    parser.add_argument("--meter", help="M: field, e.g. 6/8")
    parser.add_argument("--key", help="K: field, e.g. 'D Major' or G")
    parser.add_argument("--unit", help="L: field, e.g. 1/8")
    parser.add_argument("--type", dest="tune_type", choices=sorted(TUNE_TYPES), metavar="TYPE",
                        help="the dance: an R: field and, without --meter, its usual meter "
                             f"({', '.join(sorted(TUNE_TYPES))})")
    parser.add_argument("--length", type=positive_int, default=2000, metavar="N",
                        help="characters each tune may take at most (default 2000)")
    parser.add_argument("--tunes", type=positive_int, default=1, metavar="N",
                        help="stop after N complete tunes (default 1)")
    parser.add_argument("--temperature", type=temperature, default=1.0, metavar="T")
    parser.add_argument("--top-k", type=top_k, metavar="K")
    parser.add_argument("--top-p", type=top_p, metavar="P")
    parser.add_argument("--seed", type=seed, metavar="S", help="same checkpoint, settings and seed: same tune")
    parser.add_argument("--meter-aware", action=argparse.BooleanOptionalAction, default=True,
                        help="only allow characters that keep every bar the length its meter asks "
                             "(default: on; --no-meter-aware samples freely)")
    add_form_arguments(parser)
    parser.add_argument("--precision", choices=["int8", "fp32"], default="int8",
                        help="recurrent weights as int8 (default: ~5x faster, same distribution within "
                             "KL 1e-3) or fp32 (exact)")
    parser.add_argument("--out", type=Path, metavar="FILE.abc", help="save the complete tunes here")
    parser.add_argument("--keep", action="store_true", help="keep the complete tunes in the tune book (musictui tunes)")
    parser.add_argument("--force", action="store_true", help="let --out overwrite an existing file")
    add_device_argument(parser)


def run(args: argparse.Namespace) -> int:
    from musictui.checkpoint_meta import read_meta
    from musictui.errors import UserError
    from musictui.sample_settings import SampleSettings, build_prompt, check_prompt_for_sampler

    settings = SampleSettings(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed,
                              max_length=args.length, tunes=args.tunes, meter_aware=args.meter_aware,
                              form=form_plan(args))
    settings.check()  # before loading anything: a bad option should not wait for torch
    if args.out is not None and args.out.is_dir():
        raise UserError(f"--out {args.out} is a folder: give a file, e.g. {args.out / 'tunes.abc'}")
    prompt = build_prompt(args.title, args.meter, args.key, args.unit, args.prompt, args.tune_type)
    check_prompt_for_sampler(prompt, settings)
    path = find_checkpoint(args.checkpoint)
    from musictui.outputs import check_output, write_whole  # --out never silently replaces yesterday's tunes
    check_output(args.out, [path], args.force, "--out")  # nor the checkpoint, named or found
    read_meta(path)  # a damaged or foreign checkpoint is refused before torch loads (1.5 s)
    from musictui.model import resolve_device
    from musictui.sample import Sampler, extract_tunes

    sampler = Sampler.from_checkpoint(path, resolve_device(args.device), precision=args.precision)
    print(f"% musictui generate: {path}", file=sys.stderr)

    sampler.vocab.encode(prompt)  # an unknown character is one clear line, before anything is written
    show(prompt)
    text = [prompt]
    interrupted = False
    try:
        for ch in sampler.stream_tunes(prompt, settings):
            show(ch)  # a reader of the pipe sees each character as it is sampled
            text.append(ch)
    except KeyboardInterrupt:
        interrupted = True  # Ctrl+C: stop sampling, but keep (and save) the tunes already complete
    if not "".join(text).endswith("\n"):
        show("\n")
    tunes, unfinished = extract_tunes("".join(text))
    if unfinished is not None:
        cause = "by Ctrl+C" if interrupted else f"at --length {args.length}"
        print(f"% the last tune was cut off {cause}: not counted as a tune", file=sys.stderr)
    print(f"% {len(tunes)} complete tune(s)", file=sys.stderr)
    if args.out:  # first: the file is the user's own copy, whatever the tune book then says
        if not tunes:
            raise UserError(f"no complete tune to save in {args.out} (raise --length?)")
        write_whole(args.out, "\n\n".join(tunes) + "\n")
        print(f"% saved {len(tunes)} tune(s) to {args.out}", file=sys.stderr)
    if args.keep and tunes:
        from musictui.tunebook import keep

        ids, book = keep(tunes, str(path), settings)
        print(f"% kept as tune(s) {', '.join(map(str, ids))} in {book}", file=sys.stderr)
    return 130 if interrupted else 0


def show(text: str) -> None:
    """Write to stdout at once. A reader that left (`| head`) is cli's quiet exit; any other failure
    (`> /dev/full`, a redirect onto a full disk) names stdout, which its message alone did not."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        from musictui.errors import UserError

        raise UserError(f"could not write the tune to standard output: {error.strerror or error}") from None
