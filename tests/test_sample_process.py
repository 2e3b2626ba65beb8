"""Sampling in its own process: a real child, real pipes, a real tiny model."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from musictui.app.sample_process import SampleProcess
from musictui.errors import UserError
from musictui.sample import Sampler, SampleSettings

PROMPT = "X:1\n"
SHORT = SampleSettings(seed=7, max_length=300)
ENDLESS = SampleSettings(seed=1, max_length=1_000_000, tunes=None)  # runs until it is stopped


@pytest.fixture
def sampling(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the child's thread count, as here: the same characters
    process = SampleProcess()
    yield process
    process.close()


def written(events) -> str:
    return "".join(value for kind, value in events if kind == "chars")


def here(path: Path, settings: SampleSettings) -> str:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return "".join(Sampler.from_checkpoint(path).stream(PROMPT, settings))
    finally:
        torch.set_num_threads(threads)


def test_a_tune_from_the_child_is_the_tune_the_sampler_writes_here(sampling, tiny_checkpoint):
    events = list(sampling.stream(tiny_checkpoint, PROMPT, SHORT))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "loaded" and kinds[-1] == "finished" and set(kinds[1:-1]) == {"chars"}
    chars, seconds = events[-1][1]
    assert chars == len(written(events)) > 0 and seconds > 0
    assert written(events) == here(tiny_checkpoint, SHORT)


def test_a_tune_cut_short_stops_the_child_and_the_next_tune_is_clean(sampling, tiny_checkpoint):
    # Cancelled by the worker's flag: nothing comes after it.
    chunks = []
    for kind, value in sampling.stream(tiny_checkpoint, PROMPT, ENDLESS, cancelled=lambda: len(chunks) >= 2):
        if kind == "chars":
            chunks.append(value)
    assert len(chunks) == 2
    pid = sampling.process.pid
    # Or dropped half-way by its reader (a generator closed early).
    stream = sampling.stream(tiny_checkpoint, PROMPT, ENDLESS)
    assert next(stream)[0] == "loaded" and next(stream)[0] == "chars"
    stream.close()
    # The same child, and the next tune holds none of the endless ones' characters.
    assert written(sampling.stream(tiny_checkpoint, PROMPT, SHORT)) == here(tiny_checkpoint, SHORT)
    assert sampling.process.pid == pid


def test_a_bad_checkpoint_is_one_line_and_the_child_stays_for_the_next_tune(sampling, tiny_checkpoint, tmp_path):
    bad = tmp_path / "step-0000100.safetensors"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(UserError) as caught:
        list(sampling.stream(bad, PROMPT, SHORT))
    assert str(bad) in str(caught.value) and "\n" not in str(caught.value)
    pid = sampling.process.pid
    assert written(sampling.stream(tiny_checkpoint, PROMPT, SHORT))
    assert sampling.process.pid == pid


def test_the_child_leaves_when_the_app_is_killed(tiny_checkpoint):
    """No orphan: the app's process is killed mid-tune (SIGKILL, nothing of ours runs); its pipe
    closes and the child stops within seconds."""
    parent = subprocess.Popen([sys.executable, "-c", f"""
import sys
from musictui.app.sample_process import SampleProcess
from musictui.sample import SampleSettings
sampling = SampleProcess()
for kind, _ in sampling.stream({str(tiny_checkpoint)!r}, "X:1\\n", SampleSettings(max_length=10**6, tunes=None)):
    if kind == "chars":
        print(sampling.process.pid, flush=True)
        break
sys.stdin.read()  # held, mid-tune, until killed
"""], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        try:  # a zombie (gone, not yet reaped by init) counts as gone
            if Path(f"/proc/{child}/stat").read_text().split()[2] == "Z":
                return
        except FileNotFoundError:
            return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    raise AssertionError("the sampling process outlived the app by 20 s")


def test_a_child_that_dies_mid_tune_is_one_line_and_the_next_tune_starts_another(sampling, tiny_checkpoint):
    stream = sampling.stream(tiny_checkpoint, PROMPT, ENDLESS)
    assert next(stream)[0] == "loaded"
    first = sampling.process
    first.kill()  # the OOM killer, say
    with pytest.raises(UserError, match="the sampling process ended unexpectedly.*press n to start it again"):
        for _ in stream:
            pass
    assert written(sampling.stream(tiny_checkpoint, PROMPT, SHORT)) == here(tiny_checkpoint, SHORT)
    assert sampling.process is not first
