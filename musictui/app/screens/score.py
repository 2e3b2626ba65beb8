"""The score screen (`v` on the generate screen): the current tune as staff notation, as a picture.

abcm2ps and rsvg-convert draw it (`musictui.score.cached_png`) in a thread worker, so the screen
says "Rendering score…" and stays live meanwhile; a tune drawn before comes from the cache folder
at once. textual-image shows the picture: kitty's graphics protocol or sixel where the terminal
speaks one, coloured half cells elsewhere (tmux, most terminals).

textual-image asks the terminal what it can draw when it is imported, and it can ask only before
Textual reads the keyboard; the asking costs the first frame ~0.3 s (its imports, and a 0.1 s wait
for an answer most terminals never send). So it asks only where the environment names a terminal
that can draw (kitty, WezTerm, iTerm2, foot, Konsole, ghostty…, not inside tmux or screen), at the
import of this module, which the generate screen imports before the app runs. Everywhere else the
picture is half cells, and textual-image is imported on the first `v`, in the worker, told that
there is no terminal to ask.
"""
from __future__ import annotations

import io
import os
import sys
import threading
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

NO_TUNE = "Generate a tune first (n)."


def terminal_may_draw(env=os.environ) -> bool:
    """Whether the environment names a terminal that shows kitty or sixel pictures (a hint:
    textual-image still asks it). tmux and screen pass neither on to the terminal around them.
    MUSICTUI_PICTURES=ask has any terminal asked (at a cost to the first frame), =cells none."""
    choice = env.get("MUSICTUI_PICTURES", "")
    if choice in ("ask", "cells"):
        return choice == "ask"
    term, program = env.get("TERM", ""), env.get("TERM_PROGRAM", "")
    if env.get("TMUX") or env.get("STY") or term.startswith(("screen", "tmux")):
        return False
    return (term in ("xterm-kitty", "xterm-ghostty", "wezterm") or term.startswith(("foot", "mlterm", "contour"))
            or program in ("WezTerm", "iTerm.app", "ghostty", "vscode", "mintty")
            or any(name in env for name in ("KITTY_WINDOW_ID", "KONSOLE_VERSION", "WT_SESSION")))


if terminal_may_draw():
    import textual_image.widget  # noqa: F401  (asks the terminal now, before the app reads keys)

_import_lock = threading.Lock()


def image_class():
    """textual-image's widget class: its own choice where it asked the terminal, else half cells.
    Called from a worker thread: the first call imports textual-image (~0.2 s)."""
    with _import_lock:
        if "textual_image.widget" not in sys.modules:
            # textual-image asks only a terminal: while it is imported, stdout is not one for it.
            real, sys.__stdout__ = sys.__stdout__, io.StringIO()
            try:
                import textual_image.widget  # noqa: F401
            finally:
                sys.__stdout__ = real
            return sys.modules["textual_image.widget"].HalfcellImage
    widget = sys.modules["textual_image.widget"]
    return widget.Image if terminal_may_draw() else widget.HalfcellImage


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
        Binding("question_mark", "leave('help')", "Help", key_display="?"),  # over the generate screen
    ]

    @dataclass
    class Drawn(Message):
        text: str         # the tune it is the picture of
        picture: object   # a PIL image, decoded in the worker
        warnings: list[str]
        image_class: type  # textual-image's widget that shows it

    def __init__(self, abc_text: str | None, title: str = "") -> None:
        super().__init__(name="score")
        self.abc_text = abc_text
        self.tune_title = title

    def compose(self) -> ComposeResult:
        yield Static(Text(self.tune_title or "Score"), id="score-title")
        yield Static("Rendering score…" if self.abc_text else NO_TUNE, id="score-status")
        with Middle(id="score-pane"):
            yield Center(id="score-frame")  # the picture goes in here once drawn
        yield Footer()

    def on_mount(self) -> None:
        if self.abc_text:
            self._draw(self.abc_text)

    @work(thread=True, exclusive=True, exit_on_error=False, group="score", name="drawing the score")
    def _draw(self, text: str) -> None:
        from PIL import Image as PILImage
        from PIL import ImageFilter

        from musictui.score import cached_png
        from musictui.wav_cache import cache_dir

        widget_class = image_class()
        picture = cached_png(text, cache_dir() / "scores")
        with PILImage.open(picture.png_path) as image:
            image.load()  # decoded here, not on the UI thread
            if widget_class is sys.modules["textual_image.widget"].HalfcellImage:
                # Shrunk ~10× into half cells, one-pixel staff lines fade to a pale grey: thicken
                # the ink first (each pixel the darkest of its 3×3), and notes and lines stay dark.
                image = image.filter(ImageFilter.MinFilter(3))
            self.post_message(self.Drawn(text, image.copy(), picture.warnings, widget_class))

    def on_score_screen_drawn(self, message: Drawn) -> None:
        if message.text != self.abc_text:
            return
        self.query_one("#score-frame").mount(message.image_class(message.picture, id="score-image"))
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
