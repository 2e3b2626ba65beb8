"""How the two main screens look, pinned with pytest-textual-snapshot.

Deterministic on purpose: the figures, curves, sample and tune are fixed values fed through the
screens' own messages and methods (no live training, no timings), paths are relative to a
temporary working folder, and notifications are cleared before the picture is taken.
Update after a deliberate change with `pytest tests/test_app_snapshots.py --snapshot-update`.
"""
from __future__ import annotations

import math
import shutil
import time

import pytest

from musictui.app.app import make_app
from musictui.app.screens.train import TrainScreen
from musictui.app.tunes import Tune

SIZE = (110, 34)


@pytest.fixture(autouse=True)
def _own_tune_book(tmp_path, monkeypatch):
    """Every app here keeps its tunes in a book of its own, never in the user's."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


TUNE = """X:1
T:The Snapshot Reel
M:4/4
L:1/8
K:D
|:A2FA dAFA|B2GB dBGB|A2FA dfed|cABc d2d2:|
|:fefg afdf|gfga bgeg|fefg afdf|egfe d2d2:|"""

SAMPLE = """X:1
T:Cailin Bhan
M:6/8
K:G
|:GAB dBG|c2e dBG|AGA BAG|A3 A2:|"""


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # so the paths on screen are the same on every machine
    return tmp_path


async def until(pilot, condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


def test_train_screen(snap_compare, in_tmp):
    from musictui.train import StepMetrics

    app = make_app(checkpoint_dir="ckpt", preset="tiny")

    async def feed(pilot):
        screen = app.train_screen
        await until(pilot, lambda: screen.state == "ready")
        steps = [StepMetrics(step=i, total_steps=2000, loss=1.2 + 3.0 * math.exp(-i / 60) + 0.15 * math.sin(i),
                             chars_per_s=4321.0, elapsed_s=i * 0.1, eta_s=(2000 - i) * 0.1, learning_rate=5e-3)
                 for i in range(1, 401)]
        steps[-1].checkpoint = in_tmp / "ckpt" / "step-0000400.safetensors"
        screen.val_losses.extend((s, 1.4 + 2.5 * math.exp(-s / 80)) for s in range(50, 401, 50))
        screen.trainer.best_val_loss = screen.val_losses[-1][1]
        screen.post_message(TrainScreen.Progress(steps))
        screen.post_message(TrainScreen.SampleReady(400, SAMPLE))
        await pilot.pause()
        await until(pilot, lambda: screen.query("#chart") and screen.query_one("#chart")._datasets)  # drawn on the chart's own tick
        screen.state = "paused"
        app.clear_notifications()
        screen.query_one("#checkpoint").update("last checkpoint: ckpt/step-0000400.safetensors")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=feed)


def test_generate_screen(snap_compare, in_tmp, tiny_checkpoint):
    (in_tmp / "ckpt").mkdir()
    shutil.copy(tiny_checkpoint, in_tmp / "ckpt" / tiny_checkpoint.name)
    app = make_app(checkpoint_dir="ckpt", preset="tiny")

    async def show(pilot):
        await until(pilot, lambda: app.train_screen.state == "done")
        await pilot.press("g")
        screen = app.generate_screen
        await until(pilot, lambda: app.screen is screen and app.focused is screen.query_one("#abc"))
        screen.query_one("#seed").value = "42"
        screen.query_one("#key").value = "D"
        for number, text in ((1, TUNE.replace("Snapshot Reel", "First Try")), (2, TUNE)):
            screen.add(Tune(number=number, text=text, complete=True, source="ckpt/step-0000300.safetensors",
                            report_text="abc2midi: 64 notes, 16.0 s, no problems"))
        screen.show(screen.tunes[-1])
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=show)
