"""Playing a WAV without blocking: simpleaudio, or a command-line player when it cannot be imported.

`Player().play(path)` returns at once with a `Playback` the caller polls (`is_playing`,
`elapsed_s`) to draw progress, or waits on. No sound card is the normal case on servers and in
containers: it becomes `NoAudioDevice`, a UserError that says where the WAV was saved.
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
import time
import wave
from pathlib import Path

from musictui.errors import UserError

# Tried in order when simpleaudio is missing: ALSA, PulseAudio, macOS, and sox's `play`.
FALLBACK_PLAYERS = ("aplay", "paplay", "afplay", "play")

# A player that fails this quickly found no device to play on (aplay exits within milliseconds).
_FAIL_FAST_S = 0.3


class NoAudioDevice(UserError):
    def __init__(self, wav_path: Path, detail: str = ""):
        detail = f" ({detail})" if detail else ""
        super().__init__(f"no audio device to play on{detail}; the WAV is saved at {wav_path}")
        self.wav_path = wav_path


class NoAudioPlayer(UserError):
    def __init__(self, wav_path: Path):
        super().__init__(
            "no way to play sound: simpleaudio cannot be imported (pip install simpleaudio-patched) "
            f"and none of {', '.join(FALLBACK_PLAYERS)} is installed; the WAV is saved at {wav_path}")
        self.wav_path = wav_path


# libasound writes its complaints ("ALSA lib confmisc.c:855: cannot find card '0'") straight to
# file descriptor 2, under any Python redirection, which would tear a terminal UI apart. It lets a
# program install its own error handler instead; ours does nothing. The C signature is variadic
# (file, line, function, err, fmt, ...): a callback that ignores the trailing arguments is safe.
_ALSA_HANDLER_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                      ctypes.c_int, ctypes.c_char_p)
_alsa_handler = None  # kept referenced: ALSA holds a pointer to it for the life of the process


def silence_alsa() -> bool:
    """Stop libasound printing to stderr, for this process. False where there is no ALSA (macOS)."""
    global _alsa_handler
    if _alsa_handler is not None:
        return True
    try:
        asound = ctypes.CDLL("libasound.so.2")
    except OSError:
        return False
    _alsa_handler = _ALSA_HANDLER_TYPE(lambda *args: None)
    asound.snd_lib_error_set_handler(_alsa_handler)
    return True


class Playback:
    """One WAV being played. Poll it; it never blocks except in `wait`."""

    def __init__(self, wav_path: Path, duration_s: float, handle, started: float):
        self.wav_path = wav_path
        self.duration_s = duration_s
        self._handle = handle  # has is_playing() and stop(): a simpleaudio PlayObject or _Process
        self._started = started  # time.monotonic() when the sound was asked for
        self._ended: float | None = None

    def is_playing(self) -> bool:
        if self._ended is None and not self._handle.is_playing():
            self._ended = time.monotonic()
        return self._ended is None

    @property
    def elapsed_s(self) -> float:
        """Seconds played so far; frozen when playback ends or is stopped."""
        self.is_playing()
        end = self._ended if self._ended is not None else time.monotonic()
        return min(end - self._started, self.duration_s)

    def stop(self) -> None:
        self._handle.stop()
        # simpleaudio stops its thread a moment later; to the caller it has stopped now.
        if self._ended is None:
            self._ended = time.monotonic()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until playback ends (or `timeout` seconds pass); True if it ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        # Short sleeps rather than one long wait, so Ctrl+C reaches Python promptly.
        while self.is_playing():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True


class _Process:
    """A command-line player, shaped like simpleaudio's PlayObject."""

    def __init__(self, process: subprocess.Popen):
        self.process = process

    def is_playing(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Player:
    """Plays one WAV at a time: a new `play` stops the one before (so replay is just `play` again)."""

    def __init__(self):
        silence_alsa()  # before simpleaudio (or anything) opens ALSA
        try:
            import simpleaudio
        except ImportError:
            simpleaudio = None
        self._simpleaudio = simpleaudio
        self._current: Playback | None = None

    @property
    def backend(self) -> str | None:
        """'simpleaudio', the fallback command's name, or None when nothing can play."""
        if self._simpleaudio is not None:
            return "simpleaudio"
        return next((name for name in FALLBACK_PLAYERS if shutil.which(name)), None)

    def play(self, wav_path: Path) -> Playback:
        """Start playing and return at once. Raises NoAudioDevice, NoAudioPlayer, or UserError for a bad WAV."""
        wav_path = Path(wav_path)
        self.stop()
        duration = _wav_duration(wav_path)
        backend = self.backend
        started = time.monotonic()
        if backend == "simpleaudio":
            handle = self._play_simpleaudio(wav_path)
        elif backend is not None:
            handle = self._play_command(backend, wav_path)
        else:
            raise NoAudioPlayer(wav_path)
        self._current = Playback(wav_path, duration, handle, started)
        return self._current

    def stop(self) -> None:
        if self._current is not None:
            self._current.stop()
            self._current = None

    def _play_simpleaudio(self, wav_path: Path):
        from simpleaudio._simpleaudio import SimpleaudioError

        wave_object = self._simpleaudio.WaveObject.from_wave_file(str(wav_path))
        try:
            return wave_object.play()
        except ValueError as error:  # a truncated WAV: "Buffer size ... is not a multiple of ..."
            raise UserError(f"cannot play {wav_path}: {error}") from None
        except SimpleaudioError as error:
            # "Error opening PCM device. -- CODE: -2 -- MSG: No such file or directory"
            raise NoAudioDevice(wav_path, str(error).split(" -- ")[0].rstrip(".")) from None

    def _play_command(self, command: str, wav_path: Path) -> _Process:
        # An absolute path can never be mistaken for an option, whatever the file is called.
        # Its complaints go to a file, not a pipe: a pipe nobody drains could block or kill it.
        with tempfile.TemporaryFile() as said:
            process = subprocess.Popen([command, str(wav_path.resolve())], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=said)
            try:
                process.wait(timeout=_FAIL_FAST_S)
            except subprocess.TimeoutExpired:
                return _Process(process)  # still going: it found a device
            if process.returncode != 0:
                said.seek(0)
                lines = said.read().decode(errors="replace").strip().splitlines()
                raise NoAudioDevice(wav_path, lines[-1] if lines else f"{command} failed")
        return _Process(process)  # a WAV shorter than _FAIL_FAST_S, already played


# What simpleaudio (and ALSA through it) can play; anything else was a ValueError from deep inside.
PLAYABLE_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 192000)


def _wav_duration(wav_path: Path) -> float:
    """The WAV's length in seconds; a UserError naming what is wrong with one that cannot play."""
    try:
        with wave.open(str(wav_path), "rb") as wav:
            channels, width, rate, frames = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(),
                                             wav.getnframes())
    except FileNotFoundError:
        raise UserError(f"no such file: {wav_path}") from None
    except IsADirectoryError:
        raise UserError(f"cannot play {wav_path}: it is a folder") from None
    except (OSError, EOFError, wave.Error) as error:
        raise UserError(f"cannot play {wav_path}: not a PCM WAV file ({_why_not_wav(wav_path, error)})") from None
    if channels not in (1, 2):
        raise UserError(f"cannot play {wav_path}: it has {channels} channels; musictui plays mono or stereo")
    if width not in (1, 2, 3, 4):
        raise UserError(f"cannot play {wav_path}: {width * 8}-bit samples; musictui plays 8 to 32 bits")
    if rate not in PLAYABLE_RATES:
        raise UserError(f"cannot play {wav_path}: its sample rate is {rate:,} Hz; musictui plays "
                        f"{', '.join(f'{r:,}' for r in PLAYABLE_RATES)} Hz (convert it, e.g. with sox)")
    return frames / rate


def _why_not_wav(wav_path: Path, error: Exception) -> str:
    """What `wave` found wrong, in words: its EOFError has no message ("()" said nothing)."""
    if isinstance(error, EOFError):
        return "it is empty" if wav_path.stat().st_size == 0 else "it ends inside its header"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror  # not "[Errno 13] Permission denied: 'x.wav'", which repeats the name
    return str(error)
