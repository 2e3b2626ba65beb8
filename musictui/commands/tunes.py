"""`musictui tunes list|show|export|play|star`: the tune book, headless (see musictui/tunebook.py)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from musictui.limits import positive_int

# SQLite's integers are signed 64-bit: a larger tune number or --limit would fail inside SQLite
# (OverflowError), so it is refused with the other argument mistakes instead.
SQLITE_INT_MAX = 2**63 - 1


def book_number(text: str) -> int:
    """A tune number or a --limit: a whole number from 1 to 2**63-1."""
    value = positive_int(text)
    if value > SQLITE_INT_MAX:
        raise argparse.ArgumentTypeError(f"must be at most 2**63-1, not {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, metavar="FILE",
                        help="the tune book (default: $XDG_DATA_HOME/musictui/tunes.db)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the tunes, newest first")
    listing.add_argument("--starred", action="store_true", help="only the starred ones")
    listing.add_argument("--search", metavar="TEXT", help="only titles containing TEXT (any case)")
    listing.add_argument("--limit", type=book_number, metavar="N", help="at most N tunes")
    show = actions.add_parser("show", help="one tune's ABC, with where it came from as %% comments")
    show.add_argument("id", type=book_number, metavar="N")
    export = actions.add_parser("export", help="write a tune as ABC, MIDI or WAV (by OUT's suffix)")
    export.add_argument("id", type=book_number, metavar="N")
    export.add_argument("out", type=Path, metavar="OUT.abc|OUT.mid|OUT.wav")
    export.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    play = actions.add_parser("play", help="render a tune and play it (Ctrl+C stops)")
    play.add_argument("id", type=book_number, metavar="N")
    star = actions.add_parser("star", help="star a tune (--off takes the star away)")
    star.add_argument("id", type=book_number, metavar="N")
    star.add_argument("--off", action="store_true")


def run(args: argparse.Namespace) -> int:
    from musictui.tunebook import TuneBook, export

    book = TuneBook(args.db)
    if args.action == "list":
        return _list(book, args)
    elif args.action == "show":
        tune = book.get(args.id)
        print(f"% tune {tune.id} of {book.path}, made {tune.created} by {tune.checkpoint}"
              f"{', starred' if tune.star else ''}")
        print(f"% settings {tune.settings}, seed {tune.seed if tune.seed is not None else 'random'}")
        print(tune.abc.rstrip("\n"))
    elif args.action == "export":
        print(f"wrote {export(book.get(args.id), args.out, force=args.force)}")
    elif args.action == "play":
        return _play(book.get(args.id))
    elif args.action == "star":
        book.set_star(args.id, not args.off)
        print(f"tune {args.id} {'unstarred' if args.off else 'starred'}")
    return 0


def _list(book, args: argparse.Namespace) -> int:
    """The tunes, one a line; damaged ones are left out and named in one line on stderr (status 1),
    so that one bad row neither hides the rest nor passes unnoticed."""
    tunes, damaged = book.scan(starred=args.starred, search=args.search, limit=args.limit)
    for tune in tunes:
        print(tune.line)
    if not tunes and not damaged:
        print(f"no tunes{' to show' if args.starred or args.search else ' yet'} in {book.path}")
    if damaged:
        numbers = ", ".join(str(error.tune_id) for error in damaged)
        print(f"musictui: tune(s) {numbers} in the tune book {book.path} are damaged and not listed "
              f"(`musictui tunes show N` says what is wrong): mend or delete them with `sqlite3 "
              f"{book.path}`, or restore the book from a backup", file=sys.stderr)
        return 1
    return 0


def _play(tune) -> int:
    from musictui.audio import render
    from musictui.playback import Player

    rendered = render(tune.abc)
    playback = Player().play(rendered.wav_path)  # NoAudioDevice is a UserError: one line, with the WAV
    print(f"playing tune {tune.id}, {tune.title} ({playback.duration_s:.1f} s); Ctrl+C stops")
    try:
        playback.wait()
    except KeyboardInterrupt:
        playback.stop()
        return 130
    return 0
