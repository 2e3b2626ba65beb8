"""The settings of a model and its training (Config) and the presets, with no torch in them.

The command line checks `musictui train`'s options against these before torch is imported (1.5 s),
so that a mistake is refused at once; musictui.model re-exports them beside the network itself.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace


# The names a Config field accepts; the command line's flags take the same (commands/train.py).
LR_SCHEDULES = ("constant", "cosine")
BATCHINGS = ("random", "stateful")    # batches.py
TRAIN_PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class Config:
    """Everything that defines a model and how it is trained. Stored in every checkpoint."""

    embedding_dim: int = 256      # size of each character's learned vector
    hidden_size: int = 1024       # LSTM units: the model's memory of the tune so far
    dropout: float = 0.0          # on the LSTM's output, before the last layer (0 = the lab)
    batch_size: int = 32          # windows per training step
    seq_length: int = 100         # characters per window (and per backpropagation through time)
    learning_rate: float = 5e-3   # Adam's step size
    lr_schedule: str = "constant" # "constant" (the lab) or "cosine" (decays to 10% by the last step)
    grad_clip: float = 5.0        # clip the gradient norm to this (0 = off); keeps Adam from jumping
    steps: int = 3000             # the whole run, counted across resumes
    eval_every: int = 100         # steps between validation losses
    eval_windows: int = 128       # validation windows (of seq_length) per evaluation
    checkpoint_every: int = 500   # steps between checkpoints (one is also written at the end)
    seed: int = 0                 # weights, batch order and dropout all follow from it
    batching: str = "random"      # "random" windows (the lab) or "stateful" stripes, (h, c) carried (batches.py)
    warmup_steps: int = 0         # the learning rate rises linearly from 0 over these first steps (0 = off)
    precision: str = "fp32"       # training steps' arithmetic: "fp32", or "bf16" (autocast; evaluation stays fp32)

    @classmethod
    def from_dict(cls, values: dict) -> "Config":
        """A Config from stored values, each checked: raises ValueError naming the first bad one
        (a hand-edited checkpoint must not reach torch with hidden_size -5 or dropout "x")."""
        if not isinstance(values, dict):
            raise ValueError(f"config is {type(values).__name__}, not a mapping of settings")
        known = {f.name for f in fields(cls)}
        config = cls(**{k: v for k, v in values.items() if k in known})
        config.check()
        return config

    def check(self) -> None:
        """Raise ValueError naming the first setting of the wrong type or out of range."""
        for name in ("embedding_dim", "hidden_size", "batch_size", "seq_length", "steps", "eval_every",
                     "eval_windows", "checkpoint_every"):
            value = getattr(self, name)
            if type(value) is not int or value <= 0:
                raise ValueError(f"{name} must be a positive whole number, not {value!r}")
        if type(self.seed) is not int or not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be a whole number from 0 to 2**63-1, not {self.seed!r}")
        for name, low, high in (("dropout", 0, 1), ("learning_rate", 0, math.inf), ("grad_clip", 0, math.inf)):
            value = getattr(self, name)
            if type(value) not in (int, float) or not math.isfinite(value) or not low <= value < high:
                raise ValueError(f"{name} must be a finite number in [{low}, {high}), not {value!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be above 0, not {self.learning_rate!r}")
        for field_name, names in (("lr_schedule", LR_SCHEDULES), ("batching", BATCHINGS),
                                  ("precision", TRAIN_PRECISIONS)):
            value = getattr(self, field_name)
            if value not in names:
                raise ValueError(f"{field_name} must be {' or '.join(names)}, not {value!r}")
        if type(self.warmup_steps) is not int or self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be 0 or a positive whole number, not {self.warmup_steps!r}")

    def learning_rate_at(self, step: int) -> float:
        """The rate for the step after `step` steps: the warm-up's ramp, then the schedule, whose
        cosine runs from the warm-up's end to the last step (with no warm-up, the lab's formula)."""
        base = self.learning_rate
        if step < self.warmup_steps:
            return base * (step + 1) / self.warmup_steps
        if self.lr_schedule == "cosine":
            progress = min((step - self.warmup_steps) / max(self.steps - self.warmup_steps, 1), 1.0)
            return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        return base

    def to_dict(self) -> dict:
        return asdict(self)

    def override(self, **changes) -> "Config":
        """A copy with the given values replaced; `None` means keep."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


# What may change when a run is resumed: anything else would make it another run.
RESUMABLE = frozenset({"steps", "eval_every", "checkpoint_every"})

PRESETS: dict[str, Config] = {
    # The lab's key parameters: embedding 256, LSTM 1024, batch 32, sequence 100, Adam 5e-3.
    "lab": Config(),
    # Sized for a 2-core CPU: about a quarter of the lab's work per step.
    "small": Config(embedding_dim=128, hidden_size=512, steps=2000, eval_every=100, checkpoint_every=250),
    # Trains in seconds, for tests and for trying the app.
    "tiny": Config(embedding_dim=16, hidden_size=48, batch_size=8, seq_length=32, learning_rate=1e-2,
                   steps=200, eval_every=50, eval_windows=16, checkpoint_every=100),
}
