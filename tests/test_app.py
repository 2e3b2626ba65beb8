"""The app driven by Textual's Pilot: every key and screen, with a `tiny` model and a temporary folder.

No test depends on how fast the machine is. A key's effect is awaited (`wait_for`), never assumed
done when `press` returns: a key can travel through several message queues, and `press` waits
only for the first. A state that lasts only while a worker runs is held open by the test.
"""
from __future__ import annotations

import asyncio
import functools
import shutil
import threading
import time
from pathlib import Path

import pytest

from musictui.app.app import make_app
from musictui.app.screens.generate import GenerateScreen
from musictui.app.screens.help import HelpScreen
from musictui.app.screens.train import TRAIN_POINTS, TrainScreen
from musictui.app.sources import LIVE

SIZE = (110, 34)


@pytest.fixture(autouse=True)
def _own_tune_book(tmp_path, monkeypatch):
    """Every app here keeps its tunes in a book of its own, never in the user's."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))



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


def key_bar_keys(app) -> set[str]:
    """What the current screen's bottom line offers, as "key Description" pairs."""
    from musictui.app.widgets.key_bar import KeyBar

    text = app.screen.query_one(KeyBar).keys_content().plain
    return {pair.strip() for pair in text.split("  ") if pair.strip()}


async def open_generate(pilot, app) -> GenerateScreen:
    """Press g and wait until the generate screen is shown, with keys going to its tune."""
    await pilot.press("g")
    screen = app.generate_screen
    await wait_for(pilot, lambda: app.screen is screen and app.focused is screen.query_one("#abc"),
                   what="the generate screen")
    return screen


@pytest.fixture
def run_dir(tmp_path, tiny_checkpoint) -> Path:
    """A checkpoint folder holding the session's trained tiny checkpoint (a finished 300-step run)."""
    folder = tmp_path / "ckpt"
    folder.mkdir()
    shutil.copy(tiny_checkpoint, folder / tiny_checkpoint.name)
    return folder


def alsa_default(monkeypatch, tmp_path, pcm: str) -> None:
    """Point this process's ALSA at a default device of our choosing, as tests/test_playback.py does
    through ~/.asoundrc. The app plays in this process, so the configuration file itself is swapped:
    ALSA reads it again whenever ALSA_CONFIG_PATH names a different file (not when HOME changes)."""
    config = tmp_path / f"alsa-{pcm.split()[3]}.conf"
    config.write_text(pcm)
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(config))


@pytest.fixture
def null_sound(monkeypatch, tmp_path):
    """Real playback (simpleaudio, libasound) into ALSA's null device: it plays with no sound card."""
    alsa_default(monkeypatch, tmp_path, "pcm.!default { type null }\n")


@pytest.fixture
def held_training(monkeypatch) -> threading.Event:
    """The app's training process starts only once the test sets the returned event."""
    from musictui.app import train_process

    release = threading.Event()

    class HeldTrainProcess(train_process.TrainProcess):
        def __init__(self, *args, **kwargs):
            assert release.wait(60), "the test never released the load"
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(train_process, "TrainProcess", HeldTrainProcess)
    return release


@run_async
async def test_first_frame_says_loading_then_the_run_is_ready(tmp_path, held_training):
    # The training process is held until the test has seen the loading frame: a tiny run loads in
    # a blink, and the check would race it.
    release = held_training
    app = make_app(checkpoint_dir=tmp_path / "ckpt", preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        try:
            assert isinstance(app.screen, TrainScreen)
            assert "Loading" in str(app.screen.query_one("#status").render())
            await pilot.press("space")  # too early: said so, nothing breaks
            await wait_for(pilot, lambda: any("Still loading" in m for m in notes(app)), what="the warning")
            assert app.train_screen.state == "loading"
        finally:
            release.set()
        await wait_for(pilot, lambda: app.train_screen.state == "ready", what="the run to load")
        assert "space" in str(app.screen.query_one("#status").render())
        keys = key_bar_keys(app)
        assert {"g Generate", "space Start/pause", "n New tune", "r Replay", "s Stop sound", "? Help", "q Quit",
                "c Save checkpoint"} <= keys
        assert "t Train" not in keys  # the screen already shown: the line has no room to spare


@run_async
async def test_a_run_that_loads_as_the_app_closes_is_no_error(tmp_path, held_training):
    """The child's "ready" can come after the train screen's widgets are gone (seen in CI, a test
    quitting while its run loaded): it must be dropped, not raise NoMatches and fail the app."""
    release = held_training
    app = make_app(checkpoint_dir=tmp_path / "ckpt", preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.train_screen
        await screen.remove_children()  # as when the app closes
        release.set()
        # The message bubbles to the app after the screen has handled it; the app's handler then
        # hands the train screen to the generate screen.
        await wait_for(pilot, lambda: app.generate_screen.trainer is screen, what="the run's ready message")
        await pilot.pause(0.2)
    assert app.return_code in (0, None)  # run_test re-raises an error in a handler; none came
    assert screen.trainer is None  # dropped: nothing was drawn on widgets that are gone


@run_async
async def test_space_trains_and_pauses_c_saves_q_saves_then_quits(tmp_path):
    folder = tmp_path / "ckpt"
    app = make_app(checkpoint_dir=folder, preset="tiny",
                   overrides=dict(steps=100_000, eval_every=10, checkpoint_every=100_000))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.train_screen
        await wait_for(pilot, lambda: screen.state == "ready")
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.state == "training", what="training to start")
        await wait_for(pilot, lambda: len(screen.val_losses) >= 2, what="two evaluations")
        await wait_for(pilot, lambda: "X:" in str(screen.query_one("#sample").render()), what="a sample")
        assert len(screen.train_losses) > 10 and screen.train_losses[-1][0] == screen.train_losses[-2][0] + 1
        await wait_for(pilot, lambda: screen.query("#chart") and len(screen.query_one("#chart")._datasets) >= 2,
                       what="the chart's lines")
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
        await open_generate(pilot, app)
        step = app.train_screen.trainer.step
        await wait_for(pilot, lambda: app.train_screen.trainer.step > step + 10, what="steps behind the screen")
        await pilot.press("t")
        await wait_for(pilot, lambda: app.screen is app.train_screen, what="the train screen")
        await pilot.press("space")
        await wait_for(pilot, lambda: app.train_screen.state == "paused")


@run_async
async def test_n_streams_a_tune_renders_it_and_r_s_w_work(run_dir, tmp_path, null_sound):
    app = make_app(checkpoint_dir=run_dir, preset="tiny", tunes_dir=tmp_path / "tunes")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_generate(pilot, app)
        assert screen.query_one("#source").value == "newest"  # the user's own run
        screen.query_one("#seed").value = "3"
        screen.query_one("#meter").value = "6/8"
        screen.query_one("#key").value = "D"
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.tunes, what="the tune")
        tune = screen.tunes[0]
        assert tune.text.startswith("X:1\nM:6/8\nK:D\n")
        # A tune's lines lose trailing spaces (notation.tunes, as in the training text); the log shows
        # the characters as they were sampled.
        log_text = "\n".join(line.rstrip() for line in screen.query_one("#abc").lines)
        assert tune.text in log_text
        assert screen.last_rate and screen.last_rate > 0
        assert str(run_dir) in tune.source
        await wait_for(pilot, lambda: "abc2midi:" in str(screen.query_one("#report").render()), what="the report")
        await wait_for(pilot, lambda: app._playback is not None, what="playback")
        first = app._playback
        assert first.wav_path.suffix == ".wav" and first.wav_path.exists() and first.duration_s > 0
        await wait_for(pilot, lambda: "playing (" in str(screen.query_one("#gen-status").render()), what="status")
        assert not any("WAV is saved at" in m for m in notes(app))

        await pilot.press("r")  # replay: the same WAV again, from the start
        await wait_for(pilot, lambda: app._playback not in (None, first), what="the replay")
        second = app._playback
        assert second.wav_path == first.wav_path and not first.is_playing()
        await pilot.press("s")
        await wait_for(pilot, lambda: app._playback is None and not second.is_playing(), what="the stop")
        assert second.elapsed_s < second.duration_s  # stopped by s, before the tune's end
        await pilot.press("w")
        await wait_for(pilot, lambda: len(list((tmp_path / "tunes").glob("tune-01-*"))) == 4, what="saved files")
        assert sorted(p.suffix for p in (tmp_path / "tunes").iterdir()) == [".abc", ".mid", ".svg", ".wav"]
        assert "<svg" in next((tmp_path / "tunes").glob("*.svg")).read_text()  # the score, by abcm2ps


@run_async
async def test_with_no_sound_card_the_tune_says_where_its_wav_is(run_dir, tmp_path, monkeypatch):
    alsa_default(monkeypatch, tmp_path, "pcm.!default { type hw card nosuchcard }\n")  # a card no machine has
    app = make_app(checkpoint_dir=run_dir, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_generate(pilot, app)
        screen.query_one("#seed").value = "3"
        await pilot.press("n")
        await wait_for(pilot, lambda: any("WAV is saved at" in m for m in notes(app)), what="no-sound message")
        assert app._playback is None and screen.tunes[0].wav_path.exists()


@run_async
async def test_the_same_seed_gives_the_same_tune_and_the_list_shows_each(run_dir, null_sound):
    app = make_app(checkpoint_dir=run_dir, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_generate(pilot, app)
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
        await wait_for(pilot, lambda: app.focused is tunes, what="the list to take the keys")
        await pilot.press("enter")  # pick tune 1: shown again (and replayed)
        await wait_for(pilot, lambda: screen.current is screen.tunes[0], what="tune 1 picked")
        assert "\n".join(screen.query_one("#abc").lines).startswith(screen.tunes[0].text)


@run_async
async def test_generating_from_the_live_training_weights_leaves_training_alone(tmp_path, null_sound, monkeypatch):
    from musictui.app.sources import Weights

    sampled_files = []  # every file handed to the sampling process
    file_for = Weights.file_for

    def spy(self, *args, **kwargs):
        path, described = file_for(self, *args, **kwargs)
        sampled_files.append(Path(path))
        return path, described

    monkeypatch.setattr(Weights, "file_for", spy)
    app = make_app(checkpoint_dir=tmp_path / "ckpt", preset="tiny", overrides=dict(steps=100_000), autostart=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.train_screen.state == "training")
        screen = await open_generate(pilot, app)
        screen.query_one("#source").value = LIVE
        trainer = app.train_screen.trainer
        step = trainer.step
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.tunes, what="a tune from the live weights")
        assert screen.tunes[0].source.startswith("training weights at step")
        # Sampled from a snapshot the training process wrote, outside the run's folder: the model
        # being trained lives in the other process, and the run's checkpoints are untouched.
        assert len(sampled_files) == 1 and sampled_files[0].name.startswith("live-")
        assert sampled_files[0].parent.name.startswith("musictui-live-")
        assert not (tmp_path / "ckpt").exists() or not any((tmp_path / "ckpt").glob("live-*"))
        await wait_for(pilot, lambda: trainer.step > step, what="training to go on")
        await pilot.press("space")
        await wait_for(pilot, lambda: app.train_screen.state == "paused")


@run_async
async def test_help_opens_and_closes_and_keys_move_between_screens(tmp_path):
    app = make_app(checkpoint_dir=tmp_path / "ckpt", preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen), what="the help to close")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        await pilot.press("g")  # a screen key also leaves the help
        await wait_for(pilot, lambda: isinstance(app.screen, GenerateScreen), what="the generate screen")
        app.generate_screen.query_one("#title").focus()
        await wait_for(pilot, lambda: app.focused is app.generate_screen.query_one("#title"))
        await pilot.press("escape")  # leaving an input hands keys back to the app
        await wait_for(pilot, lambda: app.focused is app.generate_screen.query_one("#abc"), what="the tune's focus")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen), what="the train screen")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Train screen", "Generate screen", "Start or pause training", "Save a checkpoint now",
                       "New tune", "Meter-aware sampling on or off", "Replay the tune", "Stop the sound",
                       "Save the tune"):
            assert wanted in titles
        await pilot.press("ctrl+q")
    assert app.saved_on_quit is None  # nothing trained, nothing saved


@run_async
async def test_typing_in_a_field_does_not_trigger_keys(run_dir):
    app = make_app(checkpoint_dir=run_dir, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_generate(pilot, app)
        title = screen.query_one("#title")
        title.focus()
        await wait_for(pilot, lambda: app.focused is title, what="the title field")
        await pilot.press("n", "g", "t", "m", "q")
        await wait_for(pilot, lambda: title.value == "ngtmq", what="the typed title")
        # Each key, in order, reached the field and did nothing else (n would have started a tune at once).
        assert app.screen is screen and screen._run == 0 and not screen.tunes and screen.meter_aware
        await pilot.press("enter")  # submitting returns focus to the tune
        await wait_for(pilot, lambda: app.focused is screen.query_one("#abc"), what="the tune's focus")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen), what="the train screen")


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
        await wait_for(pilot, lambda: any("temperature must be between 0.01 and 10" in m for m in notes(app)))
        app.generate_screen.query_one("#temperature").value = "1"
        app.generate_screen.query_one("#top_k").value = "many"
        await pilot.press("n")
        await wait_for(pilot, lambda: any("top-k must be a whole number" in m for m in notes(app)))
        app.generate_screen.query_one("#top_k").value = ""
        app.generate_screen.query_one("#top_p").value = "1.5"
        await pilot.press("n")
        await wait_for(pilot, lambda: any("top-p must be above 0 and at most 1" in m for m in notes(app)))
        for key in ("r", "w"):
            app.clear_notifications()
            await pilot.press(key)
            await wait_for(pilot, lambda: any("No tune yet" in m for m in notes(app)), what=f"{key}'s warning")


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
        await wait_for(pilot, lambda: screen.train_losses and screen.train_losses[-1] == (5000, 2.0),
                       what="the batch drawn")
        assert TRAIN_POINTS <= len(screen.train_losses) <= 2 * TRAIN_POINTS
        assert screen.train_losses[0] == (1, 2.0)  # the chart still spans the run from its first step
        await wait_for(pilot, lambda: screen.query("#chart") and screen.query_one("#chart")._datasets, what="the chart")
        assert max(screen.query_one("#chart")._datasets[0].x) > 4900  # the last points, averaged


@run_async
async def test_m_toggles_meter_aware_sampling_and_off_is_the_plain_sampler(run_dir, null_sound):
    from musictui.app.tunes import MAX_TUNE_CHARS, first_tune
    from musictui.sample import SampleSettings, Sampler

    sampler = Sampler.from_checkpoint(next(run_dir.glob("*.safetensors")))

    def expected(**settings) -> str:
        """The tune the headless sampler writes with these settings, as the app keeps it."""
        text = sampler.generate("X:1\nM:4/4\nK:D\n", SampleSettings(max_length=MAX_TUNE_CHARS, tunes=1, **settings))
        return first_tune(text)[0]

    app = make_app(checkpoint_dir=run_dir, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_generate(pilot, app)
        switch, state = screen.query_one("#meter-aware"), screen.query_one("#meter-aware-state")
        assert screen.meter_aware and switch.value and str(state.render()) == "on"  # on by default
        keys = key_bar_keys(app)
        assert {"m Meter-aware", "w Save", "t Train", "space Start/pause", "n New tune", "r Replay", "? Help",
                "q Quit"} <= keys and "g Generate" not in keys

        await pilot.press("m")
        await wait_for(pilot, lambda: not screen.meter_aware and not switch.value, what="m to switch it off")
        assert str(state.render()) == "off"
        for field, value in (("seed", "5"), ("meter", "4/4"), ("key", "D")):  # a meter for it to keep
            screen.query_one(f"#{field}").value = value
        await pilot.press("n")
        await wait_for(pilot, lambda: len(screen.tunes) == 1, what="a tune without the meter constraint")
        off = screen.tunes[0]
        assert not off.meter_aware and "(meter-aware off)" in off.label
        assert off.text == expected(seed=5, meter_aware=False)

        await pilot.press("m")
        await wait_for(pilot, lambda: screen.meter_aware and switch.value, what="m to switch it on")
        await pilot.press("n")
        await wait_for(pilot, lambda: len(screen.tunes) == 2, what="a meter-aware tune")
        on = screen.tunes[1]
        assert on.meter_aware and on.text == expected(seed=5, meter_aware=True)
        assert on.text != off.text  # same seed and weights: the switch alone made the difference

        switch.value = False  # the switch itself (a click) sets the same thing
        await wait_for(pilot, lambda: not screen.meter_aware, what="the switch to be read")
        screen.query_one("#top_k").value = "5"
        screen.query_one("#top_p").value = "0.9"
        await pilot.press("n")
        await wait_for(pilot, lambda: len(screen.tunes) == 3, what="a tune with top-k and top-p")
        assert screen.tunes[2].text == expected(seed=5, meter_aware=False, top_k=5, top_p=0.9)

        await pilot.press("t")
        await wait_for(pilot, lambda: app.screen is app.train_screen, what="the train screen")
        command = next(c for c in app.get_system_commands(app.screen) if c.title.startswith("Meter-aware"))
        app.call_later(command.callback)  # as the palette runs it: shows the generate screen, switch flipped
        await wait_for(pilot, lambda: app.screen is screen and screen.meter_aware and switch.value,
                       what="the palette command")
