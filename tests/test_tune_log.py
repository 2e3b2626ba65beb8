"""TuneLog: a streaming tune redraws the Log, not the whole screen, and still scrolls like a Log."""
from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Input, Log

from musictui.app.widgets.tune_log import TuneLog
from tests.test_app import run_async

# A tune's worth of writes: lines that grow a few characters at a time, 40 lines in all, in a Log
# 12 rows high, so the vertical scrollbar has to appear part-way.
CHUNKS = [("|:GABc dBAG|" if i % 3 else "FGAB cdef|\n") for i in range(120)]


class OneLog(App):
    CSS = "#abc { height: 12; border: round $secondary; }"

    def __init__(self, log_class: type[Log]) -> None:
        super().__init__()
        self.log_class = log_class

    def compose(self) -> ComposeResult:
        for _ in range(10):  # something else on the screen, as the generate screen has
            yield Input()
        yield self.log_class(id="abc", max_lines=400)


async def stream(log_class: type[Log]) -> tuple[int, TuneLog | Log, App]:
    """Write the chunks one frame apart; return how many times the screen was laid out."""
    app = OneLog(log_class)
    layouts = 0
    async with app.run_test(size=(80, 40)) as pilot:
        screen = app.screen
        lay_out = screen._refresh_layout

        def counted(*args, **kwargs):
            nonlocal layouts
            layouts += 1
            return lay_out(*args, **kwargs)

        screen._refresh_layout = counted
        log = app.query_one("#abc", Log)
        for chunk in CHUNKS:
            log.write(chunk)
            await pilot.pause()
        await pilot.pause(0.1)
        shown = [log.render_line(y).text for y in range(log.scrollable_content_region.height)]
        return layouts, log, shown


@run_async
async def test_a_streaming_tune_lays_out_the_screen_far_less_than_a_plain_log():
    plain_layouts, _, plain_shown = await stream(Log)
    tune_layouts, log, shown = await stream(TuneLog)
    assert plain_layouts >= 30, plain_layouts  # what this widget is for: Log lays out at each new line or longer one
    assert tune_layouts <= 5, tune_layouts  # the scrollbar's arrival, and not much else
    # It still behaves as a Log: the scrollbar came, the end is in view, and it looks the same.
    assert log.show_vertical_scrollbar
    assert log.scroll_y == log.max_scroll_y > 0
    assert shown == plain_shown
    assert "FGAB cdef|" in "".join(shown)
