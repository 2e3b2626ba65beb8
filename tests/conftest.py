"""Shared fixtures: the real corpus, and a tiny trained checkpoint made once per test session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests run on 2 cores beside other work; one thread per torch op keeps timings steady.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def corpus():
    from musictui.data import load_corpus

    return load_corpus()


@pytest.fixture(scope="session")
def tiny_config():
    from musictui.model import PRESETS

    return PRESETS["tiny"].override(steps=60, eval_every=30, checkpoint_every=30)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, corpus, tiny_config) -> Path:
    """A `tiny` model trained for a few seconds on the real corpus: enough to produce ABC-looking text."""
    from musictui.train import Trainer

    folder = tmp_path_factory.mktemp("tiny-ckpt")
    trainer = Trainer(corpus, tiny_config.override(steps=300, checkpoint_every=300), folder)
    for _ in trainer.run(log_metrics=False):
        pass
    return folder / "step-0000300.safetensors"
