"""Stateful batching (`--batching stateful`), the warm-up, and how both survive a checkpoint."""
import json
import threading

import numpy as np
import pytest
import torch

from musictui.batches import StripeBatches, validation_windows
from musictui.checkpoint import load_checkpoint, newest_checkpoint
from musictui.errors import UserError
from musictui.model import PRESETS, Config
from musictui.train import Trainer, build_trainer


def test_each_row_reads_consecutive_windows_of_its_own_stripe(corpus):
    ids = corpus.train_ids()
    stripes = StripeBatches(ids, seq_length=100, batch_size=32)
    assert stripes.stripe_length == (len(ids) - 1) // 32
    first_x, first_y = stripes.batch(0)
    x, y = stripes.batch(1)
    assert first_x.shape == (32, 100) and np.array_equal(first_x[:, 1:], first_y[:, :-1])
    # Step 1 starts each row where step 0 ended: the text goes on, so the carried (h, c) fits it.
    assert np.array_equal(first_y[:, -1], x[:, 0])
    assert np.array_equal(np.concatenate([first_x, x], axis=1), ids[stripes.starts[:, None] + np.arange(200)])
    # The stripes are disjoint and in order, and no window runs into the next row's stripe.
    last_x, last_y = stripes.batch(stripes.windows_per_stripe - 1)
    assert np.all(stripes.starts[:-1] + stripes.windows_per_stripe * 100 <= stripes.starts[1:])
    assert np.array_equal(last_y[:, -1], ids[stripes.starts + stripes.windows_per_stripe * 100])


def test_one_pass_of_the_stripes_covers_the_training_text(corpus):
    ids = corpus.train_ids()
    stripes = StripeBatches(ids, seq_length=100, batch_size=32)
    seen = np.zeros(len(ids), dtype=bool)
    for step in range(stripes.windows_per_stripe):
        offsets = stripes.starts + stripes.window(step) * 100
        seen[offsets[:, None] + np.arange(100)] = True
    # All but under one window per stripe (and under one character per row at the end) is read.
    assert (~seen).sum() < 32 * 100 + 32
    assert (~seen).sum() == len(ids) - 32 * stripes.windows_per_stripe * 100


def test_the_window_follows_from_the_step_so_a_resume_reads_the_same(corpus):
    ids = corpus.train_ids()
    stripes = StripeBatches(ids, seq_length=100, batch_size=32)
    wrap = stripes.windows_per_stripe
    assert [stripes.starts_over(s) for s in (0, 1, wrap - 1, wrap, wrap + 1)] == [True, False, False, True, False]
    again = StripeBatches(ids, seq_length=100, batch_size=32)  # a resumed run builds its own
    for step in (0, 7, wrap - 1, wrap, wrap + 7, 5 * wrap + 3):
        assert np.array_equal(stripes.batch(step)[0], again.batch(step)[0])
    assert np.array_equal(stripes.batch(7)[0], stripes.batch(wrap + 7)[0])  # the next pass: the same stripes


def test_too_short_a_text_for_the_stripes_is_one_clear_line():
    with pytest.raises(UserError, match="--batching stateful: .* shorter than one window of 100"):
        StripeBatches(np.arange(1000), seq_length=100, batch_size=32)


def test_validation_windows_do_not_depend_on_the_batching(corpus):
    val = corpus.val_ids()
    plain = validation_windows(val, PRESETS["lab"])
    stateful = validation_windows(val, PRESETS["lab"].override(batching="stateful", batch_size=16))
    assert sum(len(x) for x, _ in plain) == sum(len(x) for x, _ in stateful) == 128
    assert torch.equal(torch.cat([x for x, _ in plain]), torch.cat([x for x, _ in stateful]))


def test_warmup_ramps_then_the_cosine_runs_to_the_last_step():
    cfg = Config(learning_rate=1e-2, warmup_steps=10, lr_schedule="cosine", steps=110)
    assert cfg.learning_rate_at(0) == pytest.approx(1e-3)
    assert cfg.learning_rate_at(9) == pytest.approx(1e-2)
    assert cfg.learning_rate_at(10) == pytest.approx(1e-2)
    assert cfg.learning_rate_at(60) == pytest.approx(1e-2 * 0.55)
    assert cfg.learning_rate_at(110) == pytest.approx(1e-3)
    assert Config(warmup_steps=4).learning_rate_at(100) == Config().learning_rate


def test_config_checks_and_an_old_checkpoints_config_loads():
    with pytest.raises(ValueError, match="batching must be random or stateful"):
        Config(batching="sideways").check()
    with pytest.raises(ValueError, match="warmup_steps"):
        Config(warmup_steps=-1).check()
    old = {k: v for k, v in Config().to_dict().items() if k not in ("batching", "warmup_steps", "precision")}
    assert Config.from_dict(old) == PRESETS["lab"]  # a checkpoint written before these fields


def test_stateful_training_carries_the_state_and_resumes_with_its_settings(corpus, tiny_config, tmp_path):
    cfg = tiny_config.override(steps=30, batching="stateful", warmup_steps=5, checkpoint_every=1000)
    straight = Trainer(corpus, cfg, tmp_path / "straight")
    seen_states = []
    for m in straight.run(log_metrics=False):
        seen_states.append(straight.state)
        assert straight.state is not None and not straight.state[0].requires_grad
    assert not torch.equal(seen_states[0][0], seen_states[1][0])
    assert np.mean(straight.train_losses[-5:]) < straight.train_losses[0] - 0.5  # it learns

    # Through build_trainer and a checkpoint: the new fields are stored and a resume keeps them.
    folder = tmp_path / "resumed"
    trainer = build_trainer(folder, preset="tiny", overrides=cfg.to_dict())
    stop = threading.Event()
    for m in trainer.run(stop, log_metrics=False):
        if m.step == 12:
            stop.set()
    trainer.save()
    trainer.close()
    ckpt = load_checkpoint(newest_checkpoint(folder))
    assert (ckpt.config.batching, ckpt.config.warmup_steps) == ("stateful", 5)
    resumed = build_trainer(folder, preset="tiny", overrides={"batching": "random", "warmup_steps": 0}, resume=True)
    assert (resumed.config.batching, resumed.config.warmup_steps) == ("stateful", 5)
    assert resumed.ignored == ["batching", "warmup_steps"]
    assert resumed.state is None  # not in the checkpoint: a resume starts from a zero state
    rest = [m.loss for m in resumed.run(log_metrics=False)]
    resumed.close()
    # The first step after the resume reads the straight run's windows from a zero state, so only
    # the loss, not the windows, may differ; the steps before it are the straight run's exactly.
    assert ckpt.train_losses == straight.train_losses[:12]
    assert len(rest) == 18 and all(np.isfinite(rest))


def test_train_command_takes_the_new_flags(tmp_path):
    from musictui.cli import main

    folder = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--steps", "8", "--batching", "stateful", "--warmup", "3",
                 "--checkpoint-dir", str(folder)]) == 0
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [round(r["lr"], 6) for r in records[:4]] == [round(PRESETS["tiny"].learning_rate * k / 3, 6) for k in (1, 2, 3, 3)]
    assert load_checkpoint(newest_checkpoint(folder)).config.batching == "stateful"


def test_bf16_steps_learn_and_evaluate_in_fp32(corpus, tiny_config, tmp_path):
    cfg = tiny_config.override(steps=30, precision="bf16", eval_every=30, checkpoint_every=1000)
    trainer = Trainer(corpus, cfg, tmp_path)
    metrics = list(trainer.run(log_metrics=False))
    assert np.mean(trainer.train_losses[-5:]) < trainer.train_losses[0] - 0.5
    assert metrics[-1].val_loss == trainer.evaluate()  # evaluation is not autocast: the same figure again
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    with pytest.raises(ValueError, match="precision must be fp32 or bf16"):
        Config(precision="fp8").check()
