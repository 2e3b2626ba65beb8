"""`musictui play TUNE.abc|SOUND.wav`: render if needed, then play to the end (Ctrl+C stops)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from musictui import audio
from musictui.commands.render import add_tune_arguments, fail_on_errors, read_tune, render_tune
from musictui.errors import UserError
from musictui.playback import Player


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, metavar="TUNE.abc|SOUND.wav",
                        help="an ABC file to render and play, or a WAV to play as it is")
    add_tune_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.source.suffix.lower() == ".wav":
        if args.tempo is not None or args.tune is not None:
            raise UserError("--tempo and --tune apply to ABC files; a WAV plays as it is")
        wav = args.source
    else:
        tempo = audio.check_tempo(args.tempo) if args.tempo is not None else None
        rendered = render_tune(read_tune(args.source, args.tune or 1), None, None, tempo)
        fail_on_errors(rendered)
        wav = rendered.wav_path
    playback = Player().play(wav)  # NoAudioDevice is a UserError: cli prints it, with the WAV path
    print(f"playing {wav} ({playback.duration_s:.1f} s); Ctrl+C stops")
    try:
        while not playback.wait(timeout=0.25):
            _show_progress(playback)
    except KeyboardInterrupt:
        playback.stop()
        _end_progress()
        print(f"stopped at {playback.elapsed_s:.1f} s")
        return 130
    _end_progress()
    return 0


def _show_progress(playback) -> None:
    # Only on a terminal: a log or a pipe should not fill with carriage returns.
    if sys.stderr.isatty():
        print(f"\r  {playback.elapsed_s:5.1f} / {playback.duration_s:.1f} s", end="", file=sys.stderr,
              flush=True)


def _end_progress() -> None:
    if sys.stderr.isatty():
        print(file=sys.stderr)
