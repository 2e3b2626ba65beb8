"""The loss histories behind the train screen's chart, bounded. No textual, no numpy: the first
frame imports this, and the chart itself (textual-plot pulls in numpy) only once the run is loaded."""
from __future__ import annotations


class History:
    """(step, loss) pairs of the whole run in bounded memory: past `limit * 2` points every other
    one is dropped, so the chart always spans the run from its first step, ever more thinly."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.points: list[tuple[int, float]] = []

    def extend(self, points) -> None:
        self.points.extend(points)
        while len(self.points) > 2 * self.limit:
            last = self.points[-1]
            self.points = self.points[::2]
            if self.points[-1] != last:
                self.points.append(last)  # the newest point always stays

    def __len__(self) -> int:
        return len(self.points)

    def __bool__(self) -> bool:
        return bool(self.points)

    def __getitem__(self, index):
        return self.points[index]
