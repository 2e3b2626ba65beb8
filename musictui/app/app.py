"""MusicApp: the two screens, the keys that move between them, quitting safely, errors as messages.

`make_app(...)` is the factory the command and the tests use. Nothing here imports torch: the
first frame is drawn while the train screen's worker loads torch, the corpus and the checkpoint.
"""
from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text
from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker

from musictui.app.screens.book import BookScreen
from musictui.app.screens.generate import GenerateScreen
from musictui.app.screens.train import TrainScreen
from musictui.app.size import MIN_HEIGHT, MIN_WIDTH
from musictui.errors import UserError


@dataclass
class AppSettings:
    checkpoint_dir: Path = Path("checkpoints")  # the user's run: resumed from, saved to
    corpus: Path | None = None                  # None: irish.abc from mitdeeplearning
    preset: str = "small"                       # for a new run (a resumed run keeps its own)
    device: str = "auto"
    generate_checkpoint: Path | None = None     # a file to generate from, offered first
    tunes_dir: Path = Path("tunes")             # where `w` saves a tune's ABC, MIDI and WAV
    overrides: dict = field(default_factory=dict)  # Config fields for a new run (steps, eval_every…)
    autostart: bool = False                     # start training as soon as the run is loaded
    tunebook: Path | None = None                # the tune book's file (None: $XDG_DATA_HOME/musictui/tunes.db)

    def __post_init__(self) -> None:
        if self.tunebook is None:
            from musictui.tunebook import default_path

            self.tunebook = default_path()


SIGNAL_EXIT_GRACE_S = 10  # see _exit_for_signal
PREPARE_AFTER_S = 0.3  # after the first frame: composing the other screens must not delay it


def freeze_long_lived() -> None:
    """Move every object alive now (modules, screens, widgets, styles) out of the garbage
    collector's sight. Python's full collections walk all of them: gc callbacks measured 65-185 ms
    pauses every few seconds on the UI thread while training, each one a key press held up.
    What is alive once the app has loaded stays alive, so nothing is leaked by not walking it."""
    import gc

    gc.collect()
    gc.freeze()


def plain(text: str) -> Text:
    """Text printed as it is: a path such as runs/[red] must not be read as rich markup."""
    return Text(text)


class MusicApp(App):
    TITLE = "musictui"
    CSS_PATH = "app.tcss"
    # The screen gets -narrow / -short below the minimum size: app.tcss then hides the panes and
    # shows each screen's "too small" line (a 40×10 terminal used to squash the panes unreadably).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (MIN_WIDTH, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (MIN_HEIGHT, "-tall")]
    BINDINGS = [
        Binding("t", "show('train')", "Train"),
        Binding("g", "show('generate')", "Generate"),
        Binding("b", "show('book')", "Tune book"),
        Binding("space", "toggle_training", "Start/pause"),
        Binding("n", "new_tune", "New tune"),
        Binding("r", "replay", "Replay"),
        Binding("s", "stop_sound", "Stop sound"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, settings: AppSettings) -> None:
        super().__init__()
        self.settings = settings
        self.train_screen = TrainScreen(settings)
        self.generate_screen = GenerateScreen(settings)
        self.book_screen = BookScreen(settings)
        self._player = None
        self._playback = None
        self._player_lock = threading.Lock()
        self.saved_on_quit: Path | None = None
        self._quitting = False  # a quit (q, or a signal) is saving: a second one waits for it

    def on_mount(self) -> None:
        from musictui.playback import silence_alsa

        silence_alsa()  # before anything opens ALSA: its complaints would tear the screen
        # SIGTERM (kill, a shutdown) and SIGHUP (the terminal closed) quit like q: save, then
        # leave, restoring the terminal. Without this they killed the app with its run unsaved.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests)
                pass
        self.install_screen(self.train_screen, "train")
        self.install_screen(self.generate_screen, "generate")
        self.install_screen(self.book_screen, "book")
        self.push_screen("train")
        self.set_timer(PREPARE_AFTER_S, self._prepare_screens)

    async def _prepare_screens(self) -> None:
        """Compose and lay out the other screens now, behind the train screen, while the UI thread
        waits for the training process anyway: done on the first g, it held that key press
        300-500 ms. `_get_screen` mounts an installed screen without showing it (Textual's switch
        calls it so), and a layout of a screen that is not current draws nothing."""
        for name in ("generate", "book"):
            screen = self.get_screen(name)
            if not screen.is_running:
                _, mounted = self._get_screen(name)
                await mounted
                screen.post_message(events.Resize(self.size, self.size))  # its breakpoint classes
                screen._refresh_layout(self.size)
                screen.mark_styled()

    def on_unmount(self) -> None:
        self.train_screen.close_child()  # the child leaves when its pipe closes: never orphaned
        self.generate_screen.sampling.close()  # so does the sampler's

    # -- actions -----------------------------------------------------------------------------


    def _help_is_open(self) -> bool:
        return self.screen.id == "help"

    def _leave_help(self) -> None:
        if self._help_is_open():
            self.pop_screen()

    async def action_show(self, name: str) -> None:
        self._leave_help()
        if self.screen.name != name:
            await self.switch_screen(name)

    def action_toggle_training(self) -> None:
        self.train_screen.toggle_training()

    async def action_new_tune(self) -> None:
        await self.action_show("generate")
        self.generate_screen.new_tune()

    async def action_toggle_meter_aware(self) -> None:
        """From the command palette: show the generate screen, where the switch shows the change."""
        await self.action_show("generate")
        self.generate_screen.action_toggle_meter_aware()

    def action_replay(self) -> None:
        self.generate_screen.replay()

    def action_stop_sound(self) -> None:
        if self.stop_sound():
            self.notify("Stopped.")

    def action_help(self) -> None:
        if self._help_is_open():
            self.pop_screen()
        else:
            # Imported here: its Markdown widget pulls in markdown-it, which the first frame can do without.
            from musictui.app.screens.help import HelpScreen

            self.push_screen(HelpScreen(id="help"))

    async def action_quit(self) -> None:
        """q and ctrl+q: stop training after its current step, save it, then leave. If the save
        fails (a full disk, a folder gone), the app stays open and offers another folder."""
        if self._quitting or self.screen.id == "save-elsewhere":
            return
        self._quitting = True
        try:
            self.stop_sound()
            if self.train_screen.unsaved or self.train_screen.state in ("training", "pausing"):
                self.notify("Saving a checkpoint before quitting…")
            try:
                self.saved_on_quit = await self.train_screen.stop_and_save()
            except (OSError, UserError) as error:
                from musictui.app.screens.save_elsewhere import SaveElsewhereScreen  # rarely needed: not in the first frame

                self.notify(f"Could not save the checkpoint: {error}", title="Not saved", severity="error",
                            timeout=30, markup=False)
                self.push_screen(SaveElsewhereScreen(self.train_screen, str(error)), self._after_save_elsewhere)
                return
            self.exit(message=self._saved_message())
        finally:
            self._quitting = False

    def _saved_message(self) -> Text | None:
        return plain(f"musictui: saved {self.saved_on_quit}") if self.saved_on_quit else None

    def _after_save_elsewhere(self, result: Path | bool | None) -> None:
        """The modal's answer: a path (saved there: leave), True (quit without saving), None (stay)."""
        if isinstance(result, Path):
            self.saved_on_quit = result
            self.exit(message=self._saved_message())
        elif result is True:
            self.exit(return_code=1, message=plain("musictui: quit without saving; the newest checkpoint on "
                                                   "disk is the last one that was saved"))

    def _on_signal(self, signum: int) -> None:
        """SIGTERM / SIGHUP: quit as q does. Nobody may be left to answer a question, so if the
        save fails the app says so on stderr and exits non-zero instead of asking for a folder."""
        self.run_worker(self._quit_for_signal(signal.Signals(signum).name), group="signal-quit")

    async def _quit_for_signal(self, name: str) -> None:
        self.stop_sound()
        try:
            self.saved_on_quit = await self.train_screen.stop_and_save()
        except (OSError, UserError) as error:
            self._exit_for_signal(1, f"musictui: {name}: could not save the checkpoint ({error})")
            return
        self._exit_for_signal(0, f"musictui: {name}: " + (f"saved {self.saved_on_quit}" if self.saved_on_quit
                                                          else "nothing was unsaved"))

    def _exit_for_signal(self, code: int, message: str) -> None:
        """Leave after a signal, when the run is saved. A closed terminal (SIGHUP) can leave Textual's
        shutdown waiting forever on its writer thread (seen: apps of killed tmux sessions hung in
        `LinuxDriver.disable_input`, holding the training child's pipe open). Nothing is left
        to lose by then, so after a grace period the process ends regardless."""
        def end_anyway() -> None:
            time.sleep(SIGNAL_EXIT_GRACE_S)
            os._exit(code)

        threading.Thread(target=end_anyway, daemon=True, name="exit-after-signal").start()
        self.exit(return_code=code, message=plain(message))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Train screen", "Loss curves, progress, samples (t)", lambda: self.run_action("show('train')"))
        yield SystemCommand("Generate screen", "Stream, render and play tunes (g)", lambda: self.run_action("show('generate')"))
        yield SystemCommand("Tune book", "Every tune kept: search, star, replay, save (b)", lambda: self.run_action("show('book')"))
        yield SystemCommand("Start or pause training", "Space", self.action_toggle_training)
        yield SystemCommand("Save a checkpoint now", "c on the train screen", self.train_screen.action_save_checkpoint)
        yield SystemCommand("New tune", "Sample, render and play one (n)", self.action_new_tune)
        yield SystemCommand("Meter-aware sampling on or off", "Keep every bar the length its meter asks (m)",
                            lambda: self.run_action("toggle_meter_aware"))
        yield SystemCommand("Replay the tune", "r", self.action_replay)
        yield SystemCommand("Stop the sound", "s", self.action_stop_sound)
        yield SystemCommand("Save the tune", "As ABC, MIDI and WAV (w)", self.generate_screen.action_save_tune)

    # -- what the screens share --------------------------------------------------------------

    def on_train_screen_ready(self, message: TrainScreen.Ready) -> None:
        self.generate_screen.trainer = self.train_screen  # for sampling from the live weights (its snapshot)
        freeze_long_lived()

    def play(self, wav_path: Path):
        """Play a WAV, stopping what played before; returns the Playback. Called from workers: the
        Player is made on first use there, since importing simpleaudio takes a moment."""
        with self._player_lock:
            if self._player is None:
                from musictui.playback import Player

                self._player = Player()
            self._playback = self._player.play(wav_path)  # NoAudioDevice says where the WAV is
            return self._playback

    def stop_sound(self) -> bool:
        """Stop whatever plays; True if something was playing."""
        playback, self._playback = self._playback, None
        if playback is None:
            return False
        playing = playback.is_playing()
        playback.stop()
        return playing

    def worker_failed(self, worker: Worker) -> None:
        """Every worker failure becomes a notification: a user's problem in its own words, a bug by
        its type. Worker.StateChanged does not bubble, so each screen passes its failures here."""
        error = worker.error
        if isinstance(error, UserError):
            from musictui.playback import NoAudioDevice

            severity = "warning" if isinstance(error, NoAudioDevice) else "error"
            self.notify(str(error), title=worker.name.capitalize(), severity=severity, timeout=10, markup=False)
        else:
            self.log.error(f"{worker.name} failed", error)
            self.notify(f"{type(error).__name__}: {error}", title=f"Bug while {worker.name}",
                        severity="error", timeout=15, markup=False)


def make_app(checkpoint_dir: Path | str = "checkpoints", corpus: Path | str | None = None, preset: str = "small",
             generate_checkpoint: Path | str | None = None, device: str = "auto",
             tunes_dir: Path | str = "tunes", overrides: dict | None = None, autostart: bool = False,
             tunebook: Path | str | None = None) -> MusicApp:
    """The app, configured: the command line and the tests both build it here."""
    return MusicApp(AppSettings(
        checkpoint_dir=Path(checkpoint_dir), corpus=Path(corpus) if corpus else None, preset=preset,
        device=device, generate_checkpoint=Path(generate_checkpoint) if generate_checkpoint else None,
        tunes_dir=Path(tunes_dir), overrides=dict(overrides or {}), autostart=autostart,
        tunebook=Path(tunebook) if tunebook else None))


def end_lingering_threads(code: int, grace_s: float = 5.0) -> None:
    """Call after `app.run()`. A terminal that closes while the app is leaving (q, then the tmux
    session killed) leaves Textual's input thread reading the ended terminal forever, at full CPU,
    and Python waits for that thread before it exits: seen, a process spinning for ten minutes.
    The app is done by then, its run saved; a thread still there after `grace_s` ends the process."""
    import sys

    deadline = time.monotonic() + grace_s
    for thread in threading.enumerate():
        if thread is threading.main_thread() or thread.daemon:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):  # the terminal is gone
                    pass
            os._exit(code)
