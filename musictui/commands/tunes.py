"""`musictui tunes list|show|export|play|star`: the tune book, headless (see musictui/tunebook.py)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, metavar="FILE",
                        help="the tune book (default: $XDG_DATA_HOME/musictui/tunes.db)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the tunes, newest first")
    listing.add_argument("--starred", action="store_true", help="only the starred ones")
    listing.add_argument("--search", metavar="TEXT", help="only titles containing TEXT (any case)")
    listing.add_argument("--limit", type=int, metavar="N", help="at most N tunes")
    show = actions.add_parser("show", help="one tune's ABC, with where it came from as % comments")
    show.add_argument("id", type=int, metavar="N")
    export = actions.add_parser("export", help="write a tune as ABC, MIDI or WAV (by OUT's suffix)")
    export.add_argument("id", type=int, metavar="N")
    export.add_argument("out", type=Path, metavar="OUT.abc|OUT.mid|OUT.wav")
    export.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    play = actions.add_parser("play", help="render a tune and play it (Ctrl+C stops)")
    play.add_argument("id", type=int, metavar="N")
    star = actions.add_parser("star", help="star a tune (--off takes the star away)")
    star.add_argument("id", type=int, metavar="N")
    star.add_argument("--off", action="store_true")


def run(args: argparse.Namespace) -> int:
    from musictui.tunebook import TuneBook, export

    book = TuneBook(args.db)
    if args.action == "list":
        tunes = book.list(starred=args.starred, search=args.search, limit=args.limit)
        for tune in tunes:
            print(tune.line)
        if not tunes:
            print(f"no tunes{' to show' if args.starred or args.search else ' yet'} in {book.path}")
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
