"""`musictui render TUNE.abc`: write the tune's WAV (and MIDI) and print what abc2midi thought of it."""
from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

from musictui import audio
from musictui.errors import UserError
from musictui.limits import positive_int
from musictui.outputs import check_outputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("abc_file", type=Path, metavar="TUNE.abc",
                        help="ABC file (a name starting with '-' goes after '--')")
    parser.add_argument("-o", "--output", type=Path, metavar="OUT.wav",
                        help="WAV to write (default: beside TUNE.abc, same name, .wav)")
    parser.add_argument("--midi", type=Path, metavar="OUT.mid", help="also keep the MIDI file here")
    parser.add_argument("--svg", type=Path, metavar="OUT.svg", help="also draw the score here (abcm2ps)")
    parser.add_argument("--force", action="store_true", help="overwrite the WAV or MIDI file if it exists")
    add_tune_arguments(parser)


def add_tune_arguments(parser: argparse.ArgumentParser) -> None:
    """The options `render` and `play` share."""
    parser.add_argument("--tempo", type=int, metavar="BPM",
                        help=f"quarter notes a minute, {audio.TEMPO_MIN}-{audio.TEMPO_MAX}; replaces the "
                             f"tune's Q: (default: the tune's own, else {audio.TEMPO_DEFAULT})")
    parser.add_argument("--tune", type=positive_int, metavar="N",
                        help="which tune of the file, counting from 1 (default: the first)")


def run(args: argparse.Namespace) -> int:
    tempo = audio.check_tempo(args.tempo) if args.tempo is not None else None
    refuse_sound_input(args.abc_file)  # before the default output, which would be the input itself
    wav = args.output or default_wav_path(args.abc_file, args.tune)
    # Before any work: never over the ABC itself, and over an earlier render only with --force.
    wav_option = "-o" if args.output else "the WAV"  # the messages name only options the user gave
    check_outputs({wav_option: wav, "--midi": args.midi, "--svg": args.svg}, [args.abc_file], args.force)
    picked = read_tune(args.abc_file, args.tune or 1)
    rendered = render_tune(picked, wav, args.midi, tempo)
    print(f"wrote {rendered.wav_path} ({rendered.duration_s:.1f} s)")
    if rendered.midi_path:
        print(f"wrote {rendered.midi_path}")
    if args.svg:
        from musictui.score import render_svg

        print(f"wrote {render_svg(picked.text, args.svg).svg_path}")
    fail_on_errors(rendered)
    return 0


def read_tune(path: Path, number: int) -> audio.PickedTune:
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except FileNotFoundError:
        raise UserError(f"no such file: {path}") from None
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}") from None
    refuse_sound_input(path)
    return audio.pick_tune(text, number)


SOUND_SUFFIXES = {".wav": "a WAV", ".mid": "a MIDI file", ".midi": "a MIDI file"}


def refuse_sound_input(path: Path) -> None:
    """A sound file where an ABC file belongs. `render qq.wav` is a mix-up of render and play: say
    so, rather than that the default output (qq.wav) is the input."""
    kind = SOUND_SUFFIXES.get(path.suffix.lower())
    if kind:
        hint = f": to hear it, musictui play {path}" if kind == "a WAV" else ""  # play takes WAVs, not MIDI
        raise UserError(f"{path} is {kind}, not an ABC file{hint}")


def default_wav_path(abc_file: Path, tune: int | None) -> Path:
    # Several tunes of one file each get their own WAV; a single tune keeps the plain name.
    stem = f"{abc_file.stem}-{tune}" if tune else abc_file.stem
    return abc_file.with_name(f"{stem}.wav")


def render_tune(picked: audio.PickedTune, wav: Path | None, midi: Path | None,
                tempo: int | None) -> audio.Rendered:
    """Render and print the report; a tune with nothing to play becomes one UserError line."""
    try:
        rendered = audio.render(picked.text, wav, midi, tempo)
    except audio.RenderError as error:
        if error.report is not None:
            print_report(picked, error.report, tempo)
        raise
    print_report(picked, rendered.report, tempo)
    return rendered


def print_report(picked: audio.PickedTune, report: audio.AbcReport, tempo: int | None) -> None:
    where = f" (line {picked.first_line} of the file)" if picked.first_line not in (None, 1) else ""
    print(f"tune {picked.number} of {picked.count}{where}: {picked.title}")
    if where:
        print("  line numbers below count from the tune's X: line")
    pace = f"{tempo} BPM" if tempo else "the tune's own tempo"
    print(f"  {report.notes} notes, {report.duration_s:.1f} s at {pace}")
    for error in report.errors:
        print(f"  error: line {error.line}, char {error.char}: {error.message}")
    for bar in report.bar_warnings:
        track = f"track {bar.track}, " if bar.track else ""
        print(f"  {track}bar {bar.bar} (line {bar.line}) is {_units(bar.units)} units long; "
              f"the meter asks for {_units(bar.expected)}")
    for warning in report.warnings:
        print(f"  warning: {warning}")


def fail_on_errors(rendered: audio.Rendered) -> None:
    """abc2midi errors make the command fail, after the WAV of what it could make was written."""
    if rendered.report.errors:
        first = rendered.report.errors[0]
        raise UserError(f"abc2midi found {len(rendered.report.errors)} error(s) in the tune, first at "
                        f"line {first.line}, char {first.char}: {first.message} "
                        f"(the WAV is kept at {rendered.wav_path})")


def _units(value: float) -> str:
    return str(Fraction(value).limit_denominator(64))
