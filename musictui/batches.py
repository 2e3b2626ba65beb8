"""Stateful batching for truncated backpropagation through time (`--batching stateful`).

The lab's batches are random windows, each read from a zero LSTM state, so the model never
learns anything more than `seq_length` characters back (a tune's key and meter are in its
header, often further back than that). Stateful batching cuts the training text into
`batch_size` contiguous stripes, one per batch row; step k reads window k of every stripe, so
each row's next window starts where its last one ended, and the trainer carries the LSTM's
(h, c) from one step to the next (detached: gradients still stop at the window's start). At the
end of a stripe every row starts over at its stripe's beginning from a zero state.

The window a step reads is a function of the step alone: a resumed run reads the same windows
as a straight one. The carried (h, c) is not in the checkpoint, so a resume starts from a zero
state, as at a stripe's wrap; from there on its losses differ slightly from a straight run's.
"""
from __future__ import annotations

import numpy as np
import torch

from musictui.errors import UserError


class StripeBatches:
    """`batch_size` contiguous stripes of `ids`, read `seq_length` characters a step."""

    def __init__(self, ids: np.ndarray, seq_length: int, batch_size: int):
        self.ids = ids
        self.seq_length = seq_length
        usable = len(ids) - 1  # every window needs its next character as a target
        self.stripe_length = usable // batch_size
        self.windows_per_stripe = self.stripe_length // seq_length
        if self.windows_per_stripe < 1:
            raise UserError(
                f"--batching stateful: {len(ids):,} training characters make stripes of "
                f"{self.stripe_length} for {batch_size} rows, shorter than one window of {seq_length} "
                "(use a smaller --batch-size or --seq-length, or --batching random)")
        self.starts = np.arange(batch_size, dtype=np.int64) * self.stripe_length

    def window(self, step: int) -> int:
        """Which window of its stripe every row reads at `step` (0-based steps done before it)."""
        return step % self.windows_per_stripe

    def starts_over(self, step: int) -> bool:
        """Whether `step` reads the first window of the stripes (so the carried state is reset)."""
        return self.window(step) == 0

    def batch(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """`(x, y)` for `step`: row i is window `window(step)` of stripe i; `y` is `x` one ahead."""
        offsets = self.starts + self.window(step) * self.seq_length
        windows = self.ids[offsets[:, None] + np.arange(self.seq_length + 1)]
        return windows[:, :-1], windows[:, 1:]


def validation_windows(val_ids: np.ndarray, config) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Fixed, non-overlapping windows of the held-out tunes, each read from a zero state: the same
    every evaluation, whatever the batching (the yardstick that compares recipes)."""
    n = min((len(val_ids) - 1) // config.seq_length, config.eval_windows)
    if n <= 0:
        return []
    windows = val_ids[: n * config.seq_length + 1]
    x = torch.from_numpy(windows[:-1].reshape(n, config.seq_length).copy())
    y = torch.from_numpy(windows[1:].reshape(n, config.seq_length).copy())
    return [(x[i : i + config.batch_size], y[i : i + config.batch_size]) for i in range(0, n, config.batch_size)]
