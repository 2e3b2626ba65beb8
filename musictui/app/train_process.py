"""Training in a process of its own, so that no training step ever holds the UI's GIL (issue 14).

The child is `python -m musictui.app.train_process SETTINGS_JSON`. It builds the trainer with the
app's one function for that (`musictui.app.training.build_trainer`), then speaks JSON lines: it
reads commands on stdin and writes events on stdout. JSON, not multiprocessing: nothing is pickled.

Commands (one JSON object a line): {"do": "start"} (or "resume"), {"do": "pause"}, {"do": "save"}
(with "folder": save there instead, leaving the run's own folder alone), {"do": "snapshot"} (the
weights as they are now, for the generate screen), {"do": "stop"} (save what is unsaved, then exit).
Events: ready (step, steps, losses so far, note), steps (a batch of step metrics, at most every
0.25 s), sample (the evaluation sample, made here in the child), saved (path, step), save_failed
(message: the run goes on, unsaved), snapshot (path, step), snapshot_failed (message), paused,
done (the last step reached), error (a UserError's line; "ended": the child is leaving, as after
a diverged loss), bye (about to exit). An error while training (a full disk) pauses the run.

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

from musictui.app.child_stderr import ChildStderr
from musictui.app.json_lines import read_lines, write_line
from musictui.errors import UserError

POST_EVERY_S = 0.25  # step events are batched this long: 4 draws a second look as alive as 10, and each
                     # draw takes the UI a moment that a core of training waits for (benchmarks/train_speed.py:
                     # the child at 93% of `musictui train` at 0.1 s, 95% at 0.25 s)
NICE = 19  # the child yields the CPU to the UI when both want it: a key press waits for no step


# -- the child -------------------------------------------------------------------------------

class _Child:
    def __init__(self, settings: dict) -> None:
        self.settings = settings
        self.commands: queue.Queue = queue.Queue()
        self.stop = threading.Event()  # Trainer.run's stop: set to pause, and to leave
        self.leaving = False
        self.trainer = None  # its saved_step is the step of the last checkpoint written
        self.snapshots = None  # a TemporaryDirectory, made at the first snapshot
        self.snapshot_count = 0
        self.save_at_exit = True  # False after a NaN loss, or once another trainer holds the folder

    def emit(self, event: str, **fields) -> None:
        write_line(sys.stdout, {"event": event, **fields})  # if the parent is gone, stdin's end stops us

    def read_commands(self) -> None:
        """A thread: stdin's lines become commands; its end (the parent gone) means stop."""
        for line in sys.stdin:
            line = line.strip()
            if line:
                try:
                    command = json.loads(line)
                    command.get("do")
                    self.commands.put(command)
                except (json.JSONDecodeError, AttributeError):
                    self.emit("error", message=f"not a command: {line[:80]!r}")
        self.commands.put({"do": "stop"})

    def on_signal(self, signum, frame) -> None:  # noqa: ARG002 - signal's signature
        self.commands.put({"do": "stop"})
        self.stop.set()  # Trainer.run ends after the current step

    def save(self, folder: str | None = None) -> None:
        """Save (in `folder` if given); a failure (a full disk) is an event, and the run goes on
        unsaved so the parent can offer another folder."""
        from musictui.app.training import save_run_to

        try:
            path = save_run_to(self.trainer, Path(folder)) if folder else self.trainer.save()
        except (OSError, UserError) as error:
            self.emit("save_failed", message=str(error), step=self.trainer.step)
            return
        self.emit("saved", path=str(path), step=self.trainer.step)

    def snapshot(self) -> None:
        """The weights as they are now, in a file of our temporary folder (never the run's)."""
        import tempfile

        from musictui.checkpoint import save_checkpoint

        try:
            if self.snapshots is None:
                self.snapshots = tempfile.TemporaryDirectory(prefix="musictui-live-")
            self.snapshot_count += 1  # a new name each time: a sampler may still read the last one
            path = Path(self.snapshots.name) / f"live-{self.snapshot_count}.safetensors"
            save_checkpoint(self.trainer.checkpoint(with_training_state=False), path)
        except (OSError, UserError) as error:  # a full temporary folder: the run goes on
            self.emit("snapshot_failed", message=str(error))
            return
        old = path.with_name(f"live-{self.snapshot_count - 2}.safetensors")
        old.unlink(missing_ok=True)
        self.emit("snapshot", path=str(path), step=self.trainer.step)

    def between_steps(self, command: dict) -> None:
        """A command that came while paused, or while training, between two steps."""
        do = command.get("do")
        if do == "save":
            self.save(command.get("folder"))
        elif do == "snapshot":
            self.snapshot()
        elif do == "pause":
            self.stop.set()
        elif do == "stop":
            self.stop.set()
            self.leaving = True

    def handle(self, command: dict) -> bool:
        """Run one command while paused; False once the child should leave."""
        do = command.get("do")
        if do in ("start", "resume"):
            self.train()
        elif do == "stop":
            return False
        elif do in ("save", "snapshot"):
            self.between_steps(command)
        elif do != "pause":
            self.emit("error", message=f"unknown command {do!r}")
        return not self.leaving

    def train(self) -> None:
        from musictui.run_folder import FolderTakenOver
        from musictui.train import TrainingDiverged  # torch is loaded in the child by now

        trainer = self.trainer
        self.stop.clear()
        try:
            self._train_steps(trainer)
        except TrainingDiverged as error:
            # Weights that give NaN are not worth keeping, nor is training on from them: the child
            # leaves without saving, and the run's folder keeps its last good checkpoint.
            self.save_at_exit, self.leaving = False, True
            self.emit("error", message=f"{error}. Training stopped; nothing after that checkpoint is saved.",
                      ended=True)
            return
        except FolderTakenOver as error:
            # Another trainer holds the folder now: writing beside it is what the lock prevents.
            self.save_at_exit, self.leaving = False, True
            self.emit("error", message=f"{error}. Training stopped at step {trainer.step:,}: {trainer.unsaved()}.",
                      ended=True)
            return
        except (OSError, UserError) as error:
            # A full disk (the metrics file): the run pauses, still in memory, and the parent says why.
            # With space freed, the space key goes on; at q, another folder is offered.
            saved = "saved" if trainer.step == trainer.saved_step else "not saved"
            self.emit("error", message=f"{error}. Training paused at step {trainer.step:,} ({saved}).")
            self.emit("paused", step=trainer.step)
            return
        self.emit("done" if trainer.step >= trainer.config.steps else "paused", step=trainer.step)

    def _train_steps(self, trainer) -> None:
        """Train until stopped, posting the steps in batches (every POST_EVERY_S, and at once for
        a validation loss or a checkpoint); steps done before an error are posted too."""
        from musictui.app.training import evaluation_sample

        batch, last = [], time.monotonic()
        try:
            for m in trainer.run(self.stop):
                batch.append({"step": m.step, "total_steps": m.total_steps, "loss": m.loss,
                              "chars_per_s": m.chars_per_s, "eta_s": m.eta_s, "learning_rate": m.learning_rate,
                              "val_loss": m.val_loss, "checkpoint": str(m.checkpoint) if m.checkpoint else None})
                now = time.monotonic()
                if m.val_loss is not None or m.checkpoint or now - last >= POST_EVERY_S:
                    self.emit("steps", metrics=batch)
                    batch, last = [], now
                if m.val_loss is not None:
                    self.emit("sample", step=m.step, text=evaluation_sample(trainer, seed=m.step))
                while not self.commands.empty():  # commands sent while training, between two steps
                    self.between_steps(self.commands.get())
        finally:
            if batch:
                self.emit("steps", metrics=batch)

    def run(self) -> int:
        from musictui.app.training import build_trainer

        s = self.settings
        try:
            self.trainer, note = build_trainer(Path(s["checkpoint_dir"]), Path(s["corpus"]) if s.get("corpus") else None,
                                               s.get("preset", "small"), s.get("device", "auto"), s.get("overrides"))
        except UserError as error:
            self.emit("error", message=str(error))
            return 1
        t = self.trainer
        self.emit("ready", note=note, step=t.step, steps=t.config.steps, train_losses=t.train_losses,
                  val_losses=t.val_losses, best_val_loss=t.best_val_loss)
        threading.Thread(target=self.read_commands, daemon=True).start()
        try:
            while self.handle(self.commands.get()):
                pass
            if t.step and t.step != t.saved_step and self.save_at_exit:
                self.save()  # stop, stdin closed, SIGTERM or SIGHUP: nothing trained is lost
        finally:
            if self.snapshots is not None:
                self.snapshots.cleanup()
            self.emit("bye", step=t.step)
        return 0 if not t.step or t.step == t.saved_step else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    child = _Child(json.loads(argv[0]))
    os.nice(NICE)  # alone on a core it trains as fast; on a busy machine the screen comes first
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
                 device: str = "auto", overrides: dict | None = None, own_session: bool = False) -> None:
        # own_session: the app's child is out of the terminal's reach (a closed terminal's SIGHUP
        # goes to the app, which asks for the save; the child then leaves when the pipe closes).
        settings = {"checkpoint_dir": str(checkpoint_dir), "corpus": str(corpus) if corpus else None,
                    "preset": preset, "device": device, "overrides": overrides or {}}
        self.stderr = ChildStderr()  # not the app's terminal; `last_words()` if the child dies
        self.process = subprocess.Popen(
            [sys.executable, "-m", "musictui.app.train_process", json.dumps(settings)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr.file, text=True, bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=own_session)

    def send(self, command: str, **fields) -> None:
        write_line(self.process.stdin, {"do": command, **fields})  # if the child has gone, its last events say why

    def events(self):
        """Each event as a dict, until the child exits."""
        return read_lines(self.process.stdout)

    def close(self, timeout: float = 60) -> int:
        """Close the child's stdin (it saves and exits) and wait for it; returns its exit status."""
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        try:
            return self.process.wait(timeout)
        finally:
            self.stderr.close()


class ChildRun:
    """What the app knows of the child's run, kept by the one thread that reads its events
    (`follow`), and the calls that wait for an answer (save, snapshot): any thread but that one."""

    ANSWERS = {"save": ("saved", "save_failed"), "snapshot": ("snapshot", "snapshot_failed")}

    def __init__(self, process: TrainProcess) -> None:
        self.process = process
        self.step = self.steps = 0
        self.best_val_loss: float | None = None
        self.saved_step: int | None = None
        self.training = False
        self.gone = False
        self._call_lock = threading.Lock()  # one question at a time: its answer is the next of its kind
        self._answer: queue.Queue = queue.Queue()
        self._waiting: tuple[str, ...] = ()

    def follow(self, event: dict) -> None:
        kind = event["event"]
        if kind == "ready":
            self.step, self.steps = event["step"], event["steps"]
            self.best_val_loss = event.get("best_val_loss")
            self.saved_step = self.step or None
        elif kind == "steps" and event["metrics"]:
            for m in event["metrics"]:
                if m["val_loss"] is not None and (self.best_val_loss is None or m["val_loss"] < self.best_val_loss):
                    self.best_val_loss = m["val_loss"]
                if m["checkpoint"]:
                    self.saved_step = m["step"]
            self.step = event["metrics"][-1]["step"]
        elif kind == "saved":
            self.saved_step = event["step"]
        elif kind in ("paused", "done", "bye"):
            self.training = False
            self.step = event["step"]  # a step whose metrics never came (its log line failed) still counts
        if kind == "bye":
            self.gone = True
        if kind in self._waiting or kind == "bye":
            self._answer.put(event)

    def send(self, command: str) -> None:
        if command in ("start", "resume"):
            self.training = True
        self.process.send(command)

    @property
    def unsaved(self) -> bool:
        return self.step > 0 and self.step != self.saved_step

    def call(self, command: str, timeout: float = 120, **fields) -> dict:
        """Send `command` and wait for its answer (the event); {"event": "bye"} if the child left."""
        with self._call_lock:
            self._answer = queue.Queue()
            self._waiting = self.ANSWERS[command]
            if self.gone:
                return {"event": "bye", "step": self.step}
            self.process.send(command, **fields)
            try:
                return self._answer.get(timeout=timeout)
            except queue.Empty:
                return {"event": "save_failed" if command == "save" else "error",
                        "message": f"the training process did not answer in {timeout:.0f} s"}
            finally:
                self._waiting = ()

    def save(self, folder: Path | None = None) -> Path | None:
        """Ask the child to save (in `folder`, if given) and wait; OSError if it could not. Any
        thread but the reader's. None if the child had already gone (it saves as it leaves)."""
        fields = {"folder": str(folder)} if folder is not None else {}
        answer = self.call("save", **fields)
        if answer["event"] == "save_failed":
            raise OSError(answer["message"])
        return Path(answer["path"]) if answer["event"] == "saved" else None

    def snapshot(self) -> tuple[Path, int]:
        """Have the child write the weights as they are now to a file of its own; UserError if it
        could not. Any thread but the reader's."""
        answer = self.call("snapshot", timeout=60)
        if answer["event"] != "snapshot":
            raise UserError(f"the training process could not write its weights: {answer.get('message', 'it has left')}")
        return Path(answer["path"]), answer["step"]


if __name__ == "__main__":
    sys.exit(main())
