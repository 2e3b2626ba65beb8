"""TuneLog: a Log whose growth redraws the Log, not the whole screen.

Textual's `virtual_size` is a reactive with `layout=True`: every `Log.write` that makes a line
longer or adds one lays out the whole screen again, ten times a second while a tune streams, and
the sampler's thread waits for the GIL meanwhile. The Log's own region never depends on its
content (its height is `1fr`), so here the scrollbars are brought up to date in place. When one of
them appears or goes, `show_*_scrollbar` (themselves layout reactives) still ask for the layout
that moves the content.
"""
from __future__ import annotations

from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Log


class TuneLog(Log):
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        if self.is_mounted and self.container_size:
            self._scroll_update(size)  # private, as in Textual 8.2.8 (pinned): what a layout would call
