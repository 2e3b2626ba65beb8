"""`musictui render` and `musictui play` as a user runs them: real processes, real tools."""
from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

JIG = "X:1\nT:Eight bars\nM:6/8\nL:1/8\nK:D\n" + "ABc def|fed cBA|" * 4 + "\n"
REEL = "X:2\nT:A reel\nM:4/4\nL:1/8\nK:G\n" + "ABcd efga|gfed cBAG|" * 2 + "\n"
# Line 7 closes a chord that was never opened: abc2midi reports an error, and still writes MIDI.
BROKEN = "X:1\nT:broken\nM:4/4\nL:1/8\nK:G\nABcd efga|ABc|\nAB(c d]e zz|\n"


def musictui(*args, cwd: Path, home: Path | None = None, path: str | None = None):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if home is not None:
        env["HOME"] = str(home)
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "musictui", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def one_line(stderr: str) -> str:
    """A failure is one line, prefixed, with no traceback."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("musictui: "), stderr
    return lines[0]


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def home_with(tmp_path: Path, asoundrc: str) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(asoundrc)
    return home


def test_render_writes_wav_and_midi_and_prints_the_report(tmp_path):
    (tmp_path / "jig.abc").write_text(JIG)
    done = musictui("render", "jig.abc", "--midi", "jig.mid", "--tempo", "180", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "tune 1 of 1: Eight bars" in done.stdout
    assert "48 notes, 8.0 s at 180 BPM" in done.stdout
    assert "wrote jig.wav (" in done.stdout and "wrote jig.mid" in done.stdout
    assert 8.0 <= wav_seconds(tmp_path / "jig.wav") <= 11.0  # 24 beats at 180, then the notes ring out
    assert (tmp_path / "jig.mid").read_bytes()[:4] == b"MThd"


def test_render_picks_a_tune_and_awkward_names_are_just_names(tmp_path):
    # Input starting with '-' (after '--', as for any command), output ending in '|'.
    (tmp_path / "-my 'tunes' |.abc").write_text(f"{JIG}\n{REEL}")
    done = musictui("render", "--tune", "2", "-o", "out \"2\".wav|", "--", "-my 'tunes' |.abc",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "tune 2 of 2 (line 8 of the file): A reel" in done.stdout
    assert wav_seconds(tmp_path / "out \"2\".wav|") > 8.0  # 4 bars of 4 beats at 120
    assert sorted(p.name for p in tmp_path.iterdir()) == ["-my 'tunes' |.abc", "out \"2\".wav|"]


def test_render_with_an_abc_error_fails_with_line_and_char_and_keeps_the_wav(tmp_path):
    (tmp_path / "broken.abc").write_text(BROKEN)
    done = musictui("render", "broken.abc", cwd=tmp_path)
    assert done.returncode == 1
    assert "error: line 7, char 6: Chord already finished" in done.stdout
    assert "bar 1 (line 6) is 3/2 units long; the meter asks for 4" in done.stdout
    line = one_line(done.stderr)
    assert "line 7, char 6: Chord already finished" in line
    assert "the WAV is kept at broken.wav" in line and (tmp_path / "broken.wav").exists()


def test_render_failures_are_one_line(tmp_path):
    (tmp_path / "jig.abc").write_text(JIG)
    (tmp_path / "words.abc").write_text("no tune in here\n")
    cases = {
        ("render", "missing.abc"): "no such file: missing.abc",
        ("render", "jig.abc", "--tempo", "300"): "tempo 300 is out of range: choose 24 to 204",
        ("render", "jig.abc", "--tune", "2"): "there is no tune 2: the file holds 1 tune (1 to 1)",
        ("render", "words.abc"): "no tune found",
    }
    for args, message in cases.items():
        done = musictui(*args, cwd=tmp_path)
        assert done.returncode == 1 and message in one_line(done.stderr), (args, done.stderr)


def test_missing_tool_names_the_debian_package(tmp_path):
    (tmp_path / "jig.abc").write_text(JIG)
    done = musictui("render", "jig.abc", cwd=tmp_path, path=str(tmp_path))
    assert done.returncode == 1
    assert "abc2midi is not installed: install the Debian package abcmidi" in one_line(done.stderr)


def test_play_a_wav_through_a_null_device(tmp_path):
    (tmp_path / "jig.abc").write_text(JIG)
    assert musictui("render", "jig.abc", "--tempo", "204", cwd=tmp_path).returncode == 0
    done = musictui("play", "jig.wav", cwd=tmp_path, home=home_with(tmp_path, "pcm.!default { type null }\n"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("playing jig.wav (") and done.stderr == ""


def test_play_an_abc_tune_through_a_null_device(tmp_path):
    (tmp_path / "jig.abc").write_text(JIG)
    done = musictui("play", "jig.abc", "--tempo", "204", cwd=tmp_path,
                    home=home_with(tmp_path, "pcm.!default { type null }\n"))
    assert done.returncode == 0, done.stderr
    assert "48 notes" in done.stdout and "playing " in done.stdout


def test_play_without_an_audio_device_says_so_and_where_the_wav_is(tmp_path):
    (tmp_path / "jig.abc").write_text(JIG)
    done = musictui("play", "jig.abc", "--tempo", "204", cwd=tmp_path,
                    home=home_with(tmp_path, "pcm.!default { type hw card nosuchcard }\n"))
    assert done.returncode == 1
    line = one_line(done.stderr)  # and no ALSA chatter around it
    assert line.startswith("musictui: no audio device")
    wav = Path(line.split("the WAV is saved at ")[1])
    assert wav_seconds(wav) > 7.0  # 24 beats at 204


def test_play_refuses_tempo_for_a_wav(tmp_path):
    done = musictui("play", "sound.wav", "--tempo", "90", cwd=tmp_path)
    assert done.returncode == 1 and "--tempo and --tune apply to ABC files" in one_line(done.stderr)
