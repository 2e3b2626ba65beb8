"""The modal shown when quitting could not save the run: try another folder, quit anyway, or stay.

A full disk used to end the app with a traceback full of weight tensors and the run lost. Now the
error stays on screen, the app stays open, and the run can be saved somewhere with room. The
previous checkpoint is untouched: a save writes a temporary file and renames it only when whole.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from musictui.errors import UserError


class SaveElsewhereScreen(ModalScreen):
    """Dismissed with the Path saved to, True for "quit without saving", or None to stay."""

    BINDINGS = [Binding("escape", "stay", "Back to the app")]

    def __init__(self, train_screen, error: str) -> None:
        super().__init__(id="save-elsewhere")
        self.train_screen = train_screen
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="save-elsewhere-box"):
            yield Label("The checkpoint could not be saved", id="save-elsewhere-title")
            yield Static(self.error, id="save-elsewhere-error", markup=False)
            yield Static("The previous checkpoint is untouched. Save this run in another folder:", markup=False)
            yield Input(str(Path.home() / "musictui-rescue"), id="save-elsewhere-folder")
            with Horizontal(id="save-elsewhere-buttons"):
                yield Button("Save there and quit", variant="primary", id="save-there")
                yield Button("Quit without saving", variant="error", id="quit-unsaved")
                yield Button("Back to the app", id="stay")

    def on_mount(self) -> None:
        self.query_one("#save-elsewhere-folder", Input).focus()

    @on(Input.Submitted, "#save-elsewhere-folder")
    @on(Button.Pressed, "#save-there")
    async def save_there(self) -> None:
        folder = Path(self.query_one("#save-elsewhere-folder", Input).value.strip() or ".").expanduser()
        error_line = self.query_one("#save-elsewhere-error", Static)
        error_line.update(f"Saving in {folder}…")
        try:
            path = await asyncio.to_thread(self.train_screen.save_to, folder)
        except (OSError, UserError) as error:
            error_line.update(f"Not saved in {folder} either: {error}")
            return
        self.dismiss(path)

    @on(Button.Pressed, "#quit-unsaved")
    def quit_unsaved(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#stay")
    def action_stay(self) -> None:
        self.dismiss(None)
