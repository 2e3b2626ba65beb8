"""Start a new run from another run's weights (`musictui train --init-from CHECKPOINT`).

A model trained on irish.abc already knows ABC; training it further on a bigger corpus (`folk`)
reaches a given held-out loss sooner than starting from random weights. The new run has its own
optimizer, schedule and step count: only the weights carry over. Its vocabulary may be larger
than the old one: a character both know keeps its learned embedding and output row; a new one
starts from the fresh weights the new model was built with.
"""
from __future__ import annotations

import torch

from musictui.checkpoint import Checkpoint
from musictui.data import Vocabulary
from musictui.errors import UserError
from musictui.model import CharLSTM

# Parameters with one row per character: (name, dimension that runs over the vocabulary).
_PER_CHARACTER = {"embedding.weight": 0, "fc.weight": 0, "fc.bias": 0}


def check_sizes(ckpt: Checkpoint, embedding_dim: int, hidden_size: int) -> None:
    """A UserError unless the new model has the checkpoint's sizes (weights cannot be resized)."""
    old = ckpt.config
    if (old.embedding_dim, old.hidden_size) != (embedding_dim, hidden_size):
        raise UserError(
            f"--init-from {ckpt.path}: it has embedding {old.embedding_dim} and LSTM {old.hidden_size}, "
            f"the new run {embedding_dim} and {hidden_size}: pass --embedding-dim {old.embedding_dim} "
            f"--hidden-size {old.hidden_size} (or the preset it was trained with)")


@torch.no_grad()
def warm_start(model: CharLSTM, ckpt: Checkpoint, vocab: Vocabulary) -> int:
    """Copy `ckpt`'s weights into `model` (built for `vocab`), in place, so that an optimizer
    already holding the parameters stays valid. Returns how many characters kept their rows."""
    check_sizes(ckpt, model.embedding.embedding_dim, model.hidden_size)
    shared = [c for c in vocab.chars if c in ckpt.vocab.char2idx]
    new_rows = torch.tensor([vocab.char2idx[c] for c in shared], dtype=torch.long)
    old_rows = torch.tensor([ckpt.vocab.char2idx[c] for c in shared], dtype=torch.long)
    params = dict(model.named_parameters())
    for name, value in ckpt.model_state.items():
        target = params[name]
        value = value.float().to(target.device)
        if name in _PER_CHARACTER:
            target[new_rows.to(target.device)] = value[old_rows.to(value.device)]
        else:
            target.copy_(value)
    return len(shared)
