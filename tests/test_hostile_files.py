"""Hostile input, part 3: files a user owns are never overwritten, and odd sounds are one line (issue 12)."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import wave
from pathlib import Path

import pytest

from hostile import files, musictui, refused

JIG = "X:1\nT:Eight bars\nM:6/8\nL:1/8\nK:D\n" + "ABc def|fed cBA|" * 4 + "\n"
NULL_ALSA = "pcm.!default { type null }\n"


@pytest.fixture
def home(tmp_path) -> dict:
    """A HOME with a null ALSA device and no XDG_CACHE_HOME: the WAV cache goes to ~/.cache."""
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / ".asoundrc").write_text(NULL_ALSA)
    env = {"HOME": str(folder)}
    os.environ.pop("XDG_CACHE_HOME", None)
    return env


def test_render_never_writes_over_its_input(tmp_path):
    (tmp_path / "a.abc").write_text(JIG)
    before = files(tmp_path)
    refused(musictui("render", "a.abc", "-o", "a.abc", cwd=tmp_path), "a.abc", "input", status=1)
    refused(musictui("render", "a.abc", "--midi", "a.abc", cwd=tmp_path), "a.abc", "input", status=1)
    refused(musictui("render", "a.abc", "-o", "./sub/../a.abc", "--force", cwd=tmp_path), "input", status=1)
    refused(musictui("render", "a.abc", "-o", "x.wav", "--midi", "x.wav", cwd=tmp_path), "same file", status=1)
    assert files(tmp_path) == before


def test_render_overwrites_an_earlier_output_only_with_force(tmp_path):
    (tmp_path / "a.abc").write_text(JIG)
    (tmp_path / "a.wav").write_bytes(b"my own recording")
    (tmp_path / "a.mid").write_bytes(b"my own midi")
    before = files(tmp_path)
    refused(musictui("render", "a.abc", cwd=tmp_path), "a.wav", "--force", status=1)
    refused(musictui("render", "a.abc", "-o", "new.wav", "--midi", "a.mid", cwd=tmp_path), "a.mid", "--force", status=1)
    assert files(tmp_path) == before
    done = musictui("render", "a.abc", "--force", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "a.wav").read_bytes()[:4] == b"RIFF"


def test_export_never_writes_over_its_source(tmp_path, tiny_checkpoint):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tiny_checkpoint, run / "A.safetensors")
    before = files(run)
    refused(musictui("export", run / "A.safetensors", run / "A.safetensors"), "A.safetensors", "input", status=1)
    refused(musictui("export", run, run / "A.safetensors", "--force"), "input", status=1)  # a folder's newest
    (run / "B.safetensors").write_bytes(b"someone's file")
    before = files(run)
    refused(musictui("export", run / "A.safetensors", run / "B.safetensors"), "B.safetensors", "--force", status=1)
    assert files(run) == before
    done = musictui("export", run / "A.safetensors", run / "B.safetensors", "--force")
    assert done.returncode == 0, done.stderr


def test_generate_out_asks_for_force(tmp_path):
    (tmp_path / "tunes.abc").write_text("yesterday's tunes\n")
    before = files(tmp_path)
    refused(musictui("generate", "--out", "tunes.abc", "--seed", "1", cwd=tmp_path), "tunes.abc", "--force",
            status=1)
    assert files(tmp_path) == before


def _wav(path: Path, channels: int = 1, rate: int = 22050, width: int = 2, frames: int = 100) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(b"\0" * frames * channels * width)
    return path


def test_play_refuses_wavs_it_cannot_play_in_one_line(tmp_path, home):
    cases = {
        _wav(tmp_path / "eight.wav", channels=8): "8 channels",
        _wav(tmp_path / "slow.wav", rate=1): "1 Hz",
        _wav(tmp_path / "fast.wav", rate=4_000_000): "4,000,000 Hz",
    }
    zero = _wav(tmp_path / "zero.wav")
    data = bytearray(zero.read_bytes())
    data[24:28] = (0).to_bytes(4, "little")  # the header's sample rate: 0
    zero.write_bytes(bytes(data))
    cases[zero] = "0 Hz"
    for path, words in cases.items():
        refused(musictui("play", path, env=home), path.name, words, status=1)
    done = musictui("play", _wav(tmp_path / "fine.wav"), env=home)
    assert done.returncode == 0, done.stderr


def test_a_runaway_tune_says_what_abc2midi_said(tmp_path):
    bars = "|".join(["CDEF GABc"] * 10_000)
    (tmp_path / "long.abc").write_text(f"X:1\nT:long\nM:4/4\nL:1/8\nK:C\n{bars}|]\n")
    line = refused(musictui("render", "long.abc", cwd=tmp_path), "file runaway", status=1)
    assert "no notes" not in line
    assert not (tmp_path / "long.wav").exists()


def test_the_wav_cache_is_private_per_user_and_bounded(tmp_path, home):
    (tmp_path / "jig.abc").write_text(JIG)
    done = musictui("play", "jig.abc", "--tempo", "204", cwd=tmp_path, env=home)
    assert done.returncode == 0, done.stderr
    cache = Path(home["HOME"]) / ".cache" / "musictui"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert len(list(cache.glob("tune-*.wav"))) == 1
    xdg = tmp_path / "xdg"
    done = musictui("play", "jig.abc", "--tempo", "200", cwd=tmp_path, env={**home, "XDG_CACHE_HOME": str(xdg)})
    assert done.returncode == 0, done.stderr
    assert len(list((xdg / "musictui").glob("tune-*.wav"))) == 1

    from musictui import wav_cache

    for i in range(5):  # oldest first
        path = cache / f"old-{i}.wav"
        path.write_bytes(b"\0" * 1000)
        os.utime(path, (1000 + i, 1000 + i))
    removed = wav_cache.prune(cache, max_bytes=2500 + sum(p.stat().st_size for p in cache.glob("tune-*.wav")))
    assert [p.name for p in removed] == ["old-0.wav", "old-1.wav", "old-2.wav"]


def _special_files(folder: Path) -> tuple[Path, Path]:
    """A twin of /dev/null and a FIFO, made here (never the real /dev/null: a test once replaced it)."""
    null, fifo = folder / "dn", folder / "ff"
    try:
        os.mknod(null, 0o644 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod is not permitted here")
    os.mkfifo(fifo)
    return null, fifo


def _still_special(null: Path, fifo: Path) -> None:
    assert stat.S_ISCHR(null.stat().st_mode), "the device node was replaced by a regular file"
    assert stat.S_ISFIFO(fifo.stat().st_mode), "the FIFO was replaced by a regular file"


def test_render_never_replaces_a_device_or_a_pipe_even_with_force(tmp_path):
    (tmp_path / "a.abc").write_text(JIG)
    null, fifo = _special_files(tmp_path)
    for option in ("-o", "--midi", "--svg"):
        for special in (null, fifo):
            refused(musictui("render", "a.abc", "-o", "a.wav", option, special.name, "--force", cwd=tmp_path),
                    special.name, "not a regular file", status=1)
    _still_special(null, fifo)
    assert not (tmp_path / "a.wav").exists()


def test_export_generate_and_tunes_export_never_replace_a_device_or_a_pipe(tmp_path, tiny_checkpoint):
    null, fifo = _special_files(tmp_path)
    refused(musictui("export", tiny_checkpoint, null, "--force"), "dn", "not a regular file", status=1)
    refused(musictui("export", tiny_checkpoint, fifo, "--force"), "ff", "not a regular file", status=1)
    refused(musictui("generate", "--checkpoint", tiny_checkpoint, "--out", fifo, "--force", "--seed", "1"),
            "ff", "not a regular file", status=1)

    from musictui.sample_settings import SampleSettings
    from musictui.tunebook import keep

    data = tmp_path / "data"
    keep([JIG], "test", SampleSettings(), data / "musictui" / "tunes.db")
    env = {"XDG_DATA_HOME": str(data), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for name in ("dn.mid", "ff.wav"):  # `tunes export` has no check_output: put_whole refuses
        os.rename(null if name == "dn.mid" else fifo, tmp_path / name)
        refused(musictui("tunes", "export", "1", name, "--force", cwd=tmp_path, env=env),
                name, "not a regular file", status=1)
    _still_special(tmp_path / "dn.mid", tmp_path / "ff.wav")


def test_output_names_up_to_255_bytes_are_written(tmp_path, tiny_checkpoint):
    (tmp_path / "a.abc").write_text(JIG)
    longest = "n" * 251 + ".wav"  # 255 bytes: its temporary would be longer, so it is shortened
    wide = "é" * 125 + ".wav"  # 254 bytes in 129 characters
    for name in (longest, "n" * 237 + ".wav", wide):
        done = musictui("render", "a.abc", "-o", name, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / name).read_bytes()[:4] == b"RIFF"
    line = refused(musictui("render", "a.abc", "-o", "n" * 252 + ".wav", cwd=tmp_path), "too long", status=1)
    assert ".partial" not in line
    target = "c" * 243 + ".safetensors"  # 255 bytes
    done = musictui("export", tiny_checkpoint, tmp_path / target)
    assert done.returncode == 0, done.stderr
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]  # no temporary left


@pytest.fixture
def read_only_folder(tmp_path):
    """A read-only filesystem (a tmpfs mounted ro): root writes through chmod, not through this."""
    folder = tmp_path / "ro"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_folder_names_the_users_file_not_the_temporary(tmp_path, read_only_folder, tiny_checkpoint):
    (tmp_path / "a.abc").write_text(JIG)
    line = refused(musictui("render", "a.abc", "-o", "ro/t.wav", cwd=tmp_path), "ro/t.wav", "read-only", status=1)
    assert ".partial" not in line
    refused(musictui("render", "a.abc", "-o", "t.wav", "--midi", "ro/t.mid", cwd=tmp_path),
            "ro/t.mid", "read-only", status=1)
    line = refused(musictui("export", tiny_checkpoint, read_only_folder / "c.safetensors"),
                   "c.safetensors", "read-only", "not saved", status=1)
    assert ".tmp-" not in line


def test_render_given_a_wav_says_render_takes_abc(tmp_path):
    _wav(tmp_path / "qq.wav")
    before = files(tmp_path)
    line = refused(musictui("render", "qq.wav", cwd=tmp_path), "qq.wav", "not an ABC file", "play", status=1)
    assert "-o" not in line and "input" not in line  # no -o was given
    refused(musictui("render", "qq.mid", cwd=tmp_path), "qq.mid", "MIDI", status=1)
    assert files(tmp_path) == before


def test_play_says_why_a_file_is_not_a_wav(tmp_path, home):
    (tmp_path / "junk.wav").write_text("junk\n")
    (tmp_path / "empty.wav").write_bytes(b"")
    line = refused(musictui("play", "junk.wav", cwd=tmp_path, env=home), "junk.wav", "not a PCM WAV", status=1)
    assert "()" not in line and "header" in line
    line = refused(musictui("play", "empty.wav", cwd=tmp_path, env=home), "empty.wav", "empty", status=1)
    assert "()" not in line
