"""`musictui evaluate`: generate N tunes and measure them (or the held-out human tunes, --human)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from musictui.commands.common import (add_checkpoint_argument, add_corpus_argument, check_corpus_argument,
                                     find_checkpoint, positive_int, seed, temperature)
from musictui.commands.generate import add_form_arguments, form_plan

DEFAULT_TUNES = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_argument(parser)
    parser.add_argument("--tunes", type=positive_int, default=DEFAULT_TUNES, metavar="N",
                        help=f"tunes to generate and measure (default {DEFAULT_TUNES})")
    parser.add_argument("--temperature", type=temperature, default=1.0, metavar="T")
    parser.add_argument("--seed", type=seed, default=0, metavar="S",
                        help="same checkpoint, settings and seed: same tunes, same figures (default 0)")
    parser.add_argument("--length", type=positive_int, default=1500, metavar="N",
                        help="characters each tune may take at most; a longer one counts as failed (default 1500)")
    parser.add_argument("--meter-aware", action=argparse.BooleanOptionalAction, default=None,
                        help="sample with the meter constraint (default: the sampler's own default)")
    add_form_arguments(parser)
    parser.add_argument("--human", action="store_true",
                        help="measure the held-out human tunes instead of generated ones: the baseline")
    add_corpus_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--out-dir", type=Path, metavar="DIR",
                        help="also save the tunes measured as DIR/tunes.abc, each with its figures")
    parser.add_argument("--force", action="store_true", help="let --out-dir overwrite its tunes.abc")


def run(args: argparse.Namespace) -> int:
    from musictui.checkpoint_meta import read_meta
    from musictui.sample_settings import SampleSettings

    overrides = {} if args.meter_aware is None else {"meter_aware": args.meter_aware}
    settings = SampleSettings(temperature=args.temperature, seed=args.seed, max_length=args.length,
                              tunes=1, form=form_plan(args), **overrides)
    settings.check()  # before loading anything: a bad option should not wait for torch
    check_corpus_argument(args.corpus)
    check_out_dir(args.out_dir, args.force)  # before minutes of work, not after
    path = find_checkpoint(args.checkpoint)
    read_meta(path)
    from musictui.evaluate import evaluate  # imports torch: only once the options and paths are checked
    result = evaluate(path, tunes=args.tunes, settings=settings, human=args.human, corpus=args.corpus)
    if args.out_dir:
        save_tunes(result, args.out_dir)
    if args.json:
        print(json.dumps(result.figures()))
    else:
        print_table(result)
    return 0


def check_out_dir(folder: Path | None, force: bool) -> None:
    """--out-dir must be a folder (or not yet exist), and its tunes.abc is replaced only with --force."""
    from musictui.errors import UserError
    from musictui.outputs import check_output

    if folder is None:
        return
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out-dir {folder} is a file, not a folder: give a folder for tunes.abc")
    check_output(folder / "tunes.abc", [], force, "--out-dir")


def save_tunes(result, folder: Path) -> Path:
    """All the tunes in one ABC file, each after a `%` comment with its figures (split_tunes and
    abc2midi skip comments between tunes); a failed tune is a comment alone."""
    from musictui.errors import UserError
    from musictui.outputs import write_whole

    lines = [f"% musictui evaluate: {result.source} tunes, {result.checkpoint} (step {result.step})", ""]
    for i, s in enumerate(result.tunes, 1):
        if s.text is None:
            lines += [f"% tune {i}: no complete tune in {result.max_length} characters", ""]
            continue
        verdict = "bars right" if s.bars_ok else "parses" if s.parse_ok else "does not parse"
        note = f" ({s.first_error})" if s.first_error else ""
        lines += [f"% tune {i}: {verdict}{note}; headers {'complete' if s.headers_ok else 'incomplete'}; "
                  f"longest shared run {s.longest_shared}{' (a copy)' if s.copy else ''}; "
                  f"log-prob/char {s.logprob_per_char:.3f}{' (likely)' if s.likely else ''}",
                  s.text, ""]
    target = folder / "tunes.abc"
    try:
        write_whole(target, "\n".join(lines))
    except OSError as error:
        raise UserError(f"cannot write {target}: {error.strerror}") from None
    return target


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def _num(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def print_table(r) -> None:
    from rich.console import Console
    from rich.table import Table

    from musictui.evaluate import COPY_LENGTH, LIKELY_PERCENTILE

    if r.source == "human":
        title = f"{r.n} held-out human tunes, scored by {r.checkpoint} (step {r.step})"
    else:
        title = (f"{r.n} tunes from {r.checkpoint} (step {r.step}): temperature {r.temperature:g}, "
                 f"seed {r.seed}, meter-aware {'on' if r.meter_aware else 'off'}, form {r.form}")
    table = Table(title=title, title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("what it counts", style="dim")
    rows = [
        ("held-out loss", f"{r.val_loss:.3f}", "nats per character, held-out tunes"),
        ("bits per character", f"{r.val_bpc:.3f}", ""),
        ("complete tunes", f"{r.complete} / {r.n}", f"ended by a blank line within {r.max_length} characters"
         if r.max_length else ""),
        ("parse clean", _pct(r.parse_ok), "abc2midi reports no error"),
        ("every bar right", _pct(r.bars_ok), "and every bar the meter's length (pickup, last bar excepted)"),
        ("header complete", _pct(r.headers_ok), "X: T: M: L: K:"),
        ("median length", _num(r.median_chars, ".0f"), "characters"),
        ("copies", _pct(r.copies), f"share a run of {COPY_LENGTH}+ characters with the training text"),
        ("median longest shared run", _num(r.median_longest_shared, ".0f"), "characters"),
        ("ends on the tonic", _pct(r.ends_on_tonic), "last note is the key's tonic (K:D Dorian -> D)"),
        ("parts of 4/8/16 bars", _pct(r.parts_ok), "every part 4, 8 or 16 bars, a pickup not counted"),
        ("median bars", _num(r.median_bars, "g"), "bars written, repeats not played twice"),
        ("median parts", _num(r.median_parts, "g"), "music between |: :| :: || |]"),
        ("log-prob per character", _num(r.logprob_per_char, ".3f"), "nats, under the unconstrained model"),
        ("likely", _pct(r.likely), f"log-prob/char >= {r.likely_threshold:.3f}, the held-out tunes' "
         f"{LIKELY_PERCENTILE}th percentile"),
        ("time", f"{r.seconds_generating + r.seconds_scoring:.1f} s",
         f"{r.seconds_generating:.1f} s generating, {r.seconds_scoring:.1f} s scoring"),
    ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)
