"""The model that ships in musictui/shipped/ (package data): it loads, it is small, it writes a real tune."""
from pathlib import Path

import pytest

from musictui.checkpoint import list_checkpoints, load_checkpoint
from musictui.commands.common import SHIPPED_DIR, find_checkpoint

MAX_BYTES = 25 * 1000 * 1000


@pytest.fixture(scope="module")
def shipped() -> Path:
    found = list_checkpoints(SHIPPED_DIR)
    assert len(found) == 1, f"expected exactly one shipped checkpoint in {SHIPPED_DIR}, found {found}"
    return found[0]


def test_shipped_checkpoint_is_small_and_weights_only(shipped):
    assert shipped.stat().st_size <= MAX_BYTES
    ckpt = load_checkpoint(shipped)
    assert ckpt.optimizer_state is None  # a model to generate from, not a run to resume
    assert len(ckpt.vocab) == 83 and ckpt.step > 0
    assert "command" in ckpt.extra  # how it was made travels with it


def test_shipped_model_writes_a_complete_tune_abc2midi_can_play(shipped):
    from musictui.audio import check_abc
    from musictui.sample import SampleSettings, Sampler, extract_tunes

    sampler = Sampler.from_checkpoint(shipped)
    text = sampler.generate("X:1\n", SampleSettings(seed=0, tunes=1, max_length=3000))
    tunes, unfinished = extract_tunes(text)
    assert len(tunes) == 1 and unfinished is None
    report = check_abc(tunes[0])
    assert report.notes > 20 and report.duration_s > 5


def test_shipped_model_is_the_default_when_the_user_has_trained_none(shipped, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./checkpoints here
    assert find_checkpoint(None) == shipped
