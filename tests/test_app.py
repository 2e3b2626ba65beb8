"""The app driven by Textual's Pilot: every key and screen, with a `tiny` model and a temporary folder."""
from __future__ import annotations

import asyncio
import functools
import shutil
import time
from pathlib import Path

import pytest

from musictui.app.app import make_app
from musictui.app.screens.generate import GenerateScreen
from musictui.app.screens.help import HelpScreen
from musictui.app.screens.train import TRAIN_POINTS, TrainScreen
from musictui.app.sources import LIVE

SIZE = (110, 34)


def run_async(test):
    """Run an async test with asyncio.run (the project has no pytest-asyncio)."""
    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))
    return wrapper


async def wait_for(pilot, condition, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


@pytest.fixture
def run_dir(tmp_path, tiny_checkpoint) -> Path:
    """A checkpoint folder holding the session's trained tiny checkpoint (a finished 300-step run)."""
    folder = tmp_path / "ckpt"
    folder.mkdir()
    shutil.copy(tiny_checkpoint, folder / tiny_checkpoint.name)
    return folder


@pytest.fixture
def no_sound(monkeypatch):
    """Playing always finds no sound card (the normal case on servers), whatever this machine has."""
    from musictui.playback import NoAudioDevice, Player

    played = []

    def play(self, wav_path):
        played.append(Path(wav_path))
        raise NoAudioDevice(Path(wav_path), "test: no sound card")

    monkeypatch.setattr(Player, "play", play)
    return played


@run_async
async def test_first_frame_says_loading_then_the_run_is_ready(tmp_path):
    app = make_app(checkpoint_dir=tmp_path / "ckpt", preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, TrainScreen)
        assert "Loading" in str(app.screen.query_one("#status").render())
        await wait_for(pilot, lambda: app.train_screen.state == "ready", what="the run to load")
        assert "space" in str(app.screen.query_one("#status").render())
        footer_keys = {b.binding.key for b in app.active_bindings.values() if b.binding.show}
        assert {"t", "g", "space", "n", "r", "s", "question_mark", "q", "c"} <= footer_keys


@run_async
async def test_space_trains_and_pauses_c_saves_q_saves_then_quits(tmp_path):
    folder = tmp_path / "ckpt"
    app = make_app(checkpoint_dir=folder, preset="tiny",
                   overrides=dict(steps=100_000, eval_every=10, checkpoint_every=100_000))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.train_screen
        await wait_for(pilot, lambda: screen.state == "ready")
        await pilot.press("space")
        assert screen.state == "training"
        await wait_for(pilot, lambda: len(screen.val_losses) >= 2, what="two evaluations")
        await wait_for(pilot, lambda: "X:" in str(screen.query_one("#sample").render()), what="a sample")
        assert len(screen.query_one("#train-loss").data) == len(screen.train_losses) > 10
        assert "step" in str(screen.query_one("#progress-text").render())
        assert "left" in str(screen.query_one("#progress-text").render())

        await pilot.press("c")  # saved by the training thread between two steps
        await wait_for(pilot, lambda: list(folder.glob("*.safetensors")), what="the checkpoint")
        await wait_for(pilot, lambda: "last checkpoint: " + str(folder) in str(screen.query_one("#checkpoint").render()))

        await pilot.press("space")
        await wait_for(pilot, lambda: screen.state == "paused", what="the pause")
        paused_at = screen.trainer.step
        await pilot.pause(0.3)
        assert screen.trainer.step == paused_at

        await pilot.press("space")  # resume; then quit while training
        await wait_for(pilot, lambda: screen.trainer.step > paused_at + 5)
        await pilot.press("q")
        await wait_for(pilot, lambda: app.saved_on_quit is not None, what="the save on quit")
    assert app.saved_on_quit.exists()
    assert app.saved_on_quit.name == f"step-{screen.trainer.step:07d}.safetensors"


@run_async
async def test_training_goes_on_behind_the_generate_screen(tmp_path):
    app = make_app(checkpoint_dir=tmp_path / "ckpt", preset="tiny", overrides=dict(steps=100_000), autostart=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.train_screen.state == "training")
        await pilot.press("g")
        assert isinstance(app.screen, GenerateScreen)
        step = app.train_screen.trainer.step
        await wait_for(pilot, lambda: app.train_screen.trainer.step > step + 10, what="steps behind the screen")
        await pilot.press("t")
        assert isinstance(app.screen, TrainScreen)
        await pilot.press("space")
        await wait_for(pilot, lambda: app.train_screen.state == "paused")


@run_async
async def test_n_streams_a_tune_renders_it_and_r_s_w_work(run_dir, tmp_path, no_sound):
    app = make_app(checkpoint_dir=run_dir, preset="tiny", tunes_dir=tmp_path / "tunes")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        screen = app.generate_screen
        assert screen.query_one("#source").value == "newest"  # the user's own run
        screen.query_one("#seed").value = "3"
        screen.query_one("#meter").value = "6/8"
        screen.query_one("#key").value = "D"
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.tunes, what="the tune")
        tune = screen.tunes[0]
        assert tune.text.startswith("X:1\nM:6/8\nK:D\n")
        log_text = "\n".join(screen.query_one("#abc").lines)
        assert tune.text in log_text
        assert screen.last_rate and screen.last_rate > 0
        assert str(run_dir) in tune.source
        await wait_for(pilot, lambda: "abc2midi:" in str(screen.query_one("#report").render()), what="the report")
        await wait_for(pilot, lambda: any("WAV is saved at" in m for m in notes(app)), what="no-sound message")
        assert no_sound and no_sound[0].suffix == ".wav" and no_sound[0].exists()

        await pilot.press("r")  # replay: the same WAV again
        await wait_for(pilot, lambda: len(no_sound) == 2)
        assert no_sound[1] == no_sound[0]
        await pilot.press("s")
        await pilot.press("w")
        await wait_for(pilot, lambda: len(list((tmp_path / "tunes").glob("tune-01-*"))) == 3, what="saved files")
        assert sorted(p.suffix for p in (tmp_path / "tunes").iterdir()) == [".abc", ".mid", ".wav"]


@run_async
async def test_the_same_seed_gives_the_same_tune_and_the_list_shows_each(run_dir, no_sound):
    app = make_app(checkpoint_dir=run_dir, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.generate_screen
        await pilot.press("g")
        screen.query_one("#seed").value = "7"
        await pilot.press("n")
        await wait_for(pilot, lambda: len(screen.tunes) == 1)
        await pilot.press("n")
        await wait_for(pilot, lambda: len(screen.tunes) == 2)
        assert screen.tunes[0].text == screen.tunes[1].text
        screen.query_one("#seed").value = "8"
        await pilot.press("n")
        await wait_for(pilot, lambda: len(screen.tunes) == 3)
        assert screen.tunes[2].text != screen.tunes[0].text

        tunes = screen.query_one("#tunes")
        assert tunes.option_count == 3
        tunes.focus()
        tunes.highlighted = 0
        await pilot.press("enter")  # pick tune 1: shown again (and replayed)
        assert screen.current is screen.tunes[0]
        assert "\n".join(screen.query_one("#abc").lines).startswith(screen.tunes[0].text)


@run_async
async def test_generating_from_the_live_training_weights_leaves_training_alone(tmp_path, no_sound):
    app = make_app(checkpoint_dir=tmp_path / "ckpt", preset="tiny", overrides=dict(steps=100_000), autostart=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.train_screen.state == "training")
        await pilot.press("g")
        screen = app.generate_screen
        screen.query_one("#source").value = LIVE
        step = app.train_screen.trainer.step
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.tunes, what="a tune from the live weights")
        assert screen.tunes[0].source.startswith("training weights at step")
        assert app.train_screen.trainer.model.training  # the training model was never put in eval mode
        assert app.train_screen.trainer.step > step
        await pilot.press("space")
        await wait_for(pilot, lambda: app.train_screen.state == "paused")


@run_async
async def test_help_opens_and_closes_and_keys_move_between_screens(tmp_path):
    app = make_app(checkpoint_dir=tmp_path / "ckpt", preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, TrainScreen)
        await pilot.press("question_mark")
        await pilot.press("g")  # a screen key also leaves the help
        assert isinstance(app.screen, GenerateScreen)
        await pilot.press("escape")  # leaving an input hands keys back to the app
        await pilot.press("t")
        assert isinstance(app.screen, TrainScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Train screen", "Generate screen", "Start or pause training", "Save a checkpoint now",
                       "New tune", "Replay the tune", "Stop the sound", "Save the tune"):
            assert wanted in titles
        await pilot.press("ctrl+q")
    assert app.saved_on_quit is None  # nothing trained, nothing saved


@run_async
async def test_typing_in_a_field_does_not_trigger_keys(run_dir):
    app = make_app(checkpoint_dir=run_dir, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        app.generate_screen.query_one("#title").focus()
        await pilot.press("n", "g", "t", "q")
        assert app.generate_screen.query_one("#title").value == "ngtq"
        assert isinstance(app.screen, GenerateScreen) and not app.generate_screen.tunes
        await pilot.press("enter")  # submitting returns focus to the tune
        await pilot.press("t")
        assert isinstance(app.screen, TrainScreen)


@run_async
async def test_user_errors_become_notifications(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "step-0000001.safetensors").write_bytes(b"not a checkpoint")
    app = make_app(checkpoint_dir=bad, corpus=tmp_path / "missing.abc", preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.train_screen.state == "failed", what="the load to fail")
        assert any("corpus not found" in m for m in notes(app))
        await pilot.press("space")
        await pilot.press("c")
        await pilot.press("g")
        await pilot.press("n")  # the newest checkpoint is not a checkpoint
        await wait_for(pilot, lambda: any("not a readable checkpoint" in m for m in notes(app)))
        app.generate_screen.query_one("#temperature").value = "-1"
        await pilot.press("n")
        assert any("temperature must be greater than 0" in m for m in notes(app))
        await pilot.press("r")
        await pilot.press("w")
        assert any("No tune yet" in m for m in notes(app))


@run_async
async def test_histories_on_screen_stay_bounded(tmp_path):
    from musictui.train import StepMetrics

    app = make_app(checkpoint_dir=tmp_path / "ckpt", preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.train_screen
        await wait_for(pilot, lambda: screen.state == "ready")
        batch = [StepMetrics(step=i, total_steps=100_000, loss=2.0, chars_per_s=1000.0, elapsed_s=1.0,
                             eta_s=10.0, learning_rate=1e-3) for i in range(1, 5001)]
        screen.post_message(TrainScreen.Progress(batch))
        await pilot.pause()
        assert len(screen.train_losses) == TRAIN_POINTS
        assert len(screen.query_one("#train-loss").data) == TRAIN_POINTS


def test_the_commands_preset_names_are_the_models():
    from musictui.commands.app import PRESET_NAMES
    from musictui.model import PRESETS

    assert sorted(PRESET_NAMES) == sorted(PRESETS)
