"""KeyBar: the keys of a screen on its bottom line, drawn once.

Textual's Footer rebuilds itself, one widget per key, whenever the active bindings change, and
they change at every switch of screens: py-spy put about a third of the UI thread's time in a
switch into that rebuild (FooterKey mounts, their CSS, their reactives). The keys each of our
screens offers are fixed, so one line of text computed at mount shows the same thing. Keys stay
clickable (the text carries `@click` actions).
"""
from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.widgets import Static


FIRST_APP_KEYS = ("question_mark", "q")


def _bindings(owner) -> list[Binding]:
    # BINDINGS may hold tuples; Binding.make_bindings is what Textual itself reads them with.
    return list(Binding.make_bindings(owner.BINDINGS))


class KeyBar(Static):
    """The app's keys and the screen's, less the key of the screen already shown."""

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        width: 100%;
        background: $footer-background;
        color: $footer-foreground;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", markup=False, **kwargs)

    def on_mount(self) -> None:
        self.update(self.keys_content(), layout=False)

    def keys_content(self) -> Content:
        screen, app = self.screen, self.app
        parts: list[Content] = []
        # The screen's own keys first (what this screen is for), then the app's; a key both bind
        # does what the screen says, as Textual dispatches it.
        own = [("screen", b) for b in _bindings(screen)]
        taken = {b.key for _, b in own}
        shared = [("app", b) for b in _bindings(app) if b.key not in taken]
        # Help and quit first among the app's: at 110 columns the line is cut, and those two must show.
        shared.sort(key=lambda item: item[1].key not in FIRST_APP_KEYS)  # stable: the rest keep their order
        for namespace, binding in own + shared:
            # The key of the screen already shown would do nothing here: no room for it.
            if not binding.show or binding.action == f"show('{screen.name}')":
                continue
            parts.append(Content.assemble(
                (f" {app.get_key_display(binding)} ", "bold $footer-key-foreground"),
                (f"{binding.description} ", "$footer-description-foreground"),
            ).stylize(f"@click={namespace}.{binding.action}"))
        if app.ENABLE_COMMAND_PALETTE:
            parts.append(Content.assemble((" ^p ", "bold $footer-key-foreground"),
                                          ("palette ", "$footer-description-foreground"))
                         .stylize("@click=app.command_palette"))
        return Content("").join(parts)
