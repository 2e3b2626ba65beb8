"""InstalledScreen: a screen that stays installed, and whose return costs no CSS pass.

Textual's `switch_screen` tells the screen it brings back to apply the whole stylesheet to every
widget again (`ScreenResume(refresh_styles=True)`), in case the CSS changed while it was hidden.
On the generate screen (~40 widgets, many with component classes that each get a throwaway
DOMNode) that pass was the largest part of a switch, and its garbage fed full collections of
100-200 ms a few seconds apart (py-spy and gc callbacks, issue 14). Our CSS changes only with
the theme, and Textual counts those changes (`App._css_update_count`, which it compares the same
way for its modes), so the pass is kept for exactly that case. A class change on a hidden
widget is styled at once by Textual itself, whichever screen shows.
"""
from __future__ import annotations

from textual import events
from textual.screen import Screen


class InstalledScreen(Screen):
    def mark_styled(self) -> None:
        """The stylesheet has just been applied to every widget here (mounted or resumed)."""
        self._styled_at = self.app._css_update_count

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Runs before Screen's own handler (Textual calls each class's handler, subclass first).
        current = self.app._css_update_count
        if event.refresh_styles and getattr(self, "_styled_at", None) == current:
            event.refresh_styles = False
        self.mark_styled()
