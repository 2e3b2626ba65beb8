"""The score screen (v): driven by Textual's Pilot, and in a real terminal (tmux), with the real
abcm2ps and rsvg-convert. A `tiny` model writes the tune; its picture lands in a temporary cache."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from musictui.app.app import make_app
from musictui.app.screens.score import NO_TUNE, ScoreScreen, terminal_may_draw
from musictui.app.tunes import Tune
from tests.test_app import open_generate, run_async, run_dir, wait_for  # noqa: F401 (run_dir: a fixture)
from tests.test_app_terminal import new_session

SIZE = (110, 34)
TUNE = "X:1\nT:The Pictured Reel\nM:4/4\nL:1/8\nK:D\n|:ABcd efga|gfed cBAG|ABcd efga|gfed d4:|\n"
needs_score_tools = pytest.mark.needs_tool("abcm2ps", "rsvg-convert")


@pytest.fixture(autouse=True)
def _own_folders(tmp_path, monkeypatch):
    """Tunes, pictures and sound of each app here in folders of its own; sound into ALSA's null device."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    config = tmp_path / "alsa-null.conf"
    config.write_text("pcm.!default { type null }\n")
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(config))  # read by the tmux test's app too




def status(screen: ScoreScreen) -> str:
    line = screen.query_one("#score-status")
    return str(line.render()) if line.display else ""


def picture_shown(screen: ScoreScreen) -> bool:
    images = screen.query("#score-image")
    return bool(images) and images.first().image is not None and images.first().size.area > 0


async def open_score(pilot, app) -> ScoreScreen:
    """Press v (on the generate screen) and wait until the score screen is shown."""
    await pilot.press("v")
    await wait_for(pilot, lambda: isinstance(app.screen, ScoreScreen), what="the score screen")
    return app.screen


@needs_score_tools
@run_async
async def test_v_shows_the_generated_tunes_score_and_escape_returns(run_dir, tmp_path):
    app = make_app(checkpoint_dir=run_dir, preset="tiny", tunes_dir=tmp_path / "tunes")
    async with app.run_test(size=SIZE) as pilot:
        generate = await open_generate(pilot, app)
        generate.query_one("#seed").value = "3"
        generate.query_one("#key").value = "D"  # a whole header, so abcm2ps has a tune to draw
        await pilot.press("n")
        await wait_for(pilot, lambda: generate.tunes, what="the tune")
        score = await open_score(pilot, app)
        assert score.abc_text == generate.current.text
        await wait_for(pilot, lambda: picture_shown(score), what="the picture")
        image = score.query_one("#score-image")
        assert image.size.width <= SIZE[0] and image.size.height <= SIZE[1] - 2  # fitted to the pane
        pictures = list((tmp_path / "xdg-cache" / "musictui" / "scores").glob("score-*.png"))
        assert len(pictures) == 1  # kept for the next v on this tune
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is generate, what="back to the generate screen")


@needs_score_tools
@run_async
async def test_a_tune_is_drawn_once_then_v_and_q_go_back_and_t_leaves_no_score_behind(run_dir):
    app = make_app(checkpoint_dir=run_dir, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        generate = await open_generate(pilot, app)
        generate.add(Tune(number=1, text=TUNE, complete=True, source="test"))
        for key in ("v", "q"):  # q here goes back, it does not quit the app
            score = await open_score(pilot, app)
            assert "The Pictured Reel" in str(score.query_one("#score-title").render())
            await wait_for(pilot, lambda: picture_shown(score), what="the picture")
            assert status(score) == ""  # abcm2ps had nothing to say about this tune
            await pilot.press(key)
            await wait_for(pilot, lambda: app.screen is generate, what="back to the generate screen")
        assert app.is_running
        await open_score(pilot, app)
        await pilot.press("t")  # the app's screen keys work from here, and the score screen is left
        await wait_for(pilot, lambda: app.screen is app.train_screen, what="the train screen")
        assert not any(isinstance(s, ScoreScreen) for s in app.screen_stack)
        await pilot.press("g")
        await wait_for(pilot, lambda: app.screen is generate, what="the generate screen")
        for key in ("question_mark", "n"):  # help, a new tune: over the generate screen, not the score
            await open_score(pilot, app)
            await pilot.press(key)
            await wait_for(pilot, lambda: not any(isinstance(s, ScoreScreen) for s in app.screen_stack),
                           what="the score screen left")
            assert app.screen_stack[1] is generate and len(app.screen_stack) <= 3
            await pilot.press("escape")  # leaves the help (or the tune's text)


@run_async
async def test_with_no_tune_yet_the_score_screen_says_to_generate_one(run_dir):
    app = make_app(checkpoint_dir=run_dir, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        generate = await open_generate(pilot, app)
        await open_score(pilot, app)
        assert status(app.screen) == NO_TUNE
        assert not app.screen.query("#score-image")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is generate, what="back to the generate screen")


@needs_score_tools
@run_async
async def test_a_tune_abcm2ps_cannot_draw_is_one_line_on_the_screen(run_dir):
    app = make_app(checkpoint_dir=run_dir, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        generate = await open_generate(pilot, app)
        generate.add(Tune(number=1, text="no tune here, only words\n", complete=False, source="test"))
        score = await open_score(pilot, app)
        await wait_for(pilot, lambda: "abcm2ps drew no score" in status(score), what="the error line")
        assert "\n" not in status(score) and not picture_shown(score)
        assert app.is_running


@run_async
async def test_a_missing_converter_is_named_on_the_screen(run_dir, tmp_path, monkeypatch):
    # abcm2ps only (a link to the real one where installed): rsvg-convert is not on this PATH.
    tools = tmp_path / "bin"
    tools.mkdir()
    if shutil.which("abcm2ps"):
        os.symlink(shutil.which("abcm2ps"), tools / "abcm2ps")
    app = make_app(checkpoint_dir=run_dir, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        generate = await open_generate(pilot, app)
        generate.add(Tune(number=1, text=TUNE, complete=True, source="test"))
        monkeypatch.setenv("PATH", str(tools))
        await open_score(pilot, app)
        await wait_for(pilot, lambda: "librsvg2-bin" in status(app.screen), what="the error line")
        assert "not installed" in status(app.screen)


@pytest.mark.parametrize("env, asks", [
    ({"TERM": "xterm-kitty", "KITTY_WINDOW_ID": "1"}, True),
    ({"TERM": "xterm-256color", "TERM_PROGRAM": "WezTerm"}, True),
    ({"TERM": "foot"}, True),
    ({"TERM": "xterm-256color", "KONSOLE_VERSION": "230804"}, True),
    ({"TERM": "xterm-256color"}, False),  # most terminals: half cells, nothing asked
    ({"TERM": "tmux-256color", "TMUX": "/tmp/tmux-0/default,1,0", "KITTY_WINDOW_ID": "1"}, False),  # kitty around tmux
    ({"TERM": "screen-256color", "TERM_PROGRAM": "WezTerm"}, False),
    ({"TERM": "xterm-256color", "MUSICTUI_PICTURES": "ask"}, True),
    ({"TERM": "xterm-kitty", "MUSICTUI_PICTURES": "cells"}, False),
])
def test_textual_image_asks_only_terminals_that_can_draw(env, asks):
    assert terminal_may_draw(env) is asks


def test_the_app_loads_textual_image_only_on_the_first_v_in_most_terminals():
    # Its import and its question to the terminal cost the first frame ~0.3 s: not where unused.
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "STY", "TERM_PROGRAM", "KITTY_WINDOW_ID",
                                                             "KONSOLE_VERSION", "WT_SESSION", "MUSICTUI_PICTURES")}
    code = "import sys, musictui.commands.app, musictui.app.app; print('textual_image' in sys.modules)"
    for term, loaded in (("xterm-256color", "False"), ("xterm-kitty", "True")):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              env={**env, "TERM": term}, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == loaded, term


# -- in a real terminal: tmux, where textual-image draws with coloured half cells ---------------------

MUSICTUI = Path(sys.executable).with_name("musictui")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10).stdout


def wait_for_screen(name: str, found, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = tmux("capture-pane", "-p", "-t", name)
        if found(shown):
            return shown
        time.sleep(0.1)
    raise AssertionError(f"never shown; the screen:\n{tmux('capture-pane', '-p', '-t', name)}")


def half_blocks(text: str) -> int:
    return sum(text.count(c) for c in "▀▄")


@pytest.mark.slow
@pytest.mark.needs_tool("tmux", "abcm2ps", "rsvg-convert")
def test_in_tmux_the_score_is_drawn_in_half_cells_and_escape_returns(tmp_path):
    # No checkpoint of our own: the shipped model writes the tune, whole header and all, so that
    # abcm2ps surely has a tune to draw (a 300-step tiny model's may lack its K: line).
    (tmp_path / "ckpt").mkdir()
    name = f"musictui-score-test-{os.getpid()}"
    command = (f"cd {shlex.quote(str(tmp_path))} && {shlex.quote(str(MUSICTUI))} --preset tiny "
               f"--checkpoint-dir ckpt --tunes-dir tunes; sleep 60")
    env = {**os.environ, "TERM": "xterm-256color", "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
           "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"), "ALSA_CONFIG_PATH": str(tmp_path / "alsa-null.conf")}
    new_session(name, command, env)
    try:
        wait_for_screen(name, lambda s: "musictui" in s)
        tmux("send-keys", "-t", name, "g")
        wait_for_screen(name, lambda s: "This session's tunes" in s)
        tmux("send-keys", "-t", name, "n")
        before = wait_for_screen(name, lambda s: "1. " in s, timeout=90)  # the tune is in the list
        tmux("send-keys", "-t", name, "v")
        shown = wait_for_screen(name, lambda s: half_blocks(s) > 200)  # the picture, in half cells
        assert half_blocks(before) == 0 and "Rendering score" not in shown
        assert list((tmp_path / "xdg-cache" / "musictui" / "scores").glob("score-*.png"))
        tmux("send-keys", "-t", name, "Escape")
        wait_for_screen(name, lambda s: "This session's tunes" in s and half_blocks(s) == 0)
    finally:
        tmux("kill-session", "-t", name)
