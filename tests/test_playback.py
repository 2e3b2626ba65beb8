"""musictui.playback through real ALSA: a null device (plays, no sound card needed) and a missing one.

ALSA reads ~/.asoundrc when a process first opens it, so each case runs in a child process with
its own HOME. No mocks: simpleaudio, libasound and sox's `play` do the work.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent

# The default PCM discards what it is given: playback "works" with no sound card at all.
NULL_DEVICE = "pcm.!default { type null }\n"
# The default PCM is a card that exists on no machine: the no-device path, everywhere (and ALSA
# complains on stderr about it, as it does on a machine with no sound card).
NO_DEVICE = "pcm.!default { type hw card nosuchcard }\n"

# The child: play a WAV, stop it, replay it, wait for the end; print what it saw as JSON.
PLAY_SCRIPT = """
import json, sys
if sys.argv[2] == "no-simpleaudio":
    sys.modules["simpleaudio"] = None  # `import simpleaudio` now raises ImportError
from musictui.errors import UserError
from musictui.playback import Player
player = Player()
seen = {"backend": player.backend}
try:
    first = player.play(sys.argv[1])
    seen["duration_s"] = first.duration_s
    first.stop()
    seen["stopped"] = not first.is_playing()
    seen["stopped_elapsed_s"] = first.elapsed_s
    again = player.play(sys.argv[1])  # replay
    seen["ended"] = again.wait(timeout=10)
    seen["ended_playing"] = again.is_playing()
    seen["elapsed_s"] = again.elapsed_s
except UserError as error:
    seen["error"] = str(error)
print(json.dumps(seen))
"""


def write_tone(path: Path, seconds: float = 0.5, rate: int = 22050) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(tone.tobytes())
    return path


def run_player(tmp_path: Path, asoundrc: str, wav: Path, mode: str = "simpleaudio",
               path: str | None = None) -> tuple[dict, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / ".asoundrc").write_text(asoundrc)
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}
    if path is not None:
        env["PATH"] = path
    done = subprocess.run([sys.executable, "-c", PLAY_SCRIPT, str(wav), mode], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


@pytest.fixture
def tone(tmp_path) -> Path:
    return write_tone(tmp_path / "a tone with 'quotes' |.wav")


def test_simpleaudio_plays_stops_and_replays_on_a_null_device(tmp_path, tone):
    seen, stderr = run_player(tmp_path, NULL_DEVICE, tone)
    assert seen["backend"] == "simpleaudio" and "error" not in seen
    assert seen["duration_s"] == pytest.approx(0.5)
    assert seen["stopped"] and 0 <= seen["stopped_elapsed_s"] <= 0.5
    # The null device swallows samples as fast as they come, so "the end" comes at once.
    assert seen["ended"] and not seen["ended_playing"] and 0 <= seen["elapsed_s"] <= 0.5
    assert stderr == ""


def test_no_audio_device_says_so_and_where_the_wav_is(tmp_path, tone):
    seen, stderr = run_player(tmp_path, NO_DEVICE, tone)
    assert seen["error"].startswith("no audio device")
    assert f"the WAV is saved at {tone}" in seen["error"]
    assert "ALSA lib" not in stderr  # libasound's complaints are silenced...


def test_alsa_chatter_is_there_without_silence_alsa(tmp_path, tone):
    # ...and this shows they would otherwise be there: simpleaudio alone, same device.
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(NO_DEVICE)
    script = ("import simpleaudio, sys\n"
              "try: simpleaudio.WaveObject.from_wave_file(sys.argv[1]).play()\n"
              "except Exception: pass\n")
    done = subprocess.run([sys.executable, "-c", script, str(tone)], capture_output=True, text=True,
                          env={**os.environ, "HOME": str(home)}, timeout=60)
    assert "ALSA lib" in done.stderr


def test_without_simpleaudio_a_command_line_player_plays(tmp_path, tone):
    # sox's `play` is the one fallback installed here; a PATH holding only it proves it is used.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("play") or "play not on PATH", bin_dir / "play")  # sox, wherever it is
    seen, _ = run_player(tmp_path, NULL_DEVICE, tone, "no-simpleaudio", path=str(bin_dir))
    assert seen["backend"] == "play" and "error" not in seen, seen
    assert seen["ended"] and not seen["ended_playing"]


def test_command_line_player_without_a_device(tmp_path, tone):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("play") or "play not on PATH", bin_dir / "play")  # sox, wherever it is
    seen, _ = run_player(tmp_path, NO_DEVICE, tone, "no-simpleaudio", path=str(bin_dir))
    assert seen["error"].startswith("no audio device") and str(tone) in seen["error"]


def test_without_any_player_says_none_is_available(tmp_path, tone):
    seen, _ = run_player(tmp_path, NULL_DEVICE, tone, "no-simpleaudio", path=str(tmp_path))
    assert seen["backend"] is None
    assert "simpleaudio cannot be imported" in seen["error"]
    assert "aplay, paplay, afplay, play" in seen["error"] and str(tone) in seen["error"]


def test_a_file_that_is_not_a_wav_is_a_user_error(tmp_path):
    from musictui.errors import UserError
    from musictui.playback import Player

    not_wav = tmp_path / "tune.wav"
    not_wav.write_text("X:1\n")
    with pytest.raises(UserError, match="not a PCM WAV file"):
        Player().play(not_wav)
    with pytest.raises(UserError, match="no such file"):
        Player().play(tmp_path / "missing.wav")


def test_the_audio_core_never_imports_textual():
    script = ("import sys, musictui.audio, musictui.playback, musictui.commands.play\n"
              "assert 'textual' not in sys.modules")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
