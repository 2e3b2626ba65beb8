"""The tune-book screen (`b`): every tune the app (or `generate --keep`) kept, newest first.

Search by title, show only the starred ones, star a tune, replay it, save it as ABC, MIDI and WAV.
The book itself is `musictui/tunebook.py` (SQLite, no textual); every call to it runs in a thread
worker, so a busy disk or another instance writing never holds up a key press.
"""
from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Header, Input, Label, OptionList, Static
from textual.worker import Worker, WorkerState

from musictui.app.screens.installed import InstalledScreen
from musictui.app.size import TOO_SMALL
from musictui.app.widgets.key_bar import KeyBar

LIST_LIMIT = 500  # tunes listed at most (the newest): the list stays quick with a book of thousands


class BookScreen(InstalledScreen):
    AUTO_FOCUS = "#book-list"  # not the search field: single-letter keys are commands until / is pressed
    BINDINGS = [
        Binding("r", "replay", "Replay"),
        Binding("asterisk", "star", "Star", key_display="*"),
        Binding("f", "toggle_starred", "Starred only"),
        Binding("w", "export", "Save"),
        Binding("slash", "search", "Search", key_display="/"),
        Binding("escape", "leave_input", "Leave input", show=False),
    ]

    class Listed(Message):
        def __init__(self, tunes: list, damaged: list | None = None) -> None:
            super().__init__()
            self.tunes = tunes
            self.damaged = damaged or []  # DamagedTune errors: rows a hand edit made unreadable

    def __init__(self, settings) -> None:
        super().__init__(name="book")
        self.settings = settings
        self.tunes: list = []  # BookTune, as listed
        self.starred_only = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label(TOO_SMALL, classes="too-small", markup=False)
        yield Label("Loading the tune book…", id="book-status", markup=False)
        with Horizontal(id="book-main"):
            with Vertical(id="book-left"):
                yield Input(placeholder="search titles (/)", compact=True, id="book-search")
                yield OptionList(id="book-list")
            with VerticalScroll(id="book-tune"):
                yield Static("", id="book-info", markup=False)
                yield Static("", id="book-abc", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "tune book"

    def on_screen_resume(self) -> None:
        self.refresh_list()  # tunes made since the last visit

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.worker_failed(event.worker)

    # -- the list ----------------------------------------------------------------------------

    def refresh_list(self) -> None:
        search = self.query_one("#book-search", Input).value.strip() or None
        self._list(self.starred_only, search)

    @work(thread=True, exclusive=True, exit_on_error=False, group="book-list", name="reading the tune book")
    def _list(self, starred: bool, search: str | None) -> None:
        from musictui.tunebook import TuneBook

        self.post_message(self.Listed(*TuneBook(self.settings.tunebook).scan(starred, search, LIST_LIMIT)))

    def on_book_screen_listed(self, message: Listed) -> None:
        highlighted = self._highlighted()
        self.tunes = message.tunes
        options = self.query_one("#book-list", OptionList)
        options.clear_options()
        options.add_options([Text(t.line) for t in self.tunes])  # Text: a title may look like markup
        which = ("starred " if self.starred_only else "") + ("tune" if len(self.tunes) == 1 else "tunes")
        left_out = ""
        if message.damaged:  # the rest of the book still shows; the damaged ones are named, not hidden
            numbers = ", ".join(str(d.tune_id) for d in message.damaged)
            left_out = f" Left out, damaged: tune {numbers} (`musictui tunes show N` says why)."
        self.query_one("#book-status", Label).update(
            f"{len(self.tunes)} {which} in {self.settings.tunebook}.{left_out} Enter or r plays, * stars, "
            "f starred only, w saves (ABC, MIDI, WAV, score), / searches.")
        if self.tunes:
            ids = [t.id for t in self.tunes]
            options.highlighted = ids.index(highlighted.id) if highlighted and highlighted.id in ids else 0
        else:
            self._show(None)

    @on(Input.Changed, "#book-search")
    def _search_changed(self) -> None:
        self.refresh_list()

    @on(Input.Submitted, "#book-search")
    def _search_submitted(self) -> None:
        self.query_one("#book-list", OptionList).focus()

    def action_search(self) -> None:
        self.query_one("#book-search", Input).focus()

    def action_leave_input(self) -> None:
        self.query_one("#book-list", OptionList).focus()

    def action_toggle_starred(self) -> None:
        self.starred_only = not self.starred_only
        self.refresh_list()

    def _highlighted(self):
        index = self.query_one("#book-list", OptionList).highlighted
        return self.tunes[index] if index is not None and index < len(self.tunes) else None

    @on(OptionList.OptionHighlighted, "#book-list")
    def _highlight(self) -> None:
        self._show(self._highlighted())

    def _show(self, tune) -> None:
        info = self.query_one("#book-info", Static)
        if tune is None:
            info.update("No tune here yet: press g, then n, and every tune you make is kept."
                        if not self.starred_only else "No starred tune: * stars the highlighted one.")
            self.query_one("#book-abc", Static).update("")
            return
        seed = tune.seed if tune.seed is not None else "random"
        info.update(f"Tune {tune.id}{' ★' if tune.star else ''}, made {tune.created[:19].replace('T', ' ')} UTC\n"
                    f"by {tune.checkpoint}\nseed {seed}, temperature {tune.settings.get('temperature', '?')}")
        self.query_one("#book-abc", Static).update(tune.abc)

    # -- what a key does to the highlighted tune ---------------------------------------------

    def _current(self):
        tune = self._highlighted()
        if tune is None:
            self.notify("No tune highlighted.", severity="warning")
        return tune

    @on(OptionList.OptionSelected, "#book-list")
    def action_replay(self) -> None:
        tune = self._current()
        if tune is not None:
            self.app.stop_sound()
            self._play(tune)

    @work(thread=True, exclusive=True, exit_on_error=False, group="book-play", name="playing a kept tune")
    def _play(self, tune) -> None:
        from musictui.audio import render

        rendered = render(tune.abc)
        playback = self.app.play(rendered.wav_path)  # NoAudioDevice says where the WAV is
        self.app.call_from_thread(self.notify, f"Playing tune {tune.id}, {tune.title} ({playback.duration_s:.0f} s).",
                                  markup=False)

    def action_star(self) -> None:
        tune = self._current()
        if tune is not None:
            self._star(tune.id, not tune.star)

    @work(thread=True, exit_on_error=False, group="book-star", name="starring a tune")
    def _star(self, tune_id: int, star: bool) -> None:
        from musictui.tunebook import TuneBook

        TuneBook(self.settings.tunebook).set_star(tune_id, star)
        self.app.call_from_thread(self.refresh_list)

    def action_export(self) -> None:
        tune = self._current()
        if tune is not None:
            self._export(tune)

    @work(thread=True, exit_on_error=False, group="book-export", name="saving a kept tune")
    def _export(self, tune) -> None:
        from musictui.app.tunes import slug
        from musictui.score import render_svg
        from musictui.tunebook import export

        stem = self.settings.tunes_dir / f"book-{tune.id:04d}-{slug(tune.title)}"
        # Saved again, the same tune makes the same files: overwriting them loses nothing.
        paths = [export(tune, stem.with_suffix(suffix), force=True) for suffix in (".abc", ".mid", ".wav")]
        paths.append(render_svg(tune.abc, stem.with_suffix(".svg")).svg_path)
        self.app.call_from_thread(self.notify, "Saved " + ", ".join(map(str, paths)), title="Tune saved", markup=False)
