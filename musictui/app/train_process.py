"""Training in a process of its own, so that no training step ever holds the UI's GIL (issue 14).

The child is `python -m musictui.app.train_process SETTINGS_JSON`. It builds the trainer with the
app's one function for that (`musictui.app.training.build_trainer`), then speaks JSON lines: it
reads commands on stdin and writes events on stdout. JSON, not multiprocessing: nothing is pickled.

Commands (one JSON object a line): {"do": "start"} (or "resume"), {"do": "pause"}, {"do": "save"},
{"do": "stop"} (save what is unsaved, then exit).
Events: ready (step, steps, losses so far, note), steps (a batch of step metrics, at most every
0.1 s), sample (the evaluation sample, made here in the child), saved (path, step), paused,
done (the last step reached), error (a UserError's line), bye (about to exit).

Nothing is lost whichever way the parent goes: when stdin closes (the app quit or was killed)
the child saves and exits, and SIGTERM or SIGHUP do the same, after the current step.
No textual here: `TrainProcess` is the parent's side, for the app's worker to read from.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

POST_EVERY_S = 0.1  # step events are batched this long, as the in-process worker does


# -- the child -------------------------------------------------------------------------------

class _Child:
    def __init__(self, settings: dict) -> None:
        self.settings = settings
        self.commands: queue.Queue = queue.Queue()
        self.stop = threading.Event()  # Trainer.run's stop: set to pause, and to leave
        self.leaving = False
        self.saved_step: int | None = None
        self.trainer = None

    def emit(self, event: str, **fields) -> None:
        sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
        sys.stdout.flush()

    def read_commands(self) -> None:
        """A thread: stdin's lines become commands; its end (the parent gone) means stop."""
        for line in sys.stdin:
            line = line.strip()
            if line:
                try:
                    self.commands.put(json.loads(line).get("do", ""))
                except (json.JSONDecodeError, AttributeError):
                    self.emit("error", message=f"not a command: {line[:80]!r}")
        self.commands.put("stop")

    def on_signal(self, signum, frame) -> None:  # noqa: ARG002 - signal's signature
        self.commands.put("stop")
        self.stop.set()  # Trainer.run ends after the current step

    def save(self) -> None:
        path = self.trainer.save()
        self.saved_step = self.trainer.step
        self.emit("saved", path=str(path), step=self.trainer.step)

    def handle(self, command: str) -> bool:
        """Run one command while paused; False once the child should leave."""
        if command in ("start", "resume"):
            self.train()
        elif command == "save":
            self.save()
        elif command == "stop":
            return False
        elif command != "pause":
            self.emit("error", message=f"unknown command {command!r}")
        return not self.leaving

    def train(self) -> None:
        from musictui.app.training import evaluation_sample

        trainer = self.trainer
        self.stop.clear()
        batch, last = [], time.monotonic()
        for m in trainer.run(self.stop):
            batch.append({"step": m.step, "total_steps": m.total_steps, "loss": m.loss,
                          "chars_per_s": m.chars_per_s, "eta_s": m.eta_s, "learning_rate": m.learning_rate,
                          "val_loss": m.val_loss, "checkpoint": str(m.checkpoint) if m.checkpoint else None})
            if m.checkpoint:
                self.saved_step = m.step
            now = time.monotonic()
            if m.val_loss is not None or m.checkpoint or now - last >= POST_EVERY_S:
                self.emit("steps", metrics=batch)
                batch, last = [], now
            if m.val_loss is not None:
                self.emit("sample", step=m.step, text=evaluation_sample(trainer, seed=m.step))
            while not self.commands.empty():  # commands sent while training, between two steps
                command = self.commands.get()
                if command == "save":
                    self.save()
                elif command == "pause":
                    self.stop.set()
                elif command == "stop":
                    self.stop.set()
                    self.leaving = True
        if batch:
            self.emit("steps", metrics=batch)
        if trainer.step >= trainer.config.steps:
            self.emit("done", step=trainer.step)
        else:
            self.emit("paused", step=trainer.step)

    def run(self) -> int:
        from musictui.app.training import build_trainer
        from musictui.errors import UserError

        s = self.settings
        try:
            self.trainer, note = build_trainer(Path(s["checkpoint_dir"]), Path(s["corpus"]) if s.get("corpus") else None,
                                               s.get("preset", "small"), s.get("device", "auto"), s.get("overrides"))
        except UserError as error:
            self.emit("error", message=str(error))
            return 1
        t = self.trainer
        self.saved_step = t.step if t.step else None
        self.emit("ready", note=note, step=t.step, steps=t.config.steps, train_losses=t.train_losses,
                  val_losses=t.val_losses, best_val_loss=t.best_val_loss)
        threading.Thread(target=self.read_commands, daemon=True).start()
        try:
            while self.handle(self.commands.get()):
                pass
            if t.step and t.step != self.saved_step:
                self.save()  # stop, stdin closed, SIGTERM or SIGHUP: nothing trained is lost
        except (UserError, OSError) as error:
            self.emit("error", message=f"could not save the checkpoint: {error}")
            return 1
        finally:
            self.emit("bye", step=t.step)
        return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    child = _Child(json.loads(argv[0]))
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, child.on_signal)
    return child.run()


# -- the parent's side -----------------------------------------------------------------------

class TrainProcess:
    """Starts the child; `send()` a command, iterate `events()` for what it says (a worker's loop).

    The child's stdin is a pipe held only here: when this process ends, however it ends, the pipe
    closes and the child saves and exits, so it is never orphaned to train on alone.
    """

    def __init__(self, checkpoint_dir: Path, corpus: Path | None = None, preset: str = "small",
                 device: str = "auto", overrides: dict | None = None) -> None:
        settings = {"checkpoint_dir": str(checkpoint_dir), "corpus": str(corpus) if corpus else None,
                    "preset": preset, "device": device, "overrides": overrides or {}}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "musictui.app.train_process", json.dumps(settings)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def send(self, command: str) -> None:
        try:
            self.process.stdin.write(json.dumps({"do": command}) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):  # the child has already gone: its last events say why
            pass

    def events(self):
        """Each event as a dict, until the child exits."""
        for line in self.process.stdout:
            yield json.loads(line)

    def close(self, timeout: float = 60) -> int:
        """Close the child's stdin (it saves and exits) and wait for it; returns its exit status."""
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        return self.process.wait(timeout)


if __name__ == "__main__":
    sys.exit(main())
