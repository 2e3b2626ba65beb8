"""Stop a run cleanly on Ctrl+C, SIGTERM (kill, systemd, a scheduler) and SIGHUP (the terminal closed).

All three used to differ: Ctrl+C finished the step and saved, while SIGTERM and SIGHUP killed the
process and lost everything since the last checkpoint. Now each sets one stop event: the loop
finishes its step, the caller saves and exits non-zero. A second signal stops at once
(KeyboardInterrupt), for a user who really means it.
"""
from __future__ import annotations

import signal
import threading

SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None),
                            getattr(signal, "SIGHUP", None)) if s is not None)


class StopOnSignals:
    """Install the handlers (in the main thread); `received` names the first signal, if any."""

    def __init__(self, stop: threading.Event | None = None):
        self.stop = stop if stop is not None else threading.Event()
        self.received: str | None = None
        self._previous: dict[int, object] = {}

    def install(self) -> "StopOnSignals":
        for signum in SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name
        self.stop.set()

    def __enter__(self) -> "StopOnSignals":
        return self.install()

    def __exit__(self, *exc) -> None:
        self.restore()
