"""A child process's stderr, kept in a temporary file rather than on the terminal the app draws on.

A traceback from a child (the trainer, the sampler) written to the app's terminal would land on top
of the screen. In a file it stays out of the way, and its last line says why, should the child die.
"""
from __future__ import annotations

import tempfile


class ChildStderr:
    def __init__(self) -> None:
        # "a+": the child shares this file's offset; appending, its writes never land where a
        # read of ours has moved the offset to.
        self.file = tempfile.TemporaryFile("a+")

    def last_words(self) -> str:
        """' (the child's last line on stderr)', or '' if it said nothing: for a message that says
        the child died."""
        try:
            self.file.seek(0)
            lines = [line.strip() for line in self.file.read().splitlines() if line.strip()]
        except ValueError:  # closed: the app is closing
            return ""
        return f" ({lines[-1]})" if lines else ""

    def close(self) -> None:
        self.file.close()
