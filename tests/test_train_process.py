"""Training in its own process: a real child, real pipes, real signals, a real tiny model."""
from __future__ import annotations

import signal

import pytest

from musictui.app.train_process import TrainProcess
from musictui.checkpoint import list_checkpoints, load_checkpoint

LONG = dict(steps=100_000, eval_every=20, checkpoint_every=100_000)


def next_event(events, kind: str, limit: int = 10_000) -> dict:
    for _ in range(limit):
        event = next(events)
        if event["event"] == kind:
            return event
        assert event["event"] != "error", event
    raise AssertionError(f"no {kind} event")


def steps_until(events, step: int) -> int:
    while True:
        event = next_event(events, "steps")
        if event["metrics"][-1]["step"] >= step:
            return event["metrics"][-1]["step"]


def test_start_pause_save_resume_stop_over_the_pipe(tmp_path):
    folder = tmp_path / "ckpt"
    child = TrainProcess(folder, preset="tiny", overrides=LONG)
    events = child.events()
    ready = next_event(events, "ready")
    assert ready["step"] == 0 and ready["steps"] == 100_000
    child.send("start")
    steps_until(events, 25)
    sample = next_event(events, "sample")  # made in the child, at the evaluation
    assert sample["step"] % 20 == 0 and sample["text"].startswith("X:")
    child.send("pause")
    paused = next_event(events, "paused")["step"]
    child.send("save")
    saved = next_event(events, "saved")
    assert saved["step"] == paused and load_checkpoint(saved["path"]).step == paused
    child.send("resume")
    steps_until(events, paused + 5)
    child.send("save")  # while training: saved between two steps
    assert next_event(events, "saved")["step"] > paused
    child.send("stop")
    bye = next_event(events, "bye")
    assert child.close() == 0
    assert load_checkpoint(list_checkpoints(folder)[-1]).step == bye["step"]  # the last step saved


@pytest.mark.parametrize("how", ["stdin closed", "SIGTERM", "SIGHUP"])
def test_the_child_saves_and_exits_when_the_parent_goes_or_a_signal_comes(tmp_path, how):
    folder = tmp_path / "ckpt"
    child = TrainProcess(folder, preset="tiny", overrides=dict(LONG, eval_every=100_000))
    events = child.events()
    next_event(events, "ready")
    child.send("start")
    steps_until(events, 10)
    if how == "stdin closed":
        child.process.stdin.close()  # as when the app dies: the pipe's end is the only news
    else:
        child.process.send_signal(getattr(signal, how))
    bye = next_event(events, "bye")
    assert child.process.wait(60) == 0
    saved = list_checkpoints(folder)
    assert len(saved) == 1 and load_checkpoint(saved[0]).step == bye["step"] >= 10


def test_a_bad_corpus_is_one_error_event_and_exit_1(tmp_path):
    child = TrainProcess(tmp_path / "ckpt", corpus=tmp_path / "missing.abc", preset="tiny")
    event = next(child.events())
    assert event["event"] == "error" and "missing.abc" in event["message"]
    assert child.close() == 1
