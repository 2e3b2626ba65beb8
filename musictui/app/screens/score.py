"""The score screen (`v` on the generate screen): the current tune as staff notation, as a picture.

abcm2ps and rsvg-convert draw it (`musictui.score.cached_png`) in a thread worker, so the screen
says "Rendering score…" and stays live meanwhile; a tune drawn before comes from the cache folder
at once. textual-image shows the picture: kitty's graphics protocol or sixel where the terminal
speaks one, coloured half cells elsewhere (tmux, most terminals), plain Unicode when not a terminal.
"""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Middle
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

# textual-image asks the terminal what it can draw (kitty? sixel? its cell size in pixels) when it
# is imported, and it can ask only before Textual reads the keyboard: so this import is here, at
# the top of a module the generate screen imports, and never inside a method run by the app.
from textual_image.widget import Image

NO_TUNE = "Generate a tune first (n)."


class ScoreScreen(Screen):
    """One tune's score; escape, v or q goes back to the generate screen."""

    BINDINGS = [
        Binding("escape,v,q", "back", "Back"),
        # The app's screen keys, from here: leave this screen first, so that it never stays
        # stacked under the screen they show.
        Binding("t", "leave('show', 'train')", "Train", show=False),
        Binding("g", "leave('show', 'generate')", "Generate", show=False),
        Binding("b", "leave('show', 'book')", "Tune book", show=False),
        Binding("n", "leave('new_tune')", "New tune", show=False),
    ]

    @dataclass
    class Drawn(Message):
        text: str      # the tune it is the picture of
        picture: object  # a PIL image, decoded in the worker
        warnings: list[str]

    def __init__(self, abc_text: str | None, title: str = "") -> None:
        super().__init__(name="score")
        self.abc_text = abc_text
        self.tune_title = title

    def compose(self) -> ComposeResult:
        yield Static(Text(self.tune_title or "Score"), id="score-title")
        yield Static("Rendering score…" if self.abc_text else NO_TUNE, id="score-status")
        with Middle(id="score-pane"):
            with Center():
                yield Image(id="score-image")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#score-image").display = False
        if self.abc_text:
            self._draw(self.abc_text)

    @work(thread=True, exclusive=True, exit_on_error=False, group="score", name="drawing the score")
    def _draw(self, text: str) -> None:
        from PIL import Image as PILImage

        from musictui.score import cached_png
        from musictui.wav_cache import cache_dir

        picture = cached_png(text, cache_dir() / "scores")
        with PILImage.open(picture.png_path) as image:
            image.load()  # decoded here, not on the UI thread
            self.post_message(self.Drawn(text, image.copy(), picture.warnings))

    def on_score_screen_drawn(self, message: Drawn) -> None:
        if message.text != self.abc_text:
            return
        image = self.query_one("#score-image", Image)
        image.image = message.picture
        image.display = True
        remarks = message.warnings
        # What abcm2ps said about the tune (a bar too long…): the first remark, and how many.
        self._say("" if not remarks else f"abcm2ps: {remarks[0]}"
                  + (f" (and {len(remarks) - 1} more)" if len(remarks) > 1 else ""))

    @on(Worker.StateChanged)
    def _failed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "score" and event.state == WorkerState.ERROR:
            # A ScoreError (no abcm2ps, no converter, no tune in the text) is one line; a bug says its type.
            from musictui.errors import UserError

            error = event.worker.error
            self._say(str(error) if isinstance(error, UserError) else f"The score failed: {error!r}")

    def _say(self, line: str) -> None:
        status = self.query_one("#score-status", Static)
        status.update(Text(line))
        status.display = bool(line)

    def action_back(self) -> None:
        self.dismiss()

    def action_leave(self, action: str, screen: str = "") -> None:
        self.dismiss()
        # The app's action runs once this screen is gone, so it sees the generate screen on top.
        self.app.call_later(self.app.run_action, f"{action}('{screen}')" if screen else action)
