import threading

import numpy as np
import pytest
import torch

from musictui.data import load_corpus
from musictui.model import PRESETS, CharLSTM
from musictui.train import Trainer

ONE_TUNE = "X:1\nT:Short\nM:4/4\nL:1/8\nK:D\nABcd efga|gfed cBAF|ABcd efga|gfed d4|]"


def test_model_shapes_for_every_preset():
    for name, cfg in PRESETS.items():
        model = CharLSTM.from_config(83, cfg)
        logits, (h, c) = model(torch.zeros(2, 7, dtype=torch.long))
        assert logits.shape == (2, 7, 83), name
        assert h.shape == c.shape == (1, 2, cfg.hidden_size)


def test_lab_preset_is_the_labs_recipe():
    lab = PRESETS["lab"]
    assert (lab.embedding_dim, lab.hidden_size, lab.batch_size, lab.seq_length, lab.learning_rate) == (256, 1024, 32, 100, 5e-3)
    assert lab.dropout == 0 and lab.lr_schedule == "constant"


def test_tiny_model_overfits_one_short_tune(tmp_path):
    (tmp_path / "one.abc").write_text(ONE_TUNE)
    corpus = load_corpus(tmp_path / "one.abc", val_fraction=0)
    cfg = PRESETS["tiny"].override(steps=250, seq_length=16, batch_size=16, checkpoint_every=10_000)
    trainer = Trainer(corpus, cfg, tmp_path / "ckpt")
    losses = [m.loss for m in trainer.run(log_metrics=False)]
    assert losses[0] > 3.0  # starts near log(vocab size)
    assert np.mean(losses[-10:]) < 0.3, losses[-10:]


def test_metrics_stream_and_stop_event(corpus, tiny_config, tmp_path):
    stop = threading.Event()
    trainer = Trainer(corpus, tiny_config, tmp_path)
    seen = []
    for m in trainer.run(stop):
        seen.append(m)
        if m.step == 35:
            stop.set()  # the loop must end before another step
    assert [m.step for m in seen] == list(range(1, 36))
    assert seen[29].val_loss is not None and seen[28].val_loss is None
    assert seen[29].checkpoint == tmp_path / "step-0000030.safetensors"
    assert all(m.chars_per_s > 0 and m.elapsed_s >= 0 for m in seen)
    assert (tmp_path / "metrics.jsonl").read_text().count("\n") == 35


def test_same_seed_same_run(corpus, tiny_config, tmp_path):
    a = [m.loss for m in Trainer(corpus, tiny_config.override(steps=10), tmp_path / "a").run(log_metrics=False)]
    b = [m.loss for m in Trainer(corpus, tiny_config.override(steps=10), tmp_path / "b").run(log_metrics=False)]
    c = [m.loss for m in Trainer(corpus, tiny_config.override(steps=10, seed=1), tmp_path / "c").run(log_metrics=False)]
    assert a == b and a != c


def test_resumed_run_has_the_same_loss_curve(corpus, tiny_config, tmp_path):
    from musictui.checkpoint import load_checkpoint, newest_checkpoint

    cfg = tiny_config.override(steps=40, dropout=0.3, checkpoint_every=1000)  # dropout: torch's RNG must resume too
    straight = [m.loss for m in Trainer(corpus, cfg, tmp_path / "straight").run(log_metrics=False)]

    stop = threading.Event()
    first = Trainer(corpus, cfg, tmp_path / "resumed")
    interrupted = []
    for m in first.run(stop, log_metrics=False):
        interrupted.append(m.loss)
        if m.step == 17:
            stop.set()
    first.save()
    ckpt = load_checkpoint(newest_checkpoint(tmp_path / "resumed"))
    assert ckpt.step == 17
    second = Trainer(corpus, ckpt.config, tmp_path / "resumed", resume_from=ckpt)
    rest = [m.loss for m in second.run(log_metrics=False)]
    assert interrupted + rest == straight
    assert second.train_losses == straight


def test_cosine_schedule_decays_to_a_tenth(corpus, tiny_config, tmp_path):
    trainer = Trainer(corpus, tiny_config.override(lr_schedule="cosine", steps=100), tmp_path)
    assert trainer.learning_rate(0) == pytest.approx(tiny_config.learning_rate)
    assert trainer.learning_rate(100) == pytest.approx(tiny_config.learning_rate * 0.1)


def test_snapshot_does_not_share_weights_with_training(corpus, tiny_config, tmp_path):
    trainer = Trainer(corpus, tiny_config.override(steps=5), tmp_path)
    snap = trainer.snapshot_model()
    before = snap.fc.weight.clone()
    for _ in trainer.run(log_metrics=False):
        pass
    assert torch.equal(snap.fc.weight, before)
    assert not torch.equal(trainer.model.fc.weight.detach(), before)


@pytest.mark.parametrize("before, after", [
    (b"", b""),
    (b'{"step": 1}\n', b'{"step": 1}\n'),
    (b'{"step": 1}\n{"ste', b'{"step": 1}\n'),
    (b'{"ste', b""),
])
def test_a_torn_last_metrics_line_is_cut_before_the_next_run_appends(tmp_path, before, after):
    """A full disk or a kill mid-write leaves half a line; the next line would be glued to it."""
    from musictui.metrics_log import drop_torn_line

    path = tmp_path / "metrics.jsonl"
    path.write_bytes(before)
    drop_torn_line(path)
    assert path.read_bytes() == after
    drop_torn_line(tmp_path / "not-there.jsonl")  # a first run: nothing to do
