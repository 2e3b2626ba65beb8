"""Making the app's Trainer and its evaluation samples: no textual here (the screen's workers call these)."""
from __future__ import annotations

from pathlib import Path

SAMPLE_CHARS = 200  # the short sample shown at each evaluation


def build_trainer(checkpoint_dir: Path, corpus: Path | None, preset: str, device: str = "auto",
                  overrides: dict | None = None):
    """A Trainer resumed from the newest checkpoint in `checkpoint_dir`, or a new one from `preset`.

    Returns (trainer, a one-line description for the screen). Raises UserError for a missing
    corpus, a bad checkpoint, or a checkpoint from another corpus.
    """
    from musictui.model import resolve_device
    from musictui.train import build_trainer as build

    # Every core, as `musictui train` has: the training process runs at nice 19 (train_process.py),
    # so the UI still comes first, and one thread fewer trained at 0.6 of the CLI's speed on a quiet
    # 2-core machine (benchmarks/train_speed.py: 9,000 against 16,000 chars/s; 93% with every core).
    # One policy with `musictui train` (musictui.train.build_trainer): resume=None resumes the
    # folder's run when it has one, else starts `preset`; the folder is locked while it trains.
    trainer = build(checkpoint_dir, corpus, preset, overrides, resume=None, device=resolve_device(device))
    corpus_data = trainer.corpus
    note = (f"resumed from {trainer.resumed_from} at step {trainer.step}" if trainer.resumed_from
            else f"new {preset} run")
    params = sum(p.numel() for p in trainer.model.parameters())
    return trainer, (f"{note}: {len(corpus_data.train_tunes)} tunes, {params:,} parameters, "
                     f"checkpoints in {checkpoint_dir}/")


def evaluation_sample(trainer, seed: int = 0) -> str:
    """~200 characters from a copy of the current weights (never the model being trained)."""
    return trainer.sample_text(SAMPLE_CHARS, seed)


def save_run_to(trainer, folder: Path) -> Path:
    """Write the run's checkpoint at its current step into `folder` (created if need be), without
    moving the run there: used when the run's own folder cannot take it (a full disk)."""
    from musictui.checkpoint import checkpoint_name, save_checkpoint

    path = save_checkpoint(trainer.checkpoint(), Path(folder) / checkpoint_name(trainer.step))
    trainer.saved_step, trainer.saved_path = trainer.step, path  # saved, if not in the run's own folder
    return path
