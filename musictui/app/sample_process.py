"""Sampling in a process of its own, so that no sampling step waits for the UI's GIL (issue 14).

In the UI's process the sampler's Python (the meter and form constraints, one character at a
time) and the UI's drawing take turns at one GIL: in a real terminal the generate screen streamed
at 80% of the headless sampler's rate. The child is `python -m musictui.app.sample_process`; it
keeps the last checkpoint it loaded, and speaks JSON lines like the training child
(`train_process.py`): nothing is pickled.

Commands: {"do": "stream", "path", "prompt", "settings"} (a SampleSettings as a dict), and
{"do": "cancel"} (the stream under way stops at its next character).
Events: loaded (the weights are in), chars (text, at most every WRITE_EVERY_S), finished (chars,
seconds), cancelled, error (a UserError's line). Each stream ends with exactly one of the last three.
The child leaves when its stdin closes (the app quit or was killed). No textual here.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

from musictui.app.child_stderr import ChildStderr
from musictui.app.json_lines import read_lines, write_line

WRITE_EVERY_S = 0.1  # characters are batched this long before one event: each becomes one write to
                     # the Log, a repaint of its last line


def settings_to_dict(settings) -> dict:
    return asdict(settings)


def settings_from_dict(fields: dict):
    from musictui.notation.form import FormPlan
    from musictui.sample_settings import SampleSettings

    form = fields.get("form")
    return SampleSettings(**{**fields, "form": FormPlan(**form) if form is not None else None})


# -- the child -------------------------------------------------------------------------------

class _Child:
    def __init__(self) -> None:
        self.commands: list[dict] = []
        self.wake = threading.Condition()
        self.cancel = threading.Event()
        self.sampler = None
        self.loaded: tuple | None = None  # (path, mtime) of the sampler's checkpoint

    def emit(self, event: str, **fields) -> None:
        if not write_line(sys.stdout, {"event": event, **fields}):
            self.cancel.set()  # the parent is gone: stdin's end stops us

    def read_commands(self) -> None:
        """A thread: a cancel acts at once (the stream checks it at each character); the rest queue."""
        for line in sys.stdin:
            try:
                command = json.loads(line)
            except json.JSONDecodeError:
                continue
            if command.get("do") == "cancel":
                self.cancel.set()
                continue
            self.cancel.clear()  # here, not when the stream starts: a cancel sent after it must count
            with self.wake:
                self.commands.append(command)
                self.wake.notify()
        self.cancel.set()
        with self.wake:
            self.commands.append({"do": "leave"})
            self.wake.notify()

    def next_command(self) -> dict:
        with self.wake:
            while not self.commands:
                self.wake.wait()
            return self.commands.pop(0)

    def sampler_for(self, path: Path):
        from musictui.sample import Sampler

        key = (path, path.stat().st_mtime_ns)
        if key != self.loaded:
            self.sampler, self.loaded = Sampler.from_checkpoint(path), key
        return self.sampler

    def stream(self, command: dict) -> None:
        from musictui.errors import UserError

        try:
            sampler = self.sampler_for(Path(command["path"]))
            self.emit("loaded")
            characters = sampler.stream(command["prompt"], settings_from_dict(command["settings"]))
            pending: list[str] = []
            count = 0
            start = last = time.perf_counter()
            for ch in characters:
                if self.cancel.is_set():
                    self.emit("cancelled")
                    return
                pending.append(ch)
                now = time.perf_counter()
                if now - last >= WRITE_EVERY_S:
                    self.emit("chars", text="".join(pending))
                    count += len(pending)
                    pending, last = [], now
        except (UserError, OSError) as error:  # a bad checkpoint or settings: its one line
            self.emit("error", message=str(error))
            return
        except Exception as error:  # noqa: BLE001 - the child stays up for the next tune, and says why
            self.emit("error", message=f"sampling failed: {type(error).__name__}: {error}")
            return
        seconds = time.perf_counter() - start
        if pending:
            self.emit("chars", text="".join(pending))
        self.emit("finished", chars=count + len(pending), seconds=seconds)

    def run(self) -> int:
        threading.Thread(target=self.read_commands, daemon=True).start()
        while (command := self.next_command())["do"] != "leave":
            if command["do"] == "stream":
                self.stream(command)
        return 0


def leave_a_core_for_the_ui() -> None:
    """Torch takes every core by default; its threads then wait on each other whenever the UI (or
    another process) holds one, and on a busy 2-core machine a tiny step took 100x longer (0.3 s
    instead of 3 ms). One core fewer keeps the screen responsive, and a
    batch-1 step gains nothing from a second thread anyway. OMP_NUM_THREADS, if set, wins."""
    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(app_threads())


def app_threads() -> int:
    return max(1, (os.cpu_count() or 2) - 1)


def main() -> int:
    leave_a_core_for_the_ui()  # a batch-1 step gains nothing from a second thread, and the UI wants one
    import musictui.sample  # noqa: F401 - torch and the sampler now, before the first tune asks

    return _Child().run()


# -- the parent's side -----------------------------------------------------------------------

class SampleProcess:
    """The child, started when the generate screen first shows (or at the first tune) and kept:
    `stream()` one tune at a time.

    The child's stdin is a pipe held only here, so the child leaves with this process however it
    ends. A stream cut short (`cancelled()` true) tells the child to stop and reads on to its end,
    so the next stream starts clean.
    """

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.lock = threading.Lock()  # one stream at a time
        self.stderr = ChildStderr()

    def start(self) -> None:
        """Start the child now (it imports torch while the user picks settings), if not running."""
        self._child()

    def _child(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "musictui.app.sample_process"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr.file, text=True, bufsize=1,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        return self.process

    def stream(self, path: Path, prompt: str, settings, cancelled=lambda: False):
        """Yield ("loaded", None) once the weights are in, ("chars", text) as they come, then
        ("finished", (chars, seconds)); nothing more once `cancelled()` is true. Raises UserError
        with the child's line when it cannot sample."""
        from musictui.errors import UserError

        with self.lock:
            child = self._child()
            self._send(child, {"do": "stream", "path": str(path), "prompt": prompt,
                               "settings": settings_to_dict(settings)})
            ended = False
            try:
                for event in self._events(child):
                    kind = event["event"]
                    if kind in self.ENDS:
                        ended = True
                    if kind == "error":
                        raise UserError(event["message"])
                    if kind == "finished":
                        yield "finished", (event["chars"], event["seconds"])
                    if ended:
                        return
                    yield kind, event.get("text")
                    if cancelled():
                        return
                # Its output ended: it is dead or dying (the pipe can close a moment before the
                # process is gone, when poll() would still call it alive). The next tune starts another.
                child.kill()
                child.wait(10)
                self.process = None
                raise UserError(f"the sampling process ended unexpectedly{self.stderr.last_words()}: press n to start it again")
            finally:
                if not ended:  # cut short (cancelled, or the caller left): stop the child, read to its end
                    self._send(child, {"do": "cancel"})
                    for event in self._events(child):
                        if event["event"] in self.ENDS:
                            break

    ENDS = ("finished", "cancelled", "error")

    @staticmethod
    def _events(child: subprocess.Popen):
        return read_lines(child.stdout)

    @staticmethod
    def _send(child: subprocess.Popen, command: dict) -> None:
        write_line(child.stdin, command)  # if it has gone, reading its output says so

    def close(self, timeout: float = 10) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.stderr.close()


if __name__ == "__main__":
    sys.exit(main())
