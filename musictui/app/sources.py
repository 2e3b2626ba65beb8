"""Which weights the generate screen samples from: no textual here.

A *source* is a short key the screen's selector holds: the shipped model, the newest checkpoint of
the user's own run (looked up when a tune is asked for, so a checkpoint written a moment ago
counts), the training weights as they are right now (a copy: sampling never touches the weights
being trained), or a checkpoint file named on the command line.
"""
from __future__ import annotations

from pathlib import Path

from musictui import runs
from musictui.errors import UserError

SHIPPED, NEWEST, LIVE = "shipped", "newest", "live"


def source_options(checkpoint_dir: Path, explicit: Path | None) -> list[tuple[str, str]]:
    """(label, key) for the selector, in the order shown."""
    options = []
    if explicit is not None:
        options.append((f"file: {explicit}", f"path:{explicit}"))
    options += [
        (f"newest in {checkpoint_dir}/", NEWEST),
        ("training weights, now", LIVE),
        ("the shipped model", SHIPPED),
    ]
    return options


def default_source(checkpoint_dir: Path, explicit: Path | None) -> str:
    """The file given, else the user's own newest checkpoint, else the shipped model."""
    if explicit is not None:
        return f"path:{explicit}"
    return NEWEST if runs.list_checkpoints(checkpoint_dir) else SHIPPED  # runs imports no torch


class Weights:
    """Finds the checkpoint file behind a source; the sampling process loads it (and keeps the
    last one it loaded, so a second tune from the same file starts at once)."""

    def __init__(self, checkpoint_dir: Path):
        self.checkpoint_dir = checkpoint_dir

    def file_for(self, source: str, trainer=None) -> tuple[Path, str]:
        """(checkpoint file, description of the weights) for a source; UserError when there are none."""
        if source == LIVE:
            if trainer is None:
                raise UserError("no training run is loaded yet: open the train screen (t) and wait for it")
            # `trainer` is the train screen: its child writes the weights as they are to a file of
            # its own, between two steps; training goes on untouched.
            path, step = trainer.snapshot()
            return path, f"training weights at step {step}"
        path = self._resolve(source)
        # The shipped model by its name: its full path is an install detail.
        return path, f"the shipped model ({path.name})" if source == SHIPPED else str(path)

    def _resolve(self, source: str) -> Path:
        # The same policy as the command line (musictui.runs); only the messages are the app's.
        if source.startswith("path:"):
            return runs.resolve_named(Path(source[len("path:"):]))
        if source == NEWEST:
            found = runs.list_checkpoints(self.checkpoint_dir)
            if not found:
                raise UserError(f"no checkpoint in {self.checkpoint_dir} yet: train (t, space) until one is "
                                "saved (c saves now), or pick the shipped model")
            return found[-1]
        shipped = runs.shipped_checkpoint()
        if shipped is None:
            raise UserError(f"no shipped model in {runs.SHIPPED_DIR}: train your own (t, space), then pick "
                            f"'newest in {self.checkpoint_dir}/'")
        return shipped
