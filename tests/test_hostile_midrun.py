"""Hostile things that happen while a run trains: its lock file deleted, its folder replaced by a
file, a pipe where its metrics go, the disk filling, a second Ctrl+C before the save. Each ends
in one line that says what became of the steps trained since the last checkpoint."""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from hostile import refused, signal_and_wait, start, wait_for_lines
from musictui.checkpoint import CheckpointNotSaved, list_checkpoints, load_checkpoint, save_checkpoint
from musictui.errors import UserError
from musictui.run_folder import LOCK_NAME, FolderTakenOver
from musictui.train import build_trainer
from tests.test_app_robust import fill, full_disk  # noqa: F401 (a fixture)
from tests.test_hostile_training import FOREVER, TINY, _tunes


@pytest.fixture
def corpus(tmp_path) -> Path:
    path = tmp_path / "tunes.abc"
    path.write_text(_tunes(60))
    return path


@pytest.fixture
def trainer(tmp_path, corpus):
    trainer = build_trainer(tmp_path / "run", corpus, "tiny", {"steps": 10**6, "checkpoint_every": 10**6})
    yield trainer
    trainer.close()


def flock_free(path: Path) -> bool:
    """Whether another trainer could lock `path` now (a descriptor of our own: flock conflicts
    between two open files even in one process)."""
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True


def test_a_lock_file_deleted_mid_run_is_made_again_at_the_next_step(trainer):
    lock = trainer.checkpoint_dir / LOCK_NAME
    steps = trainer.run()
    next(steps)
    lock.unlink()
    assert flock_free(lock)  # the hole: a second trainer would get in now...
    lock.unlink()
    next(steps)
    assert lock.read_text().strip() == str(os.getpid())
    assert not flock_free(lock)  # ...and after one step it is refused again
    steps.close()


def test_a_trainer_that_got_in_after_the_lock_was_deleted_stops_this_run_unsaved(trainer):
    lock = trainer.checkpoint_dir / LOCK_NAME
    steps = trainer.run()
    next(steps)
    lock.unlink()
    with open(lock, "a+") as other:  # the second trainer, PID 4242, got there first
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        other.write("4242\n")
        other.flush()
        with pytest.raises(FolderTakenOver, match="PID 4242.*stops without writing there"):
            next(steps)
    assert trainer.step == 1 and not list_checkpoints(trainer.checkpoint_dir)
    assert "its 1 steps are not saved" in trainer.unsaved()


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_metrics_file_that_is_a_pipe_or_a_folder_is_refused_before_the_first_step(trainer, kind):
    metrics = trainer.checkpoint_dir / "metrics.jsonl"
    os.mkfifo(metrics) if kind == "fifo" else metrics.mkdir()
    outcome = []

    def first_step():  # in a thread: the old code blocked for good in open() on the pipe
        try:
            next(trainer.run())
        except UserError as error:
            outcome.append(str(error))

    thread = threading.Thread(target=first_step, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "training blocked on the metrics file"
    assert outcome and "is not a regular file" in outcome[0] and "metrics.jsonl" in outcome[0]
    assert trainer.step == 0


def test_a_checkpoint_folder_replaced_by_a_file_is_a_checkpoint_not_saved(trainer):
    folder = trainer.checkpoint_dir.parent / "gone"
    folder.write_text("a file where the run's folder was")
    with pytest.raises(CheckpointNotSaved, match=r"step 0 was not saved; .*gone is not a folder now"):
        save_checkpoint(trainer.checkpoint(), folder / "step-0000001.safetensors")


def test_a_full_disk_mid_run_saves_what_it_can_and_says_so(tmp_path, corpus, full_disk):  # noqa: F811
    """metrics.jsonl on a disk that fills while training, checkpoints on one with room: the run
    stops at the failed line, saves its step, and says which."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").symlink_to(full_disk / "metrics.jsonl")
    proc = start("train", *TINY, *FOREVER, "--corpus", corpus, "--checkpoint-dir", run)
    wait_for_lines(run / "metrics.jsonl", 3, proc)
    fill(full_disk)
    out, err = proc.communicate(timeout=120)
    line = refused(subprocess.CompletedProcess(proc.args, proc.returncode, out, err),
                   "metrics.jsonl", "no space left", "training stopped at step", "is saved", status=1)
    saved = list_checkpoints(run)
    assert len(saved) == 1 and f"step {load_checkpoint(saved[0]).step:,} is saved ({saved[0]})" in line


def test_a_second_signal_before_the_save_says_what_was_not_saved(tmp_path, corpus):
    run = tmp_path / "run"
    proc = start("train", *TINY, *FOREVER, "--corpus", corpus, "--checkpoint-dir", run)
    wait_for_lines(run / "metrics.jsonl", 3, proc)
    # Stopped, both signals wait for it together: the second comes before the first's save.
    os.kill(proc.pid, signal.SIGSTOP)
    os.kill(proc.pid, signal.SIGINT)
    os.kill(proc.pid, signal.SIGTERM)
    done = signal_and_wait(proc, signal.SIGCONT)
    said = done.stdout + done.stderr
    assert done.returncode == 130 and "Traceback" not in said, said
    assert not list_checkpoints(run)
    refused(done, "stopped at once by a second signal at step", "steps are not saved (no checkpoint was written)",
            status=130)
