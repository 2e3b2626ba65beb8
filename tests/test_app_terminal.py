"""The app in a real terminal (tmux): keys in, screen text out, and nothing left running after q."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")]

MUSICTUI = Path(sys.executable).with_name("musictui")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10).stdout


def new_session(name: str, command: str, env: dict) -> None:
    """A detached 110×34 tmux session running `command`. Retried: when the last session of a test
    before has just been killed, the tmux server is exiting, and a new-session that reaches it then
    fails ("server exited unexpectedly"; once in a clean-clone run)."""
    for attempt in range(3):
        made = subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "110", "-y", "34", "sh", "-c", command],
                              env=env, capture_output=True, text=True, timeout=10)
        if made.returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"tmux could not start session {name}: {made.stderr.strip()}")


def screen(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def styled_row(session: str, marker: str, side: str) -> str:
    """The first screen row holding `marker`, with its colours (escape codes), cut at the line
    between the generate screen's controls and its tune: the `left` or `right` part."""
    row = next(line for line in tmux("capture-pane", "-p", "-e", "-t", session).splitlines() if marker in line)
    left, _, right = row.partition("▕")  # the controls' right border
    return left if side == "left" else right


def wait_until_changed(session: str, marker: str, side: str, before: str, timeout: float = 30.0) -> None:
    """Wait until that part of the row looks different from `before`: focus has moved onto it or
    off it (a focused widget is tinted). Compares with the screen's own earlier look, so no colour
    is written down here."""
    deadline = time.monotonic() + timeout
    while styled_row(session, marker, side) == before:
        assert time.monotonic() < deadline, f"the {marker!r} row never changed; the screen:\n{screen(session)}"
        time.sleep(0.05)


def wait_for_screen(session: str, text: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = screen(session)
        if text in shown:
            return shown
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared; the screen:\n{screen(session)}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def session(tmp_path, tiny_checkpoint):
    (tmp_path / "ckpt").mkdir()
    shutil.copy(tiny_checkpoint, tmp_path / "ckpt" / tiny_checkpoint.name)
    name = f"musictui-test-{os.getpid()}"
    # The shell runs musictui in the foreground (a background job would get /dev/null for its
    # keyboard), writes its exit status, then lingers so the pane can still be read.
    command = (f"cd {shlex.quote(str(tmp_path))} && {shlex.quote(str(MUSICTUI))} --preset tiny "
               f"--checkpoint-dir ckpt --tunes-dir tunes; echo $? > status; sleep 60")
    env = {**os.environ, "TERM": "xterm-256color", "XDG_DATA_HOME": str(tmp_path / "xdg-data")}
    new_session(name, command, env)
    try:
        yield name, tmp_path
    finally:
        tmux("kill-session", "-t", name)


def test_streamed_abc_appears_a_tune_is_rendered_and_q_leaves_nothing_behind(session):
    name, folder = session
    wait_for_screen(name, "musictui")  # the first frame
    shell = tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip()
    pid = int(subprocess.run(["pgrep", "-P", shell], capture_output=True, text=True).stdout.split()[0])
    wait_for_screen(name, "Done: the run reached its last step")  # the tiny run was loaded (finished)

    tmux("send-keys", "-t", name, "g")
    wait_for_screen(name, "This session's tunes")
    # Into the Key field, type D, back to the tune, n. A key goes to whichever widget has the focus
    # when the app reads it, so each waits until the last one's effect is on screen.
    key_field = styled_row(name, "Key", "left")
    tmux("send-keys", "-t", name, "BTab")  # from the tune to the list of tunes,
    tmux("send-keys", "-t", name, "BTab")  # then to Key (moves are relative: these two keep their order)
    wait_until_changed(name, "Key", "left", key_field)
    tune_border = styled_row(name, "╰", "right")  # the tune's bottom border, now not focused
    tmux("send-keys", "-t", name, "-l", "D")
    wait_for_screen(name, "Key         D")
    tmux("send-keys", "-t", name, "Enter")  # submitting hands the focus back to the tune
    wait_until_changed(name, "╰", "right", tune_border)
    tmux("send-keys", "-t", name, "n")
    shown = wait_for_screen(name, "K:D")  # the header, then streamed characters
    assert "X:1" in shown
    shown = wait_for_screen(name, "abc2midi:", timeout=60)  # rendered: abc2midi's report is shown
    assert "1. " in shown  # in the session's list
    assert "ALSA lib" not in shown  # no sound card here: its complaints must not reach the screen

    tmux("send-keys", "-t", name, "q")
    deadline = time.monotonic() + 30
    while not (folder / "status").exists():
        assert time.monotonic() < deadline, screen(name)
        time.sleep(0.1)
    assert (folder / "status").read_text().strip() == "0"
    assert not alive(pid)
    # Nothing it started lives on: the shell's only child now is its `sleep`.
    children = subprocess.run(["pgrep", "-a", "-P", shell], capture_output=True, text=True).stdout
    assert "musictui" not in children and "timidity" not in children and "abc2midi" not in children
