"""The train screen's chart: training and validation loss against the step, on one plot with axes.

Drawn with textual-plot (a native Textual widget on a high-resolution character canvas, maintained,
no plotting library underneath). It has no log axis of its own, so the log view plots log10 of the
loss and labels the ticks with the losses themselves. Redrawing the canvas costs the UI thread a few
milliseconds, so the screen redraws the chart at most a few times a second (see train.py).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from textual_plot import HiResMode, NumericAxisFormatter, PlotWidget


MAX_POINTS = 100  # about one braille dot per column of the chart: more is barely seen, only paid for
                  # (measured on a busy 2-core machine: ~100 ms a redraw at 100 points, ~300 ms at 1,200)
MAX_VAL_POINTS = 40  # validation losses are drawn twice (line and dots): fewer still


def bucket_means(points: Sequence[tuple[int, float]], most: int) -> list[tuple[int, float]]:
    """At most `most` points: consecutive runs averaged (step and loss), which also smooths the
    step-to-step noise of the training loss as a chart of thousands of steps should."""
    if len(points) <= most:
        return list(points)
    size = len(points) / most
    out = []
    for i in range(most):
        chunk = points[int(i * size):int((i + 1) * size)] or [points[-1]]
        out.append((sum(s for s, _ in chunk) / len(chunk), sum(v for _, v in chunk) / len(chunk)))
    return out


class LogLabels(NumericAxisFormatter):
    """Ticks placed on log10(loss), labelled with the loss itself."""

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        return [f"{10 ** t:.3g}" for t in ticks]


class LossChart(PlotWidget):
    """Call `draw(train, val)` with (step, loss) pairs; `log_scale` switches the y axis."""

    can_focus = False  # its own keys (pan, zoom, r to reset) would take the app's

    def __init__(self, **kwargs) -> None:
        super().__init__(allow_pan_and_zoom=False, **kwargs)
        self.log_scale = False

    def on_mount(self) -> None:
        super().on_mount()
        self.set_xlabel("step")
        self._label_y()

    def _label_y(self) -> None:
        # Labels of one length: the canvas leaves a longer label's tail on screen when it changes.
        self.set_ylabel("loss, log" if self.log_scale else "loss, lin")
        self.set_y_formatter(LogLabels() if self.log_scale else NumericAxisFormatter())

    def toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        self._label_y()

    def draw(self, train: Sequence[tuple[int, float]], val: Sequence[tuple[int, float]]) -> None:
        self.clear()
        train = bucket_means(train, MAX_POINTS)
        val = bucket_means(val, MAX_VAL_POINTS)
        y = (lambda v: math.log10(v) if v > 0 else float("nan")) if self.log_scale else float
        if train:
            self.plot([s for s, _ in train], [y(v) for _, v in train], line_style="bright_blue",
                      hires_mode=HiResMode.BRAILLE, label="training")
        if val:
            self.plot([s for s, _ in val], [y(v) for _, v in val], line_style="bright_yellow",
                      hires_mode=HiResMode.BRAILLE, label="validation")
            self.scatter([s for s, _ in val], [y(v) for _, v in val], marker="●", marker_style="bright_yellow")
        if train or val:
            self.show_legend()
