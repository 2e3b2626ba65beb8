"""The train screen: the model learns in a child process; the screen draws what the child says.

The child (`musictui.app.train_process`) trains, makes the evaluation samples and saves; no
training step ever holds this process's GIL (issue 14). One thread worker only reads the child's
JSON lines and posts them as messages (steps come batched, ~0.25 s to a line); space, `c`, `q` and
the generate screen's "training weights, now" are commands sent back. Everything on screen is drawn
here, on the UI thread, from those messages. The screen stays installed when the user switches
away, so training goes on behind the generate screen.
"""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Header, Label, ProgressBar, Static
from textual.worker import Worker, WorkerState

from musictui.app.screens.installed import InstalledScreen
from musictui.app.size import TOO_SMALL
from musictui.app.widgets.key_bar import KeyBar
from musictui.app.widgets.history import History

TRAIN_POINTS = 600  # the chart keeps 600 to 1200 training losses of the whole run, thinned as it grows
VAL_POINTS = 200    # validation losses, likewise
CHART_EVERY_S = 2.0  # the chart is redrawn at most this often: its canvas holds the UI thread ~100 ms on a
                     # busy 2-core machine, and a key pressed meanwhile waits for it
LOAD_AFTER_FIRST_FRAME_S = 0.1  # see on_mount

STATES = {
    "loading": "Loading torch, the corpus and the newest checkpoint…",
    "ready": "Ready: press space to start training.",
    "training": "Training: space pauses, c saves a checkpoint now.",
    "pausing": "Pausing after this step…",
    "paused": "Paused: space resumes.",
    "done": "Done: the run reached its last step.",
    "failed": "Could not load the training run (see the notification).",
    "ended": "The training process ended (see the notification): open the app again to train on.",
}


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


class TrainScreen(InstalledScreen):
    """A chart of the losses, the current figures, progress, the last checkpoint, a sample."""

    BINDINGS = [Binding("c", "save_checkpoint", "Save checkpoint"),
                Binding("l", "toggle_log", "Log scale")]

    state: reactive[str] = reactive("loading")

    class Ready(Message):
        def __init__(self, run, event: dict) -> None:
            super().__init__()
            self.run, self.event = run, event  # a ChildRun, and the child's "ready" event

    class Failed(Message):
        def __init__(self, text: str, loaded: bool, ended: bool = False) -> None:
            super().__init__()
            self.text, self.loaded, self.ended = text, loaded, ended  # ended: the child is gone

    class Progress(Message):
        def __init__(self, metrics: list) -> None:
            super().__init__()
            self.metrics = metrics  # StepMetrics, oldest first

    class Stopped(Message):
        def __init__(self, step: int, finished: bool) -> None:
            super().__init__()
            self.step, self.finished = step, finished

    class CheckpointSaved(Message):
        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    class SampleReady(Message):
        def __init__(self, step: int, text: str) -> None:
            super().__init__()
            self.step, self.text = step, text

    def __init__(self, settings) -> None:
        super().__init__(name="train")
        self.settings = settings  # the app's AppSettings: folder, corpus, preset, device
        self.trainer = None  # a ChildRun once the child is ready: the run as the child reports it
        self._worker: Worker | None = None
        self._run = None  # the ChildRun, from the moment the child is started
        self._saving = False  # `c` twice says so; the child makes one save at a time in any case
        self.train_losses = History(TRAIN_POINTS)  # (step, loss)
        self.val_losses = History(VAL_POINTS)      # (step, loss)
        self._chart_stale = False
        self._chart_mounting = False
        self._last_metrics = None  # the newest step's figures, drawn when this screen shows
        self._checkpoint_text = self._checkpoint_shown = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label(TOO_SMALL, classes="too-small", markup=False)
        yield Label(STATES["loading"], id="status")
        with Horizontal(id="train-top"):
            yield Static("step —\nloss —\nval loss —\nchars/s —\nleft —\nlearning rate —", id="figures",
                         markup=False)
            # The chart comes once the run is loaded: textual-plot imports numpy, which the first
            # frame can do without (torch has imported it by then).
            yield Static("", id="chart-slot")
        with Horizontal(id="progress-row"):
            yield ProgressBar(total=1, show_eta=False, id="progress")  # a total: no animation
            yield Label("", id="progress-text", markup=False)
        yield Label("last checkpoint: none yet", id="checkpoint", markup=False)
        yield Static("(none yet: one appears at each evaluation)", id="sample", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "train"
        self.query_one("#figures").border_title = "now"
        self.query_one("#sample").border_title = "sample from a copy of the current weights"
        # Load once the first frame is on the terminal: the worker's import of torch holds the GIL
        # for a second or more, and started at mount it held the first frame back by ~0.6 s (1.4 s
        # instead of 0.75 s on a busy 2-core machine). The frame is composed by the first refresh and
        # written out by Textual's writer thread just after, hence the short wait.
        self.call_after_refresh(self.set_timer, LOAD_AFTER_FIRST_FRAME_S, self._load)
        self.set_interval(CHART_EVERY_S, self._draw_chart_if_stale)

    def _widgets_gone(self) -> bool:  # the app is closing: a run's "ready" came after its widgets went (seen in CI)
        return not self.is_attached or not self.query("#status")

    def watch_state(self, state: str) -> None:
        if self._widgets_gone():
            return
        self.query_one("#status", Label).update(STATES[state], layout=False)  # one line, full width

    # -- the child process and the one worker that reads it ----------------------------------

    def _load(self) -> None:
        self._worker = self._follow()

    @work(thread=True, exit_on_error=False, group="load", name="loading the training run")
    def _follow(self) -> None:
        """Start the training process and turn each of its events into a message, until it leaves.
        Nothing else happens in this thread: the training itself runs in the child."""
        from musictui.app.train_process import ChildRun, TrainProcess

        s = self.settings
        run = ChildRun(TrainProcess(s.checkpoint_dir, s.corpus, s.preset, s.device, s.overrides, own_session=True))
        self._run = run
        failed = None
        said_bye = False
        for event in run.process.events():
            run.follow(event)
            kind = event["event"]
            said_bye = said_bye or kind == "bye"
            if kind == "ready":
                self.post_message(self.Ready(run, event))
            elif kind == "steps" and event["metrics"]:
                self.post_message(self.Progress([SimpleNamespace(**m) for m in event["metrics"]]))
            elif kind == "sample":
                self.post_message(self.SampleReady(event["step"], event["text"]))
            elif kind == "saved":
                self.post_message(self.CheckpointSaved(Path(event["path"])))
            elif kind in ("paused", "done"):
                self.post_message(self.Stopped(event["step"], kind == "done"))
            elif kind == "error":
                failed = event["message"]
                self.post_message(self.Failed(failed, loaded=run.steps > 0, ended=event.get("ended", False)))
        if not said_bye and failed is None:
            # Killed (the OOM killer, a signal) or crashed: say so, or the screen would look paused.
            saved = f"step {run.saved_step:,} is saved" if run.saved_step else "nothing was saved"
            self.post_message(self.Failed(
                f"The training process ended unexpectedly{run.process.stderr.last_words()}: {saved}. "
                "Open the app again to train on from the last checkpoint.", loaded=True, ended=True))
        run.gone = True
        run.follow({"event": "bye", "step": run.step})  # wakes a question still waiting for its answer
        run.process.close(timeout=10)

    def close_child(self) -> None:
        """The app is leaving: close the child's stdin, so it saves what is unsaved and exits (and
        the reader thread, at the end of its output, with it)."""
        run = self._run
        if run is not None:
            try:
                run.process.process.stdin.close()
            except OSError:
                pass

    def on_train_screen_ready(self, message: Ready) -> None:
        if self._widgets_gone():
            return  # closing: the child saves and leaves as its pipe closes
        run = self.trainer = message.run
        event = message.event
        self.train_losses.extend(enumerate(event["train_losses"], start=1))
        self.val_losses.extend(tuple(v) for v in event["val_losses"])
        self._draw_curves()
        self.query_one("#progress", ProgressBar).update(total=run.steps, progress=run.step)
        self.query_one("#progress-text", Label).update(f"step {run.step:,} of {run.steps:,}")
        if event["train_losses"]:
            self.query_one("#figures", Static).update(
                f"step {run.step:,} / {run.steps:,}\nloss {event['train_losses'][-1]:.3f}\n"
                f"val loss {self._val_text()}\nchars/s —\nleft —\nlearning rate —")
        self.notify(event["note"], title="Training run", markup=False)
        self.state = "done" if run.step >= run.steps else ("paused" if run.step else "ready")
        if self.settings.autostart and self.state == "ready":
            self.toggle_training()

    def on_train_screen_failed(self, message: Failed) -> None:
        if message.ended:
            self.state = "ended"
        elif not message.loaded:
            self.state = "failed"
        elif self.state in ("training", "pausing"):
            self.state = "paused"
        self.notify(message.text, title="Training", severity="error", timeout=15, markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            if event.worker.group == "load":
                self.state = "failed"
            self.app.worker_failed(event.worker)

    # -- start, pause, save: commands to the child -------------------------------------------

    def toggle_training(self) -> None:
        """Space: start, pause or resume."""
        run = self.trainer
        if run is None:
            self.notify("Still loading the training run…" if self.state == "loading"
                        else "There is no training run to start (see the earlier message).", severity="warning")
        elif run.gone:
            self.notify(STATES["ended"], severity="warning")
        elif self.state == "training":
            run.send("pause")
            self.state = "pausing"
        elif self.state == "pausing":
            self.notify("Pausing after the current step…")
        elif run.step >= run.steps:
            self.notify(f"The run is complete at step {run.step}: start a new one in another "
                        "--checkpoint-dir to train further.", severity="warning")
        else:
            self.state = "training"
            run.send("resume")

    def action_save_checkpoint(self) -> None:
        if self.trainer is None:
            self.notify("Nothing to save yet: the training run is still loading.", severity="warning")
        elif self.trainer.gone:
            self.notify(STATES["ended"], severity="warning")
        elif self._saving:
            self.notify("Already saving a checkpoint…")
        else:
            self._save_now()

    @work(thread=True, exit_on_error=False, group="save", name="saving a checkpoint")
    def _save_now(self) -> None:
        self._saving = True
        failed = None
        try:
            self.trainer.save()
        except OSError as error:
            failed = error
        finally:
            self._saving = False
        if failed is not None:
            self.app.call_from_thread(self.notify, f"Could not save the checkpoint: {failed}",
                                      title="Not saved", severity="error", timeout=15, markup=False)

    def save_to(self, folder: Path) -> Path:
        """Save the run in another folder (quitting, when its own could not take it). Any thread.
        The run's own folder and its checkpoints are left as they are."""
        path = self.trainer.save(Path(folder))
        if path is None:
            raise OSError("the training process has already left")
        return path

    @property
    def unsaved(self) -> bool:
        """True when the run has trained steps that no checkpoint holds yet."""
        return self.trainer is not None and not self.trainer.gone and self.trainer.unsaved

    async def stop_and_save(self) -> Path | None:
        """Pause training (finishing the current step) and save, if anything is unsaved. For quitting."""
        run = self.trainer
        if run is None or run.gone:
            return None
        if run.training:
            run.send("pause")
        deadline = time.monotonic() + 120
        while run.training and not run.gone and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # the child's "paused" comes after the step it was in
        if not self.unsaved:
            return None
        return await asyncio.to_thread(self.trainer.save)

    def snapshot(self) -> tuple[Path, int]:
        """The training weights as they are now, written to a file by the child (the generate
        screen's "training weights, now"). Any thread but the reader's."""
        from musictui.errors import UserError

        if self.trainer is None:
            raise UserError("no training run is loaded yet: open the train screen (t) and wait for it")
        return self.trainer.snapshot()

    # -- drawing what the worker posts -------------------------------------------------------

    def on_train_screen_progress(self, message: Progress) -> None:
        metrics = message.metrics
        self.train_losses.extend((m.step, m.loss) for m in metrics)
        for m in metrics:
            if m.val_loss is not None:
                self.val_losses.extend([(m.step, m.val_loss)])
            if m.checkpoint:
                self._checkpoint_text = f"last checkpoint: {m.checkpoint}"
        self._draw_curves()
        self._last_metrics = metrics[-1]
        # Behind another screen nothing is drawn (nobody sees it); coming back draws the newest
        # figures just after the switch's own frame, so the key's effect is not held up by them.
        if self.is_current:
            self._draw_figures()

    def on_screen_resume(self) -> None:
        self.call_after_refresh(self._draw_figures)

    def _draw_curves(self) -> None:
        self._chart_stale = True  # drawn by the next tick of _draw_chart_if_stale

    async def _draw_chart_if_stale(self) -> None:
        if not (self._chart_stale and self.is_current and self.trainer is not None and self.is_attached):
            return  # nothing new, or behind another screen: nothing to see
        charts = self.query("#chart")
        if not charts:
            if self._chart_mounting:
                return
            self._chart_mounting = True  # the interval and a resume may both get here
            from musictui.app.widgets.loss_chart import LossChart

            chart = LossChart(id="chart")
            await self.query_one("#chart-slot").remove()
            await self.query_one("#train-top").mount(chart)
        else:
            chart = charts.first()
        self._chart_stale = False
        chart.draw(self.train_losses.points, self.val_losses.points)

    # No redraw on_screen_resume: the switch back to this screen would wait for the chart's canvas
    # (tens of ms on a busy machine); the next tick of the interval draws it instead.

    async def action_toggle_log(self) -> None:
        charts = self.query("#chart")
        if not charts:
            return  # still loading: nothing drawn yet
        charts.first().toggle_log()
        self._chart_stale = True
        await self._draw_chart_if_stale()

    def _draw_figures(self) -> None:
        # Every widget here has a fixed size (app.tcss), so an update repaints it without a layout
        # of the whole screen: several layouts a second were most of the UI's time while training.
        m = self._last_metrics
        if m is None or self._widgets_gone():
            return
        self.query_one("#figures", Static).update(
            f"step {m.step:,} / {m.total_steps:,}\nloss {m.loss:.3f}\nval loss {self._val_text()}\n"
            f"chars/s {m.chars_per_s:,.0f}\nleft {_duration(m.eta_s)}\nlearning rate {m.learning_rate:.1e}",
            layout=False)
        self.query_one("#progress", ProgressBar).update(total=m.total_steps, progress=m.step)
        self.query_one("#progress-text", Label).update(
            f"step {m.step:,} of {m.total_steps:,} · {_duration(m.eta_s)} left", layout=False)
        self._draw_checkpoint()

    def _val_text(self) -> str:
        best = self.trainer.best_val_loss if self.trainer else None
        last = f"{self.val_losses[-1][1]:.3f}" if self.val_losses else "—"
        return last + (f" (best {best:.3f})" if best is not None else "")

    def _draw_checkpoint(self) -> None:
        text = self._checkpoint_text
        if text and text != self._checkpoint_shown and not self._widgets_gone():
            self._checkpoint_shown = text
            self.query_one("#checkpoint", Label).update(text, layout=False)

    def on_train_screen_checkpoint_saved(self, message: CheckpointSaved) -> None:
        self._checkpoint_text = f"last checkpoint: {message.path}"
        self._draw_checkpoint()
        self.notify(f"Saved {message.path}", title="Checkpoint", markup=False)

    def on_train_screen_stopped(self, message: Stopped) -> None:
        self.state = "done" if message.finished else "paused"

    def on_train_screen_sample_ready(self, message: SampleReady) -> None:
        if self._widgets_gone():
            return
        sample = self.query_one("#sample", Static)
        sample.update(message.text.rstrip() or "(empty)", layout=False)  # its size is the screen's
        sample.border_title = f"sample from a copy of the weights at step {message.step:,}"
