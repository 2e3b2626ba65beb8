"""Training in its own process: a real child, real pipes, real signals, a real tiny model."""
from __future__ import annotations

import signal
from pathlib import Path

import pytest

from musictui.app.train_process import TrainProcess
from musictui.checkpoint import list_checkpoints, load_checkpoint
from tests.test_app_robust import fill, full_disk  # noqa: F401 - a fixture, used by name

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


def test_a_diverged_loss_is_one_error_and_the_child_leaves_saving_nothing(tmp_path):
    """It used to raise out of the child's loop: a traceback in its stderr and no word to the app."""
    folder = tmp_path / "ckpt"
    child = TrainProcess(folder, preset="tiny", overrides=dict(LONG, learning_rate=1e38, grad_clip=0.0))
    events = child.events()
    next_event(events, "ready")
    child.send("start")
    seen = list(events)  # to the child's end
    errors = [e for e in seen if e["event"] == "error"]
    assert len(errors) == 1 and errors[0]["ended"], seen
    assert "training diverged" in errors[0]["message"] and "--learning-rate" in errors[0]["message"]
    assert seen[-1]["event"] == "bye"
    assert child.process.wait(60) == 1
    child.stderr.file.seek(0)
    assert "Traceback" not in child.stderr.file.read()
    child.close()
    assert not list_checkpoints(folder)  # weights that give NaN are never written


def test_a_snapshot_that_cannot_be_written_is_answered_not_raised(tmp_path, full_disk):
    """The generate screen's "training weights, now" on a full temporary folder: an answer the
    screen shows, not a child that dies (it used to raise out of the child's loop). In this
    process, with the snapshot folder on a real full disk: the child's own TMPDIR cannot be aimed
    at a full disk (tempfile passes over a folder it cannot write in)."""
    import tempfile

    from musictui.app.train_process import _Child
    from musictui.app.training import build_trainer

    child = _Child({})
    child.trainer, _ = build_trainer(tmp_path / "ckpt", None, "tiny", "cpu", LONG)
    child.snapshots = tempfile.TemporaryDirectory(dir=full_disk)
    said = []
    child.emit = lambda event, **fields: said.append({"event": event, **fields})
    fill(full_disk)
    child.between_steps({"do": "snapshot"})
    assert [e["event"] for e in said] == ["snapshot_failed"] and "No space left" in said[0]["message"]
    (full_disk / "filler").unlink()
    child.between_steps({"do": "snapshot"})
    assert said[-1]["event"] == "snapshot" and Path(said[-1]["path"]).parent == Path(child.snapshots.name)
    child.snapshots.cleanup()
    child.trainer.close()
