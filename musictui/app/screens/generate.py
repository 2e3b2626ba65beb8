"""The generate screen: a tune streams into a Log one batch of characters at a time, then plays.

The sampler runs in a process of its own (`app/sample_process.py`), so its steps never wait for
the UI's GIL; the sampling worker reads what it sends, a batch every ~0.1 s, and posts it. The
`TuneLog` appends to its last line and redraws only itself, so the screen keeps up with a sampler
writing thousands of characters a second. When the tune ends, a second worker renders it (abc2midi,
timidity) and plays it; the report and any trouble come back as messages or notifications.
"""
from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Header, Input, Label, Log, OptionList, Select, Static, Switch
from textual.worker import Worker, WorkerState, get_current_worker

from musictui.app.screens.installed import InstalledScreen
from musictui.app.screens.score import ScoreScreen  # at import: textual-image asks the terminal before the app runs
from musictui.app.size import TOO_SMALL
from musictui.app.widgets.key_bar import KeyBar
from musictui.app.widgets.tune_log import TuneLog
from musictui.app.sample_process import SampleProcess
from musictui.app.sources import Weights, default_source, source_options
from musictui.app.tunes import Tune

FIELDS = ("temperature", "top_k", "top_p", "seed", "form", "tune_type", "title", "meter", "key")  # read_settings's inputs


class GenerateScreen(InstalledScreen):
    """Checkpoint, sampling settings and header on the left; the tune, its report and the list on the right."""

    BINDINGS = [
        Binding("w", "save_tune", "Save"),
        Binding("m", "toggle_meter_aware", "Meter-aware"),
        Binding("v", "view_score", "Score", show=False),  # in the help: the footer is full at 110 columns
        Binding("escape", "leave_input", "Leave input", show=False),
    ]

    # Sample with the meter constraint (issue 8): on by default, as in `musictui generate`. The
    # switch on screen shows it; m, the switch and the command palette all change it.
    meter_aware: reactive[bool] = reactive(True, init=False)

    class Chars(Message):
        def __init__(self, run: int, text: str) -> None:
            super().__init__()
            self.run, self.text = run, text

    class Started(Message):
        def __init__(self, run: int, source: str) -> None:
            super().__init__()
            self.run, self.source = run, source

    class Finished(Message):
        def __init__(self, run: int, text: str, chars: int, seconds: float, settings) -> None:
            super().__init__()
            self.run, self.text, self.chars, self.seconds = run, text, chars, seconds
            self.settings = settings  # the SampleSettings this tune was sampled with (kept in the book)
            self.meter_aware = settings.meter_aware

    class Rendered(Message):
        def __init__(self, tune: Tune, report_text: str, wav_path: Path | None, playing: str) -> None:
            super().__init__()
            self.tune, self.report_text, self.wav_path, self.playing = tune, report_text, wav_path, playing

    def __init__(self, settings) -> None:
        super().__init__(name="generate")
        self.settings = settings
        self.trainer = None  # set by the app once the train screen has loaded its run
        self.weights = Weights(settings.checkpoint_dir)
        self.sampling = SampleProcess()  # the sampler's own process, started when this screen shows
        self.source = default_source(settings.checkpoint_dir, settings.generate_checkpoint)
        self.tunes: list[Tune] = []
        self.current: Tune | None = None
        self.last_rate: float | None = None  # characters per second of the last stream
        self._run = 0  # numbers each generation; messages from an older one are dropped
        self._source_text = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label(TOO_SMALL, classes="too-small", markup=False)
        with Horizontal(id="generate-main"):
            with Vertical(id="controls"):
                yield Label("Checkpoint", classes="caption")
                # Labels as Text: a folder named like rich markup ([red], [/oops]) shows as it is.
                options = source_options(self.settings.checkpoint_dir, self.settings.generate_checkpoint)
                yield Select([(Text(label), key) for label, key in options], value=self.source, allow_blank=False, compact=True, id="source")
                for label, widget in (
                    ("Temperature", Input("1.0", type="number", compact=True, id="temperature")),
                    ("Top-k", Input(placeholder="all", type="integer", compact=True, id="top_k")),
                    ("Top-p", Input(placeholder="1.0", type="number", compact=True, id="top_p")),
                    ("Meter-aware", Switch(self.meter_aware, animate=False, id="meter-aware",
                                           tooltip="Keep every bar the length its meter asks (m)")),
                    ("Seed", Input(placeholder="random", type="integer", compact=True, id="seed")),
                    ("Form", Input(placeholder="2x8", compact=True, id="form",
                                   tooltip="parts x bars per part, ending on the tonic; free: the meter alone")),
                    ("Type", Input(placeholder="any", compact=True, id="tune_type",
                                   tooltip="reel, jig, hornpipe, polka, slide, slipjig, waltz ...")),
                    ("Title", Input(placeholder="the model's", compact=True, id="title")),
                    ("Meter", Input(placeholder="e.g. 6/8", compact=True, id="meter")),
                    ("Key", Input(placeholder="e.g. G", compact=True, id="key")),
                ):
                    with Horizontal(classes="field"):
                        yield Label(label, classes="field-label")
                        yield widget
                        if isinstance(widget, Switch):  # in words too: the slider is only colour
                            yield Label(self._on_off(), id="meter-aware-state")
                yield Label("This session's tunes", classes="caption")
                yield OptionList(id="tunes")
            with Vertical(id="tune-pane"):
                yield Label("Press n for a new tune.", id="gen-status", markup=False)
                yield TuneLog(id="abc", max_lines=400)
                yield Static("", id="report", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "generate"
        self.query_one("#abc", Log).focus()

    def on_screen_resume(self) -> None:
        self.sampling.start()  # its process imports torch while the user picks settings, not after n

    def action_leave_input(self) -> None:
        self.query_one("#abc", Log).focus()  # so single-letter keys are commands again

    def action_toggle_meter_aware(self) -> None:
        self.meter_aware = not self.meter_aware

    def watch_meter_aware(self, meter_aware: bool) -> None:
        if self.is_mounted:  # before the screen is first shown, compose reads the attribute
            self.query_one("#meter-aware", Switch).value = meter_aware
            self.query_one("#meter-aware-state", Label).update(self._on_off())

    def _on_off(self) -> str:
        return "on" if self.meter_aware else "off"

    @on(Switch.Changed, "#meter-aware")
    def _meter_aware_switched(self, event: Switch.Changed) -> None:
        self.meter_aware = event.value

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            if event.worker.group == "generate":
                self._status("No tune: see the message.")
            self.app.worker_failed(event.worker)

    def _status(self, text: str) -> None:
        self.query_one("#gen-status", Label).update(text)

    @on(Select.Changed, "#source")
    def _source_changed(self, event: Select.Changed) -> None:
        self.source = str(event.value)

    @on(Input.Submitted)
    def _input_submitted(self) -> None:
        self.query_one("#abc", Log).focus()

    # -- a new tune --------------------------------------------------------------------------

    def new_tune(self) -> None:
        """n: sample a tune with the settings on the left, streaming it into the Log."""
        from musictui.app.tunes import read_settings
        from musictui.errors import UserError

        values = {name: self.query_one(f"#{name}", Input).value for name in FIELDS}
        try:
            settings, prompt = read_settings(**values, meter_aware=self.meter_aware)
        except UserError as error:
            self.notify(str(error), title="Settings", severity="error")
            return
        self.app.stop_sound()
        self._run += 1
        log = self.query_one("#abc", Log)
        log.clear()
        log.write(prompt)  # the stream starts after the prompt
        self.query_one("#report", Static).update("")
        self._status("Loading the model…")
        self._stream(self._run, self.source, prompt, settings)

    @work(thread=True, exclusive=True, exit_on_error=False, group="generate", name="sampling a tune")
    def _stream(self, run: int, source: str, prompt: str, settings) -> None:
        worker = get_current_worker()
        path, described = self.weights.file_for(source, self.trainer)
        out: list[str] = []
        start = time.perf_counter()
        for kind, value in self.sampling.stream(path, prompt, settings, cancelled=lambda: worker.is_cancelled):
            if kind == "loaded":
                start = time.perf_counter()  # the rate shown is the one this screen received at
                self.post_message(self.Started(run, described))
            elif kind == "chars":
                out.append(value)
                self.post_message(self.Chars(run, value))
            elif kind == "finished":
                chars, _ = value
                self.post_message(self.Finished(run, prompt + "".join(out), chars, time.perf_counter() - start, settings))

    def on_generate_screen_started(self, message: Started) -> None:
        if message.run == self._run:
            self._source_text = message.source
            self._status(f"Sampling from {message.source}…")

    def on_generate_screen_chars(self, message: Chars) -> None:
        if message.run == self._run:
            self.query_one("#abc", Log).write(message.text)

    def on_generate_screen_finished(self, message: Finished) -> None:
        from musictui.app.tunes import first_tune

        if message.run != self._run:
            return
        self.last_rate = message.chars / message.seconds if message.seconds > 0 else None
        text, complete = first_tune(message.text)
        tune = Tune(number=len(self.tunes) + 1, text=text, complete=complete, source=self._source_text,
                    meter_aware=message.meter_aware)
        self.add(tune)
        self._keep(tune, message.settings)
        rate = f" ({self.last_rate:,.0f} chars/s)" if self.last_rate else ""
        meter = "" if tune.meter_aware else ", meter-aware off"
        self._status(f"Tune {tune.number}: {message.chars} characters in {message.seconds:.2f} s{rate} "
                     f"from {tune.source}{meter}. Rendering…")
        self._render_and_play(tune)

    @work(thread=True, exit_on_error=False, group="keep", name="keeping the tune in the tune book")
    def _keep(self, tune: Tune, settings) -> None:
        """Every tune made here goes into the tune book (b), unfinished ones too: they are the
        user's, and the book's list says which."""
        from dataclasses import asdict

        from musictui.tunebook import TuneBook

        TuneBook(self.settings.tunebook).add(tune.text, tune.source, asdict(settings), settings.seed)

    # -- rendering, playing, replaying, saving ----------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="render", name="rendering the tune")
    def _render_and_play(self, tune: Tune) -> None:
        from musictui.app.tunes import describe_report
        from musictui.audio import RenderError, render

        if tune.wav_path is None or not tune.wav_path.exists():
            try:
                rendered = render(tune.text)
            except RenderError as error:
                tune.report_text = describe_report(error.report) if error.report else f"no sound: {error}"
                self.post_message(self.Rendered(tune, tune.report_text, None, "not playable"))
                raise  # and the app shows the error as a notification
            tune.wav_path, tune.report_text = rendered.wav_path, describe_report(rendered.report)
        self.post_message(self.Rendered(tune, tune.report_text, tune.wav_path, "rendered"))
        if get_current_worker().is_cancelled:
            return
        playback = self.app.play(tune.wav_path)  # NoAudioDevice says where the WAV is
        self.post_message(self.Rendered(tune, tune.report_text, tune.wav_path, f"playing ({playback.duration_s:.0f} s)"))

    def on_generate_screen_rendered(self, message: Rendered) -> None:
        tune = message.tune
        tune.report_text = message.report_text
        if tune is self.current:
            self.query_one("#report", Static).update(message.report_text)
            if message.playing:
                self._status(f"Tune {tune.number}, {tune.title}: {message.playing}. r replays, s stops, w saves.")

    def replay(self) -> None:
        if self.current is None:
            self.notify("No tune yet: press n to make one.", severity="warning")
            return
        self._render_and_play(self.current)

    @on(OptionList.OptionSelected, "#tunes")
    def _pick(self, event: OptionList.OptionSelected) -> None:
        """Show a tune of this session and play it again."""
        tune = self.tunes[event.option_index]
        self.show(tune)
        self._render_and_play(tune)

    def add(self, tune: Tune) -> None:
        """Put a tune in this session's list and make it the current one."""
        self.tunes.append(tune)
        self.query_one("#tunes", OptionList).add_option(Text(tune.label))  # a title may look like markup
        self.current = tune

    def show(self, tune: Tune) -> None:
        """Make `tune` the current one and show its text and report."""
        self._run += 1  # a stream still running must not write into this tune's text
        self.current = tune
        log = self.query_one("#abc", Log)
        log.clear()
        log.write(tune.text + "\n")
        self.query_one("#report", Static).update(tune.report_text)
        self._status(f"Tune {tune.number}, {tune.title}, from {tune.source}.")

    def action_save_tune(self) -> None:
        if self.current is None:
            self.notify("No tune yet: press n to make one.", severity="warning")
            return
        self._save(self.current)

    def action_view_score(self) -> None:
        tune = self.current
        self.app.push_screen(ScoreScreen(tune.text if tune else None, tune.title if tune else ""))

    @work(thread=True, exit_on_error=False, group="save-tune", name="saving the tune")
    def _save(self, tune: Tune) -> None:
        from musictui.app.tunes import save_tune
        from musictui.score import ScoreError, render_svg

        paths = save_tune(tune, self.settings.tunes_dir)
        try:
            paths.append(render_svg(tune.text, paths[0].with_suffix(".svg")).svg_path)  # the score, by abcm2ps
            no_score = ""
        except ScoreError as error:  # the sound files are saved all the same: say so, and why no score
            no_score = f"; no score: {error}"
        self.app.call_from_thread(self.notify, "Saved " + ", ".join(str(p) for p in paths) + no_score,
                                  title="Tune saved", markup=False)
