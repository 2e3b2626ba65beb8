"""Hostile-input cases (issue 12) on the ABC side: header fields, tune extraction, --tunes N.

Same checks as the rest of the matrix (tests/hostile.py).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from hostile import files, musictui, refused, start


@pytest.mark.parametrize("args,words", [
    (["--unit", "0"], ["unit length", "1/8"]),
    (["--prompt", "X:1\nL:0\nK:C\n"], ["unit length '0'"]),
    (["--meter", "garbage"], ["meter 'garbage'", "6/8"]),
    (["--key", "H"], ["key 'H'", "D Major"]),
    # Accepted until a second sweep: each wrote a tune abc2midi cannot read, or a plan it dropped.
    (["--unit", "1/3"], ["unit length '1/3'", "power of 2"]),
    (["--key", "c major"], ["key 'c major'", "D Major"]),
    (["--type", "hornpipe", "--meter", "6/8"], ["R:hornpipe", "2/4", "not 6/8"]),
    (["--meter", "none"], ["M:none", "--form free"]),
])
def test_generate_refuses_bad_header_fields(tmp_path, args, words):
    before = files(tmp_path)
    refused(musictui("generate", "--seed", "1", *args, cwd=tmp_path, timeout=120), *words)
    assert files(tmp_path) == before


def test_extract_tunes_keeps_a_finished_tune_without_a_trailing_blank_line():
    from musictui.sample import extract_tunes

    tunes, _ = extract_tunes("X:1\nK:C\nabc|\n\nT:junk")
    assert len(tunes) == 1 and tunes[0].startswith("X:1")


def test_tunes_n_gives_n_tunes(tmp_path):
    done = musictui("generate", "--tunes", "12", "--seed", "3", "--out", "t.abc", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "t.abc").read_text().count("X:") == 12


def test_a_reader_that_leaves_early_ends_generate_quietly(tmp_path):
    """`musictui generate | head -c 40`: head closes the pipe; generate stops at its next write,
    with no "Broken pipe" and no traceback, and the status a shell tool has after SIGPIPE."""
    proc = start("generate", "--seed", "1", "--tunes", "50", cwd=tmp_path)
    assert len(proc.stdout.read(40)) == 40
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141, err
    assert [line for line in err.splitlines() if not line.startswith("% musictui generate:")] == []


def test_generate_out_never_writes_over_the_checkpoint_it_reads(tmp_path):
    """The checkpoint found in ./checkpoints (not named) is an input too: --out over it, even with
    --force, is refused, and the checkpoint is whole afterwards."""
    import shutil

    from musictui.runs import shipped_checkpoint

    run = tmp_path / "checkpoints"
    run.mkdir()
    ckpt = run / "step-0000600.safetensors"
    shutil.copyfile(shipped_checkpoint(), ckpt)
    before = files(tmp_path)
    for args in (["--out", ckpt], ["--checkpoint", run, "--out", ckpt]):
        refused(musictui("generate", "--seed", "1", *args, "--force", cwd=tmp_path), "is the input", status=1)
    assert files(tmp_path) == before


def test_generate_with_stdout_closed_still_saves_out(tmp_path):
    """`musictui generate --out t.abc >&-`: Python starts with sys.stdout None; the tune is saved."""
    import subprocess
    import sys

    done = subprocess.run(f"{sys.executable} -m musictui generate --seed 1 --out t.abc >&-", shell=True,
                          cwd=tmp_path, capture_output=False, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert (tmp_path / "t.abc").read_text().startswith("X:1\n")


def test_evaluate_out_dir_keeps_an_existing_tunes_abc_unless_forced(tmp_path):
    (tmp_path / "od").mkdir()
    (tmp_path / "od" / "tunes.abc").write_text("mine")
    (tmp_path / "afile").write_text("mine too")
    before = files(tmp_path)
    refused(musictui("evaluate", "--tunes", "1", "--out-dir", "od", cwd=tmp_path), "tunes.abc", "--force", status=1)
    refused(musictui("evaluate", "--tunes", "1", "--out-dir", "afile", cwd=tmp_path), "afile", "not a folder", status=1)
    assert files(tmp_path) == before
    done = musictui("evaluate", "--tunes", "1", "--length", "300", "--out-dir", "od", "--force", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "od" / "tunes.abc").read_text().startswith("% musictui evaluate")


HEADER = "X:1\nM:4/4\nL:1/8\nK:D\n"


@pytest.mark.parametrize("body,words", [
    ("ABcd|]", ["|]", "--form free"]),
    ('AB"D', ["chord name", 'close it with "']),
    ("AB[df", ["[...]", "close it with ]"]),
    ("[K:", ["[...]", "close it with ]"]),
])
def test_a_prompt_the_meter_aware_sampler_cannot_go_on_from_is_one_line(body, words):
    """These wrote 2,000 characters of `!` and no tune (a second sweep); now one line each."""
    from musictui.errors import UserError
    from musictui.sample_settings import SampleSettings, check_prompt_for_sampler

    with pytest.raises(UserError) as refused_:
        check_prompt_for_sampler(HEADER + body, SampleSettings())
    assert all(word in str(refused_.value) for word in words), str(refused_.value)
    check_prompt_for_sampler(HEADER + body, SampleSettings(meter_aware=False))  # the plain sampler writes its way out


@pytest.mark.parametrize("body", ["", "[1AB", "AB[|cd", 'AB"D"cd', "AB[df]", "|:AB cd|"])
def test_prompts_that_go_on_are_taken(body):
    from musictui.sample_settings import SampleSettings, check_prompt_for_sampler

    check_prompt_for_sampler(HEADER + body, SampleSettings())


def test_a_prompt_no_plan_can_continue_stops_with_one_line_not_a_page_of_bar_ends(tmp_path):
    done = musictui("generate", "--seed", "1", "--prompt", HEADER + "|:AB cd|[2", cwd=tmp_path, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]  # after generate's own "% musictui generate: CHECKPOINT"
    assert last.startswith("musictui: the meter-aware sampler cannot go on from this prompt") and "--form free" in last
    assert done.stdout.count("!") < 20


def test_the_generate_screen_refuses_a_plan_with_meter_none_as_the_command_does():
    from musictui.app.tunes import read_settings
    from musictui.errors import UserError

    with pytest.raises(UserError, match="M:none has no bars"):
        read_settings(temperature="", seed="", title="", meter="none", key="", form="2x8")
    read_settings(temperature="", seed="", title="", meter="none", key="", form="free")  # no plan: taken


def test_generate_names_standard_output_when_it_cannot_be_written(tmp_path):
    """`musictui generate > /dev/full` (or onto a full disk) said only "No space left on device"."""
    import stat
    import subprocess
    import sys

    if not stat.S_ISCHR(Path("/dev/full").stat().st_mode):
        pytest.skip("no /dev/full device here")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "musictui", "generate", "--seed", "1"], cwd=tmp_path,
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == "musictui: could not write the tune to standard output: No space left on device"


def test_a_prompt_that_is_not_utf8_names_its_bytes(tmp_path):
    """Python reads such bytes as lone surrogates: the message showed '\\udce9'."""
    import os

    done = musictui("generate", "--seed", "1", "--prompt", os.fsdecode(b"X:1\nT:Caf\xe9\n"), cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "bytes that are not UTF-8: 0xe9" in last and "\\udc" not in last, last
    assert "characters not in" not in last  # only the byte was unknown


@pytest.fixture
def full_small_disk(tmp_path):
    """A 400 kB tmpfs holding the user's t.abc, then filled to the last byte."""
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): the full-disk case needs root")
    try:
        (mount / "t.abc").write_text("X:1\nT:Mine, kept for years\nM:6/8\nL:1/8\nK:D\n" + "ABc def|" * 200 + "\n")
        with open(mount / "filler", "wb", buffering=0) as f:
            for chunk in (65536, 512):
                try:
                    while True:
                        f.write(b"\0" * chunk)
                except OSError:
                    pass
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_generate_out_force_on_a_full_disk_leaves_the_old_file_whole(tmp_path, full_small_disk):
    """--out was written in place: a full disk left the user's old file cut short. Now a temporary
    is written, then renamed; a failure leaves the old file and no temporary."""
    before = files(full_small_disk)
    done = musictui("generate", "--seed", "1", "--out", full_small_disk / "t.abc", "--force", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "t.abc" in last and "no space left" in last.lower() and ".partial" not in last, last
    assert files(full_small_disk) == before
