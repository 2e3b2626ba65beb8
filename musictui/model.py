"""The network (Embedding -> LSTM -> Linear, as in the MIT 6.S191 music lab); its settings are musictui.config."""
from __future__ import annotations

import torch
from torch import nn

# The settings and presets live in musictui.config (no torch); they are part of this module's API.
from musictui.config import BATCHINGS, LR_SCHEDULES, PRESETS, RESUMABLE, TRAIN_PRECISIONS, Config  # noqa: F401
from musictui.errors import UserError


class CharLSTM(nn.Module):
    """Embedding -> one LSTM layer -> Linear to the vocabulary."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, dropout: float = 0.0):
        super().__init__()
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size, vocab_size)
        # The Trainer's own random generator for the dropout masks. Dropout would otherwise draw
        # from torch's global generator, which sampling (torch.seed()) and building a model also
        # move, so a run with samples taken between steps would not repeat after a resume.
        self.generator: torch.Generator | None = None

    @classmethod
    def from_config(cls, vocab_size: int, config: Config) -> "CharLSTM":
        return cls(vocab_size, config.embedding_dim, config.hidden_size, config.dropout)

    @staticmethod
    def weight_shapes(vocab_size: int, config: Config) -> dict[str, tuple[int, ...]]:
        """The state_dict's shapes, by arithmetic: checking a checkpoint against its own settings
        must neither allocate what a hostile config asks for nor build on the meta device (whose
        first use imports torch's reference ops: 1.3 s of every checkpoint load).
        tests/test_checkpoint.py checks these against the module's own state_dict."""
        V, E, H = vocab_size, config.embedding_dim, config.hidden_size
        return {"embedding.weight": (V, E), "lstm.weight_ih_l0": (4 * H, E), "lstm.weight_hh_l0": (4 * H, H),
                "lstm.bias_ih_l0": (4 * H,), "lstm.bias_hh_l0": (4 * H,), "fc.weight": (V, H), "fc.bias": (V,)}

    def forward(self, x: torch.Tensor, state=None):
        """x: (batch, seq) character indices -> (logits (batch, seq, vocab), (h, c))."""
        out, state = self.lstm(self.embedding(x), state)
        return self.fc(self._dropout(out)), state

    def _dropout(self, out: torch.Tensor) -> torch.Tensor:
        p = self.dropout.p
        if not self.training or p == 0 or self.generator is None:
            return self.dropout(out)
        keep = torch.empty_like(out).bernoulli_(1 - p, generator=self.generator)
        return out * keep / (1 - p)  # what nn.Dropout does, with our generator


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` takes the best device present: CUDA, then Apple's MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available (try --device auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps: Apple's MPS is not available here (try --device auto)")
    if name not in ("cpu", "cuda", "mps"):
        raise UserError(f"unknown device {name!r}: choose auto, cpu, cuda or mps")
    return torch.device(name)
