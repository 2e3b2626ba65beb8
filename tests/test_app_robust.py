"""The app against a hostile but realistic user (issue 12): a full disk at quit, paths that look like
rich markup, a 40×10 terminal, saves asked for twice. Real files, a real tmpfs, a real model."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from musictui.app.app import make_app
from musictui.app.screens.save_elsewhere import SaveElsewhereScreen
from tests.test_app import SIZE, notes, open_generate, run_async, wait_for

TRAINING = dict(steps=100_000, eval_every=1000, checkpoint_every=100_000)


@pytest.fixture(autouse=True)
def _own_tune_book(tmp_path, monkeypatch):
    """Every app here keeps its tunes in a book of its own, never in the user's."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))



@pytest.fixture
def full_disk(tmp_path):
    """A 4 MiB tmpfs, unmounted afterwards; skipped where mounting is not allowed (no root, a
    container without CAP_SYS_ADMIN)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def train_a_few_steps(pilot, screen, steps: int) -> None:
    """Wait for the run to load, start it (space), and wait until it has trained `steps` steps."""
    await wait_for(pilot, lambda: screen.state == "ready")
    await pilot.press("space")
    await wait_for(pilot, lambda: screen.trainer.step >= steps, what=f"{steps} steps")


def fill(folder: Path) -> None:
    """Fill the file system of `folder` to the last byte (big writes, then small ones)."""
    with open(folder / "filler", "wb", buffering=0) as f:
        for chunk in (65536, 512):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError:
                pass


@run_async
async def test_q_on_a_full_disk_keeps_the_app_open_and_the_old_checkpoint_and_saves_elsewhere(full_disk, tmp_path):
    from musictui.checkpoint import list_checkpoints, load_checkpoint

    folder = full_disk / "run"
    app = make_app(checkpoint_dir=folder, preset="tiny", overrides=TRAINING)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.train_screen
        await train_a_few_steps(pilot, screen, 5)
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.state == "paused")
        await pilot.press("c")
        await wait_for(pilot, lambda: list_checkpoints(folder), what="the first checkpoint")
        old = list_checkpoints(folder)[-1]
        old_bytes = old.read_bytes()
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.trainer.step >= load_checkpoint(old).step + 5, what="more steps")
        fill(full_disk)

        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, SaveElsewhereScreen), what="the other-folder modal")
        assert app.is_running and app.saved_on_quit is None
        assert any("Could not save the checkpoint" in m and "No space left" in m for m in notes(app))
        assert list_checkpoints(folder) == [old] and old.read_bytes() == old_bytes  # whole, unchanged
        assert not [p for p in folder.iterdir() if ".tmp" in p.name]  # no half-written file left
        step = screen.trainer.step

        elsewhere = tmp_path / "rescue"
        field = app.screen.query_one("#save-elsewhere-folder")
        field.value = str(elsewhere)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.saved_on_quit is not None, what="the save elsewhere")
    saved = load_checkpoint(app.saved_on_quit)
    assert app.saved_on_quit.parent == elsewhere and saved.step == step
    assert app.return_code == 0


@run_async
async def test_a_disk_that_fills_while_training_pauses_the_run_and_it_goes_on_once_space_is_freed(full_disk):
    """The metrics file's next line finds the disk full: the run pauses, still whole in memory, and
    says why. It used to kill the training process, so q left without saving what was trained
    (and this file's first test failed whenever the disk filled a step before q)."""
    import json

    from musictui.checkpoint import list_checkpoints, load_checkpoint

    folder = full_disk / "run"
    app = make_app(checkpoint_dir=folder, preset="tiny", overrides=TRAINING)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.train_screen
        await train_a_few_steps(pilot, screen, 3)
        fill(full_disk)
        await wait_for(pilot, lambda: screen.state == "paused", what="the pause on a full disk")
        said = [m for m in notes(app) if "No space left" in m]
        assert said and "metrics.jsonl" in said[-1] and f"paused at step {screen.trainer.step:,}" in said[-1], notes(app)
        assert not screen.trainer.gone and screen.unsaved
        paused_at = screen.trainer.step

        (full_disk / "filler").unlink()
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.trainer.step >= paused_at + 3, what="training again")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="the quit")
    assert app.return_code == 0
    assert load_checkpoint(list_checkpoints(folder)[-1]).step == screen.trainer.step
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines][-1] == screen.trainer.step  # no line glued to a torn one


@run_async
async def test_the_modal_can_go_back_to_the_app_or_quit_without_saving(tmp_path):
    from textual.widgets import Button

    app = make_app(checkpoint_dir=tmp_path / "ckpt", preset="tiny", overrides=TRAINING)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.train_screen
        await wait_for(pilot, lambda: screen.state == "ready")
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.trainer.step >= 3, what="something unsaved")
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.state == "paused")
        # The run's folder becomes a file: the training process's save fails for real.
        shutil.rmtree(tmp_path / "ckpt")
        (tmp_path / "ckpt").write_text("not a folder")
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, SaveElsewhereScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, what="back to the train screen")
        assert app.is_running
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, SaveElsewhereScreen))
        app.screen.query_one("#quit-unsaved", Button).press()
        await wait_for(pilot, lambda: not app.is_running, what="the quit")
    assert app.return_code == 1


@run_async
async def test_paths_that_look_like_markup_are_shown_as_they_are(tmp_path, tiny_checkpoint):
    folder = tmp_path / "run[/oops][red]"  # the folder "oops][red]" inside "run["
    folder.mkdir(parents=True)
    shutil.copy(tiny_checkpoint, folder / tiny_checkpoint.name)
    app = make_app(checkpoint_dir=folder, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.train_screen.state == "done", what="the run to load")
        await wait_for(pilot, lambda: any("run[/oops][red]" in m for m in notes(app)), what="the note")
        screen = await open_generate(pilot, app)
        source = screen.query_one("#source")
        assert f"newest in {folder}/" in str(source.query_one("SelectCurrent #label").render())
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)
    assert app.return_code == 0


@run_async
async def test_a_40x10_terminal_says_the_minimum_size_and_q_still_quits(tmp_path):
    from musictui.app.size import MIN_HEIGHT, MIN_WIDTH

    app = make_app(checkpoint_dir=tmp_path / "ckpt", preset="tiny")
    async with app.run_test(size=(40, 10)) as pilot:
        await wait_for(pilot, lambda: app.train_screen.state == "ready")
        notice = app.screen.query_one(".too-small")
        assert notice.display and f"{MIN_WIDTH}×{MIN_HEIGHT}" in str(notice.render())
        assert not app.screen.query_one("#status").display
        await pilot.resize_terminal(*SIZE)
        await wait_for(pilot, lambda: not app.screen.query_one(".too-small").display, what="the panes back")
        assert app.screen.query_one("#status").display
        await pilot.resize_terminal(40, 10)
        await wait_for(pilot, lambda: app.screen.query_one(".too-small").display)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)


@run_async
async def test_c_twice_then_q_never_saves_twice_at_once(tmp_path):
    """c, c and q while training: the training process makes one save at a time, between two
    steps, and the quit's save holds the last step trained."""
    from musictui.checkpoint import list_checkpoints, load_checkpoint

    folder = tmp_path / "ckpt"
    app = make_app(checkpoint_dir=folder, preset="tiny", overrides=TRAINING)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.train_screen
        await train_a_few_steps(pilot, screen, 3)
        await pilot.press("c", "c")  # while training
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="the quit")
    run = screen.trainer
    assert any("Already saving" in m for m in notes(app)) or len(list_checkpoints(folder)) >= 2
    assert load_checkpoint(list_checkpoints(folder)[-1]).step == run.step == run.saved_step
    assert not [p for p in folder.iterdir() if ".tmp" in p.name]


@run_async
async def test_a_training_process_killed_mid_run_is_said_and_the_saved_checkpoint_kept(tmp_path):
    """The OOM killer or a stray `kill -9` takes the training child: the screen says so (it used to
    look paused, and space sent steps to nobody), keeps what was saved, and q still quits."""
    import os
    import signal

    from musictui.checkpoint import list_checkpoints, load_checkpoint

    folder = tmp_path / "ckpt"
    app = make_app(checkpoint_dir=folder, preset="tiny", overrides=TRAINING)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.train_screen
        await train_a_few_steps(pilot, screen, 3)
        await pilot.press("c")
        await wait_for(pilot, lambda: list_checkpoints(folder), what="the checkpoint")
        saved = list_checkpoints(folder)[-1]
        os.kill(screen.trainer.process.process.pid, signal.SIGKILL)
        await wait_for(pilot, lambda: screen.state == "ended", what="the screen to say the child ended")
        said = [m for m in notes(app) if "ended unexpectedly" in m]
        assert said and f"step {load_checkpoint(saved).step:,} is saved" in said[-1], notes(app)
        await pilot.press("space")
        await wait_for(pilot, lambda: sum("open the app again" in m.lower() for m in notes(app)) >= 2, what="space's answer")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="the quit")
    assert list_checkpoints(folder) == [saved] and load_checkpoint(saved).step >= 3
