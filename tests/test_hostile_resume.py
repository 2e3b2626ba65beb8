"""Resume exactness with everything else the process does in between (issue 12).

The app samples a tune at every evaluation (a sampler seeds itself with torch.seed() when no
seed is given) and builds models; Comet does too. Those drew from torch's global generator,
which dropout also used, so a dropout run that sampled along the way did not repeat after a
resume. Training now has its own generator, saved in the checkpoint.
"""
from __future__ import annotations

import threading

import torch

from musictui.checkpoint import load_checkpoint
from musictui.model import CharLSTM
from musictui.train import Trainer


def _disturb(trainer: Trainer) -> None:
    """What the app and Comet do between steps: draw from torch's global generator."""
    torch.seed()
    trainer.sample_text(40, seed=None)
    CharLSTM(5, 4, 4)  # building any model initialises weights from the global generator
    torch.rand(3)


def test_a_dropout_run_with_sampling_between_steps_resumes_exactly(tmp_path, corpus, tiny_config):
    config = tiny_config.override(dropout=0.3, steps=16, eval_every=8, checkpoint_every=100)
    straight = Trainer(corpus, config, tmp_path / "straight")
    for _ in straight.run(log_metrics=False):
        pass

    first = Trainer(corpus, config, tmp_path / "stopped")
    stop = threading.Event()
    for metrics in first.run(stop, log_metrics=False):
        _disturb(first)
        if metrics.step == 7:
            stop.set()
    path = first.save()
    torch.manual_seed(1234)  # a fresh process would start the global generator anywhere
    resumed = Trainer(corpus, config, tmp_path / "stopped", resume_from=load_checkpoint(path))
    for _ in resumed.run(log_metrics=False):
        _disturb(resumed)

    assert resumed.step == straight.step == 16
    assert resumed.train_losses == straight.train_losses  # exactly, dropout masks included
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name


def test_the_runs_own_generator_drives_the_dropout_masks(tmp_path, corpus, tiny_config):
    """Same seed, same weights and batches: only reseeding the run's generator changes the curve."""
    losses = []
    for reseed in (None, None, 99):
        trainer = Trainer(corpus, tiny_config.override(dropout=0.5, steps=3), tmp_path / str(len(losses)))
        if reseed is not None:
            trainer.generator.manual_seed(reseed)
        torch.seed()  # the global generator is moved either way: it must not matter
        for _ in trainer.run(log_metrics=False):
            pass
        losses.append(trainer.train_losses)
    assert losses[0] == losses[1] and losses[0] != losses[2]
