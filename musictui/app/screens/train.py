"""The train screen: the model learns in a thread worker; the screen draws what the worker posts.

The worker (toolong's shape) only loops over `Trainer.run()`, checks for cancellation between
steps, and posts `Progress` messages, batching the steps of ~0.1 s into one so a fast model cannot
flood the UI. Everything on screen is drawn here, on the UI thread, from those messages. The
screen stays installed when the user switches away, so training goes on behind the generate screen.
"""
from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, ProgressBar, Static
from textual.worker import Worker, WorkerFailed, WorkerState, get_current_worker

from musictui.app.size import TOO_SMALL
from musictui.app.widgets.history import History

TRAIN_POINTS = 600  # the chart keeps 600 to 1200 training losses of the whole run, thinned as it grows
VAL_POINTS = 200    # validation losses, likewise
CHART_EVERY_S = 2.0  # the chart is redrawn at most this often: its canvas holds the UI thread ~100 ms on a
                     # busy 2-core machine, and a key pressed meanwhile waits for it
POST_EVERY_S = 0.1  # the worker posts at most this often (and at once for evaluations, checkpoints):
                    # ~10 redraws a second, each holding the GIL the training thread needs too
LOAD_AFTER_FIRST_FRAME_S = 0.1  # see on_mount

STATES = {
    "loading": "Loading torch, the corpus and the newest checkpoint…",
    "ready": "Ready: press space to start training.",
    "training": "Training: space pauses, c saves a checkpoint now.",
    "pausing": "Pausing after this step…",
    "paused": "Paused: space resumes.",
    "done": "Done: the run reached its last step.",
    "failed": "Could not load the training run (see the notification).",
}


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


class TrainScreen(Screen):
    """A chart of the losses, the current figures, progress, the last checkpoint, a sample."""

    BINDINGS = [Binding("c", "save_checkpoint", "Save checkpoint"),
                Binding("l", "toggle_log", "Log scale")]

    state: reactive[str] = reactive("loading")

    class Ready(Message):
        def __init__(self, trainer, note: str) -> None:
            super().__init__()
            self.trainer, self.note = trainer, note

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
        self.trainer = None
        self._stop = threading.Event()
        self._save_now = threading.Event()
        self._worker: Worker | None = None
        self._saved_step: int | None = None  # step of the last checkpoint written (by any thread)
        # Every save the app asks for holds this: `c` twice, or `c` then `q`, used to run two saves
        # of one run at once. The training loop's own periodic saves run in the training thread,
        # which the quit path waits for before it saves.
        self._save_lock = threading.Lock()
        self.train_losses = History(TRAIN_POINTS)  # (step, loss)
        self.val_losses = History(VAL_POINTS)      # (step, loss)
        self._chart_stale = False
        self._chart_mounting = False

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
        yield Footer(compact=True)

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

    def watch_state(self, state: str) -> None:
        self.query_one("#status", Label).update(STATES[state])

    # -- loading -----------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="load", name="loading the training run")
    def _load(self) -> None:
        from musictui.app.training import build_trainer

        s = self.settings
        trainer, note = build_trainer(s.checkpoint_dir, s.corpus, s.preset, s.device, s.overrides)
        self.post_message(self.Ready(trainer, note))

    def on_train_screen_ready(self, message: Ready) -> None:
        trainer = self.trainer = message.trainer
        self._saved_step = trainer.step if trainer.step else None
        self.train_losses.extend(enumerate(trainer.train_losses, start=1))
        self.val_losses.extend(trainer.val_losses)
        self._draw_curves()
        self.query_one("#progress", ProgressBar).update(total=trainer.config.steps, progress=trainer.step)
        self.query_one("#progress-text", Label).update(f"step {trainer.step:,} of {trainer.config.steps:,}")
        if trainer.train_losses:
            self.query_one("#figures", Static).update(
                f"step {trainer.step:,} / {trainer.config.steps:,}\nloss {trainer.train_losses[-1]:.3f}\n"
                f"val loss {self._val_text()}\nchars/s —\nleft —\nlearning rate {trainer.learning_rate(trainer.step):.1e}")
        self.notify(message.note, title="Training run", markup=False)
        self.state = "done" if trainer.step >= trainer.config.steps else ("paused" if trainer.step else "ready")
        if self.settings.autostart and self.state == "ready":
            self.toggle_training()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            if event.worker.group == "load":
                self.state = "failed"
            elif event.worker.group == "train":
                self.state = "paused"
            self.app.worker_failed(event.worker)

    # -- start, pause, save ------------------------------------------------------------------

    def toggle_training(self) -> None:
        """Space: start, pause or resume."""
        if self.trainer is None:
            self.notify("Still loading the training run…" if self.state == "loading"
                        else "There is no training run to start (see the earlier message).", severity="warning")
        elif self.state == "training":
            self._stop.set()
            self.state = "pausing"
        elif self.state == "pausing":
            self.notify("Pausing after the current step…")
        elif self.trainer.step >= self.trainer.config.steps:
            self.notify(f"The run is complete at step {self.trainer.step}: start a new one in another "
                        "--checkpoint-dir to train further.", severity="warning")
        else:
            self._stop = threading.Event()  # a fresh event: the old worker may still be finishing
            self.state = "training"
            self._worker = self._train(self.trainer, self._stop)

    @work(thread=True, exit_on_error=False, group="train", name="training")
    def _train(self, trainer, stop: threading.Event) -> None:
        worker = get_current_worker()
        batch, last_post = [], time.monotonic()
        for metrics in trainer.run(stop):
            batch.append(metrics)
            if metrics.checkpoint:
                self._saved_step = metrics.step
            if self._save_now.is_set():
                self._save_now.clear()
                path = self._save_locked()  # here, between two steps: the saved state is consistent
                self.post_message(self.CheckpointSaved(path))
            now = time.monotonic()
            if metrics.val_loss is not None or metrics.checkpoint or now - last_post >= POST_EVERY_S:
                self.post_message(self.Progress(batch))
                batch, last_post = [], now
            if worker.is_cancelled:
                stop.set()  # run() ends before its next step
        if batch:
            self.post_message(self.Progress(batch))
        self.post_message(self.Stopped(trainer.step, trainer.step >= trainer.config.steps))

    def action_save_checkpoint(self) -> None:
        if self.trainer is None:
            self.notify("Nothing to save yet: the training run is still loading.", severity="warning")
        elif self.state in ("training", "pausing"):
            self._save_now.set()  # the training thread saves between two steps
        elif self._save_lock.locked():
            self.notify("Already saving a checkpoint…")
        else:
            self._save_idle()

    @work(thread=True, exit_on_error=False, group="save", name="saving a checkpoint")
    def _save_idle(self) -> None:
        self.post_message(self.CheckpointSaved(self._save_locked()))

    def _save_locked(self) -> Path:
        """Save the run in its folder, one save at a time. Any thread."""
        with self._save_lock:
            path = self.trainer.save()
            self._saved_step = self.trainer.step
            return path

    def save_to(self, folder: Path) -> Path:
        """Save the run in another folder (quitting, when its own could not take it). Any thread.
        The run's own folder and its checkpoints are left as they are."""
        from musictui.app.training import save_run_to

        with self._save_lock:
            path = save_run_to(self.trainer, folder)
            self._saved_step = self.trainer.step
            return path

    @property
    def unsaved(self) -> bool:
        """True when the run has trained steps that no checkpoint holds yet."""
        return self.trainer is not None and self.trainer.step > 0 and self.trainer.step != self._saved_step

    async def stop_and_save(self) -> Path | None:
        """Stop training (finishing the current step) and save, if anything is unsaved. For quitting."""
        if self._worker is not None and self._worker.is_running:
            self._stop.set()
            try:
                await self._worker.wait()
            except WorkerFailed:
                pass  # already on screen (worker_failed); what it trained is still to be saved
        if not self.unsaved:
            return None
        return await asyncio.to_thread(self._save_locked)

    # -- drawing what the worker posts -------------------------------------------------------

    def on_train_screen_progress(self, message: Progress) -> None:
        metrics = message.metrics
        self.train_losses.extend((m.step, m.loss) for m in metrics)
        for m in metrics:
            if m.val_loss is not None:
                self.val_losses.extend([(m.step, m.val_loss)])
                # One sample at a time: when sampling takes longer than the steps between two
                # evaluations, cancelling the older one would leave the sample pane empty forever.
                if not any(w.group == "sample" and w.is_running for w in self.workers):
                    self._sample(m.step)
            if m.checkpoint:
                self._show_checkpoint(m.checkpoint)
        self._draw_curves()
        self._draw_figures(metrics[-1])

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

    def _draw_figures(self, m) -> None:
        self.query_one("#figures", Static).update(
            f"step {m.step:,} / {m.total_steps:,}\nloss {m.loss:.3f}\nval loss {self._val_text()}\n"
            f"chars/s {m.chars_per_s:,.0f}\nleft {_duration(m.eta_s)}\nlearning rate {m.learning_rate:.1e}")
        self.query_one("#progress", ProgressBar).update(total=m.total_steps, progress=m.step)
        self.query_one("#progress-text", Label).update(
            f"step {m.step:,} of {m.total_steps:,} · {_duration(m.eta_s)} left")

    def _val_text(self) -> str:
        best = self.trainer.best_val_loss if self.trainer else None
        last = f"{self.val_losses[-1][1]:.3f}" if self.val_losses else "—"
        return last + (f" (best {best:.3f})" if best is not None else "")

    def _show_checkpoint(self, path: Path) -> None:
        self.query_one("#checkpoint", Label).update(f"last checkpoint: {path}")

    def on_train_screen_checkpoint_saved(self, message: CheckpointSaved) -> None:
        self._show_checkpoint(message.path)
        self.notify(f"Saved {message.path}", title="Checkpoint", markup=False)

    def on_train_screen_stopped(self, message: Stopped) -> None:
        self.state = "done" if message.finished else "paused"

    @work(thread=True, exit_on_error=False, group="sample", name="sampling at evaluation")
    def _sample(self, step: int) -> None:
        from musictui.app.training import evaluation_sample

        text = evaluation_sample(self.trainer, seed=step)
        if not get_current_worker().is_cancelled:
            self.post_message(self.SampleReady(step, text))

    def on_train_screen_sample_ready(self, message: SampleReady) -> None:
        sample = self.query_one("#sample", Static)
        sample.update(message.text.rstrip() or "(empty)")
        sample.border_title = f"sample from a copy of the weights at step {message.step:,}"
