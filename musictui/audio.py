"""ABC text → MIDI (abc2midi) → WAV (timidity), and the report that says what abc2midi thought of it.

Both tools run as subprocesses with argument lists and timeouts, inside a fresh temporary folder,
on fixed file names (`tune.abc`, `tune.mid`, `tune.wav`). The caller's paths are only ever touched
by Python's own file functions afterwards, so a name with spaces, quotes, a leading `-` or a
trailing `|` (which timidity would run as a command) never reaches a tool's command line.

Neither tool tells the truth with its exit status (abc2midi exits 0 with errors in the tune, timidity
0 on a file that is not MIDI): we read abc2midi's stdout into an `AbcReport`, check the WAV's frames.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from musictui import wav_cache
from musictui.errors import UserError
from musictui.outputs import put_whole

# Tempo range offered by folkrnn.org; abc2midi's own default for a tune without Q: is 120.
TEMPO_MIN, TEMPO_MAX, TEMPO_DEFAULT = 24, 204, 120

# The General MIDI SoundFont from Debian's fluid-soundfont-gm; timidity's own patches otherwise.
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")

# timidity's default amplification (70%) leaves corpus tunes peaking near 0.08 of full scale
# (-22 dBFS): too quiet beside other sound on the machine. At 400%, six corpus tunes peaked at
# 0.46-0.55 (about -6 dBFS) with RMS 0.06-0.08: loud enough, and still clear of clipping.
TIMIDITY_VOLUME = 400

# The Debian package that provides each tool, for the "install it" message.
PACKAGES = {"abc2midi": "abcmidi", "timidity": "timidity"}


class MissingTool(UserError):
    """abc2midi or timidity is not on PATH."""


class RenderError(UserError):
    """A tool failed, timed out or produced nothing. `report` is abc2midi's, when it ran."""

    def __init__(self, message: str, report: AbcReport | None = None):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class AbcError:
    line: int  # 1-based line in the ABC text given to abc2midi
    char: int  # 0-based column, as abc2midi counts it
    message: str


@dataclass(frozen=True)
class BarWarning:
    """A bar whose length does not match the meter. Units are the meter's denominator (eighths in 6/8)."""

    bar: int  # abc2midi's bar number: 0 is the first bar, or the pickup when there is one
    units: float  # length found
    expected: float  # length the time signature asks for
    track: int = 0  # MIDI track (one per voice)
    line: int = 0
    char: int = 0


@dataclass
class AbcReport:
    errors: list[AbcError] = field(default_factory=list)
    bar_warnings: list[BarWarning] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # every other warning, as "line L, char C: text"
    notes: int = 0  # notes the MIDI file plays, repeats played out and all voices counted
    duration_s: float = 0.0  # length of the MIDI file, from its tempo map; 0 when none was written

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def bars_ok(self) -> bool:
        return not self.bar_warnings

    def summary(self) -> str:
        parts = [f"{self.notes} notes", f"{self.duration_s:.1f} s"]
        if self.errors:
            first = self.errors[0]
            parts.append(f"{len(self.errors)} error(s), first at line {first.line}, "
                         f"char {first.char}: {first.message}")
        if self.bar_warnings:
            parts.append(f"{len(self.bar_warnings)} bar(s) of the wrong length")
        if self.warnings:
            parts.append(f"{len(self.warnings)} other warning(s)")
        if self.ok and self.bars_ok and not self.warnings:
            parts.append("no problems")
        return ", ".join(parts)


@dataclass
class Rendered:
    wav_path: Path
    midi_path: Path | None  # None unless the caller asked to keep the MIDI
    report: AbcReport
    duration_s: float  # of the WAV, which runs a little past the MIDI while the last notes fade


# ---------------------------------------------------------------------------------------------
# abc2midi's diagnostics

# "Error in line-char 7-6 : Chord already finished" (warnings have the same shape).
_DIAGNOSTIC = re.compile(r"^(Error|Warning) in line-char (\d+)-(\d+) : (.*)$")
_BAR = re.compile(r"^Track (\d+) Bar (\d+) has ([\d/]+) time units while the time signature has ([\d/]+)")

# A part that ends in :| with no |: before it repeats from the start of the tune (or the last
# double bar), as ABC 2.1 says. abc2midi plays it so, and says it did for 786 of the corpus's 804
# tunes: the message is not news, so it is left out of the report.
_NOT_NEWS = {"Assuming repeat", "replacing |: with double repeat (::)"}
# The same idiom with a first ending: abc2midi calls it an error, yet plays the repeat as ABC 2.1
# means it (56 corpus tunes). Counting it as an error would fail tunes that play correctly.
_NOT_ERRORS = {"found [1 or like before |:"}


def parse_abc2midi_output(stdout: str) -> AbcReport:
    """Read abc2midi's stdout into a report (notes and duration left at 0: they come from the MIDI)."""
    report = AbcReport()
    for text in stdout.splitlines():
        text = text.strip()
        match = _DIAGNOSTIC.match(text)
        if match is None:
            # The version banner and "writing MIDI file": not diagnostics. Any other line that
            # says "Error" is one abc2midi printed without a position; keep it rather than lose it.
            if text.lower().startswith("error"):
                report.errors.append(AbcError(0, 0, text))
            continue
        kind, line, char, message = match[1], int(match[2]), int(match[3]), match[4].strip()
        bar = _BAR.match(message)
        if message in _NOT_NEWS:
            continue
        if kind == "Error" and message not in _NOT_ERRORS:
            report.errors.append(AbcError(line, char, message))
        elif bar:
            report.bar_warnings.append(BarWarning(
                bar=int(bar[2]), units=float(Fraction(bar[3])), expected=float(Fraction(bar[4])),
                track=int(bar[1]), line=line, char=char))
        else:
            report.warnings.append(f"line {line}, char {char}: {message}")
    return report


# ---------------------------------------------------------------------------------------------
# Reading a MIDI file: just enough to count notes and measure its length.

def midi_notes_and_duration(data: bytes) -> tuple[int, float]:
    """(note-ons, seconds) of a standard MIDI file, following its tempo changes."""
    if data[:4] != b"MThd":
        raise ValueError("not a MIDI file")
    header_len, _format, ntracks, division = struct.unpack(">IHHH", data[4:14])
    if division & 0x8000:
        raise ValueError("SMPTE time division is not supported")  # abc2midi never writes it
    pos = 8 + header_len
    notes, end_tick, tempos = 0, 0, []  # tempos: (tick, microseconds per quarter note)
    for _ in range(ntracks):
        if data[pos:pos + 4] != b"MTrk":
            raise ValueError("damaged MIDI track")
        (length,) = struct.unpack(">I", data[pos + 4:pos + 8])
        pos, stop = pos + 8, pos + 8 + length
        tick, status = 0, 0
        while pos < stop:
            delta, pos = _varlen(data, pos)
            tick += delta
            if data[pos] & 0x80:  # a new status byte; otherwise "running status" reuses the last
                status, pos = data[pos], pos + 1
            if status == 0xFF:  # meta event: type, length, data
                kind = data[pos]
                size, pos = _varlen(data, pos + 1)
                if kind == 0x51:
                    tempos.append((tick, int.from_bytes(data[pos:pos + 3], "big")))
                pos += size
            elif status in (0xF0, 0xF7):  # system exclusive: length, data
                size, pos = _varlen(data, pos)
                pos += size
            else:
                if status & 0xF0 == 0x90 and data[pos + 1] > 0:  # note-on with velocity 0 is an off
                    notes += 1
                pos += 1 if status & 0xF0 in (0xC0, 0xD0) else 2
        end_tick = max(end_tick, tick)
        pos = stop
    # Sum the time between tempo changes (120 BPM, i.e. 500000 µs a beat, until the first).
    seconds, last_tick, us_per_beat = 0.0, 0, 500_000
    for tick, tempo in sorted(tempos):
        if tick >= end_tick:
            break
        seconds += (tick - last_tick) * us_per_beat / division / 1e6
        last_tick, us_per_beat = tick, tempo
    seconds += (end_tick - last_tick) * us_per_beat / division / 1e6
    return notes, seconds


def _varlen(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos


# ---------------------------------------------------------------------------------------------
# Tempo

# A Q: field on its own line, or inline in the body as [Q:...].
_Q_LINE = re.compile(r"^Q:.*$", re.MULTILINE)
_Q_INLINE = re.compile(r"\[Q:[^\]]*\]")


def check_tempo(tempo: int) -> int:
    if not TEMPO_MIN <= tempo <= TEMPO_MAX:
        raise UserError(f"tempo {tempo} is out of range: choose {TEMPO_MIN} to {TEMPO_MAX} "
                        "beats (quarter notes) a minute")
    return tempo


def with_tempo(abc_text: str, tempo: int) -> str:
    """Replace every Q: of the tune (header lines and inline [Q:...]) with `tempo` quarter notes a minute.

    Replaced in place, never added: line numbers in the report still match the text the user
    wrote. A tune with no Q: at its start gets the tempo from abc2midi's -Q option instead.
    """
    q = f"Q:1/4={check_tempo(tempo)}"
    return _Q_INLINE.sub(f"[{q}]", _Q_LINE.sub(q, abc_text))


# ---------------------------------------------------------------------------------------------
# Running the tools

def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MissingTool(f"{name} is not installed: install the Debian package "
                          f"{PACKAGES[name]} (sudo apt install {PACKAGES[name]})")
    return path


def _run(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    name = Path(argv[0]).name
    try:
        return subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RenderError(f"{name} took longer than {timeout:g} s and was stopped") from None


def _abc_to_midi(abc_text: str, folder: Path, tempo: int | None, timeout: float) -> tuple[AbcReport, Path | None]:
    """Run abc2midi on the first tune of `abc_text`, in `folder`. Returns the report and the MIDI, if written."""
    abc2midi = _tool("abc2midi")
    argv = [abc2midi, "tune.abc", "-o", "tune.mid"]
    if tempo is not None:
        abc_text = with_tempo(abc_text, tempo)
        argv += ["-Q", str(tempo)]  # for the bars before any Q:, or all of them when there is none
    (folder / "tune.abc").write_text(abc_text, encoding="utf-8")
    result = _run(argv, folder, timeout)  # cwd=folder: abc2midi may also drop files of its own there
    report = parse_abc2midi_output(result.stdout)
    aborted = [line.strip() for line in (result.stdout + result.stderr).splitlines() if "abort" in line.lower()]
    if aborted:  # a 10,000-bar tune: "eputc: aborting because of file runaway"; its MIDI is cut short
        raise RenderError(f"abc2midi gave up on the tune: {aborted[-1]}", report)
    midi = folder / "tune.mid"
    if not midi.exists():
        return report, None
    try:
        report.notes, report.duration_s = midi_notes_and_duration(midi.read_bytes())
    except (ValueError, IndexError, struct.error) as error:
        raise RenderError(f"abc2midi wrote a MIDI file that cannot be read ({error})", report) from None
    return report, midi


def check_abc(abc_text: str, timeout: float = 10) -> AbcReport:
    """abc2midi's opinion of the first tune in `abc_text`: errors, bar lengths, notes and duration.

    Runs only abc2midi (a few milliseconds), never timidity. Raises MissingTool or RenderError
    (timeout); a tune abc2midi cannot make anything of is a report with errors, not an exception.
    """
    with tempfile.TemporaryDirectory(prefix="musictui-") as folder:
        report, _ = _abc_to_midi(abc_text, Path(folder), None, timeout)
        return report


def midi_to_wav(midi_path: Path, wav_path: Path, timeout: float = 60) -> float:
    """Synthesize `midi_path` into `wav_path` with timidity; returns the WAV's length in seconds.

    Raises RenderError when timidity fails, times out or writes a WAV without sound.
    """
    timidity = _tool("timidity")
    with tempfile.TemporaryDirectory(prefix="musictui-") as folder:
        folder = Path(folder)
        shutil.copyfile(midi_path, folder / "tune.mid")
        argv = [timidity, "-Ow", "-o", "tune.wav", f"--volume={TIMIDITY_VOLUME}"]
        if SOUNDFONT.exists():
            argv += ["-x", f"soundfont {SOUNDFONT}"]  # -x: one line of timidity config
        argv.append("tune.mid")
        result = _run(argv, folder, timeout)
        wav = folder / "tune.wav"
        frames, rate = _wav_frames(wav)
        if frames == 0:
            # timidity says why on stdout or stderr ("Not a MIDI file!") but still exits 0.
            said = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
            why = said[-1].strip() if said else f"exit status {result.returncode}"
            raise RenderError(f"timidity made no sound from {midi_path.name}: {why}")
        put_whole(wav, wav_path)
        return frames / rate


def render(abc_text: str, wav_path: Path | None = None, midi_path: Path | None = None,
           tempo: int | None = None, timeout: float = 60) -> Rendered:
    """Render the first tune of `abc_text` to a WAV (and a MIDI file if `midi_path` is given).

    `tempo` (quarter notes a minute, 24-204) replaces the tune's Q:, or supplies one; None keeps
    the tune's own, or abc2midi's 120. Without `wav_path` the WAV goes to the user's cache folder
    (musictui.wav_cache), named after the tune and tempo, so rendering the same tune twice
    reuses one file. Errors inside the tune do not raise: they are in `.report`, and the WAV holds
    whatever abc2midi could make of it. Raises MissingTool, or RenderError when there is no sound
    to be had (no MIDI written, timidity failed, a timeout).
    """
    with tempfile.TemporaryDirectory(prefix="musictui-") as folder:
        report, midi = _abc_to_midi(abc_text, Path(folder), tempo, timeout)
        if midi is None or report.notes == 0:
            why = (f"line {report.errors[0].line}, char {report.errors[0].char}: {report.errors[0].message}"
                   if report.errors else "the tune has no notes")
            raise RenderError(f"abc2midi could not make MIDI from the tune ({why})", report)
        cached, wav_path = wav_path is None, wav_path or _cache_path(abc_text, tempo)
        duration = midi_to_wav(midi, Path(wav_path), timeout)
        if cached:
            wav_cache.prune(Path(wav_path).parent, keep=Path(wav_path))
        if midi_path is not None:
            put_whole(midi, Path(midi_path))
        return Rendered(Path(wav_path), midi_path and Path(midi_path), report, duration)


def _cache_path(abc_text: str, tempo: int | None) -> Path:
    return wav_cache.cache_dir() / f"tune-{hashlib.sha256(f'{tempo} {abc_text}'.encode()).hexdigest()[:16]}.wav"


def _wav_frames(path: Path) -> tuple[int, int]:
    """(frames, sample rate) of a WAV; (0, 1) when it is missing or not a WAV at all."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes(), wav.getframerate()
    except (OSError, EOFError, wave.Error):
        return 0, 1


# ---------------------------------------------------------------------------------------------
# Choosing one tune from a file that holds many

from musictui.notation.tunes import PickedTune, pick_tune  # noqa: E402,F401 (one home for tunes)
