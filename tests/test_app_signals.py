"""SIGTERM and SIGHUP to the app in a real terminal (tmux): it saves like q, exits, and gives the
terminal back (alternate screen off). Issue 12: both used to lose the run."""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_app_terminal import alive, new_session, screen, tmux, wait_for_screen

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(subprocess.run(["which", "tmux"], capture_output=True).returncode != 0,
                                 reason="needs tmux")]


def wait_for_steps(name: str, steps: int, timeout: float = 60.0) -> None:
    """Until the screen's progress line shows `steps` steps trained. A fixed second was not enough
    where the first step is slow (Adam's first step imports torch._dynamo: 1.4 s here)."""
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(r"step ([\d,]+) of", screen(name))
        if found and int(found.group(1).replace(",", "")) >= steps:
            return
        assert time.monotonic() < deadline, screen(name)
        time.sleep(0.1)


def _start_app(tmp_path: Path, name: str) -> int:
    """The app (tiny, in `tmp_path`) in tmux session `name`, ready for space; its PID. Steps are
    huge and checkpoints never come on their own: only a save on quit, signal or pipe close writes
    one. The shell writes the app's exit status to `status`, then keeps the pane for a look."""
    app = ("import sys; from musictui.app.app import make_app; "
           "app = make_app(checkpoint_dir='ckpt', preset='tiny', overrides=dict(steps=10**6, checkpoint_every=10**6)); "
           "app.run(); sys.exit(app.return_code or 0)")
    command = (f"cd {shlex.quote(str(tmp_path))} && {shlex.quote(sys.executable)} -c {shlex.quote(app)}; "
               "echo $? > status; sleep 60")
    new_session(name, command, {**os.environ, "TERM": "xterm-256color", "XDG_DATA_HOME": str(tmp_path / "xdg-data")})
    try:
        shell = tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip()
        wait_for_screen(name, "press space to start training")
        return int(subprocess.run(["pgrep", "-P", shell], capture_output=True, text=True).stdout.split()[0])
    except BaseException:
        tmux("kill-session", "-t", name)
        raise


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_while_training_saves_the_step_and_restores_the_terminal(tmp_path, signum):
    from musictui.checkpoint import list_checkpoints, load_checkpoint

    name = f"musictui-signal-{os.getpid()}-{signum.name}"
    pid = _start_app(tmp_path, name)
    try:
        tmux("send-keys", "-t", name, "space")
        wait_for_screen(name, "Training:")
        wait_for_steps(name, 3)
        assert tmux("display-message", "-p", "-t", name, "#{alternate_on}").strip() == "1"
        os.kill(pid, signum)
        deadline = time.monotonic() + 60
        while not (tmp_path / "status").exists():
            assert time.monotonic() < deadline, screen(name)
            time.sleep(0.1)
        assert (tmp_path / "status").read_text().strip() == "0", screen(name)
        assert not alive(pid)
        saved = list_checkpoints(tmp_path / "ckpt")
        assert len(saved) == 1 and load_checkpoint(saved[0]).step > 0
        # The terminal is given back: off the alternate screen, the exit line readable.
        assert tmux("display-message", "-p", "-t", name, "#{alternate_on}").strip() == "0"
        assert f"musictui: {signum.name}: saved" in screen(name)
    finally:
        tmux("kill-session", "-t", name)


def _gone(pid: int) -> bool:
    """Exited (a zombie waiting for its parent's wait counts: it trains no more)."""
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return True


def test_killing_the_app_leaves_no_training_process_behind_and_loses_nothing(tmp_path):
    """SIGKILL: the app can do nothing, but its end closes the training process's pipe, and the
    training process saves what it trained and exits (issue 14: never orphaned)."""
    from musictui.checkpoint import list_checkpoints, load_checkpoint

    name = f"musictui-kill-{os.getpid()}"
    pid = _start_app(tmp_path, name)
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 1, children  # the training process
        child = int(children[0])
        assert "musictui.app.train_process" in Path(f"/proc/{child}/cmdline").read_text()
        tmux("send-keys", "-t", name, "space")
        wait_for_screen(name, "Training:")
        wait_for_steps(name, 3)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while not _gone(child):
            assert time.monotonic() < deadline, "the training process outlived the app"
            time.sleep(0.1)
        saved = list_checkpoints(tmp_path / "ckpt")
        assert len(saved) == 1 and load_checkpoint(saved[0]).step > 0  # saved as the pipe closed
    finally:
        tmux("kill-session", "-t", name)


def test_a_terminal_closed_while_the_app_quits_leaves_no_process_spinning(tmp_path):
    """q, then the terminal gone at once (the tmux session killed): Textual's input thread read the
    ended terminal forever at full CPU and the process never ended (seen for ten minutes)."""
    name = f"musictui-gone-{os.getpid()}"
    command = (f"cd {shlex.quote(str(tmp_path))} && exec {shlex.quote(sys.executable)} -m musictui "
               "--preset tiny --checkpoint-dir ckpt")
    new_session(name, command, {**os.environ, "TERM": "xterm-256color", "XDG_DATA_HOME": str(tmp_path / "xdg-data")})
    try:
        pid = int(tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip())
        wait_for_screen(name, "press space to start training")
        tmux("send-keys", "-t", name, "q")
        time.sleep(0.3)
    finally:
        tmux("kill-session", "-t", name)
    deadline = time.monotonic() + 30
    while alive(pid):
        assert time.monotonic() < deadline, "the app is still running after its terminal closed"
        time.sleep(0.2)
