import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from safetensors.torch import save_file

from musictui.checkpoint import load_checkpoint, newest_checkpoint, save_checkpoint
from musictui.errors import UserError
from musictui.train import Trainer


@pytest.fixture
def trained(corpus, tiny_config, tmp_path):
    trainer = Trainer(corpus, tiny_config.override(steps=12, checkpoint_every=1000), tmp_path)
    for _ in trainer.run(log_metrics=False):
        pass
    return trainer


def test_round_trip_rebuilds_the_model_from_the_file_alone(trained, tmp_path):
    path = trained.save()
    ckpt = load_checkpoint(path)
    assert ckpt.step == 12 and ckpt.config == trained.config and ckpt.vocab == trained.corpus.vocab
    assert ckpt.train_losses == trained.train_losses and ckpt.best_val_loss == trained.best_val_loss
    model = ckpt.build_model()
    for name, value in trained.model.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    x = torch.tensor([[1, 2, 3]])
    assert torch.equal(model(x)[0], trained.model.eval()(x)[0])


def test_half_precision_export_is_smaller_and_close(trained, tmp_path):
    # Both through `musictui export` from the same checkpoint, so the only difference is --half:
    # the fp32 export is weights-only too, and a --half that did nothing would fail every check.
    from safetensors import safe_open

    from musictui.cli import main

    source = trained.save()
    full, half = tmp_path / "full.safetensors", tmp_path / "half.safetensors"
    assert main(["export", str(source), str(full)]) == 0
    assert main(["export", str(source), str(half), "--half"]) == 0

    def weights(path):
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}

    w_full, w_half = weights(full), weights(half)
    assert w_full.keys() == w_half.keys() and all(k.startswith("model.") for k in w_full)  # weights only
    assert {t.dtype for t in w_full.values()} == {torch.float32}
    assert {t.dtype for t in w_half.values()} == {torch.float16}
    assert half.stat().st_size < 0.55 * full.stat().st_size
    a, b = load_checkpoint(full).build_model(), load_checkpoint(half).build_model()
    x = torch.randint(0, 83, (1, 200))
    pa, pb = torch.softmax(a(x)[0], -1), torch.softmax(b(x)[0], -1)
    assert 0 < (pa - pb).abs().max() < 1e-2  # rounded, so not identical, but close


def test_newest_checkpoint_by_time(trained, tmp_path):
    first = trained.save()
    os.utime(first, (1, 1))
    second = save_checkpoint(trained.checkpoint(), tmp_path / "other.safetensors")
    assert newest_checkpoint(tmp_path) == second
    (tmp_path / ".other.safetensors.tmp-1").write_bytes(b"half")  # a crashed save's leftover is never picked
    assert newest_checkpoint(tmp_path) == second


def test_a_save_killed_midway_leaves_the_previous_checkpoint_whole(trained, tmp_path):
    path = trained.save()
    before = path.read_bytes()
    marker = tmp_path / "writing"
    script = textwrap.dedent(f"""
        import os, time, pathlib
        from musictui.checkpoint import load_checkpoint, save_checkpoint
        ckpt = load_checkpoint({str(path)!r})
        ckpt.step = 999
        real_fsync = os.fsync
        def slow_fsync(fd):
            pathlib.Path({str(marker)!r}).touch()   # half-way: the temp file is written, not renamed
            time.sleep(60)
        os.fsync = slow_fsync
        save_checkpoint(ckpt, pathlib.Path({str(path)!r}))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while not marker.exists():
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert path.read_bytes() == before
    assert load_checkpoint(path).step == 12
    assert newest_checkpoint(tmp_path) == path


def _rewrite_metadata(src, dst, change):
    from safetensors import safe_open
    with safe_open(str(src), framework="pt") as f:
        meta = json.loads(f.metadata()["musictui"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    change(meta, tensors)
    save_file(tensors, str(dst), metadata={"musictui": json.dumps(meta)})
    return dst


def test_bad_checkpoints_are_one_clear_error(trained, tmp_path):
    good = trained.save()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    pickled = tmp_path / "pickled.safetensors"
    torch.save({"x": 1}, pickled)
    fewer_chars = _rewrite_metadata(good, tmp_path / "vocab.safetensors", lambda m, t: m.__setitem__("vocab", m["vocab"][:-1]))
    missing = _rewrite_metadata(good, tmp_path / "missing.safetensors", lambda m, t: t.pop("model.fc.bias"))
    cases = {
        tmp_path / "nope.safetensors": "checkpoint not found",
        truncated: "not a readable checkpoint",
        foreign: "not a musictui checkpoint",
        pickled: "not a readable checkpoint",
        fewer_chars: r"embedding.weight has shape \(83, 16\), but its vocabulary \(82 characters\)",
        missing: "lack model.fc.bias|lack fc.bias",
    }
    for path, message in cases.items():
        with pytest.raises(UserError, match=message) as info:
            load_checkpoint(path)
        assert str(path.name) in str(info.value) or "not found" in message


def test_loading_never_unpickles(tmp_path):
    """A pickle that would run code when unpickled is only ever read as (bad) bytes."""
    flag = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(flag), "w"))

    evil = tmp_path / "evil.safetensors"
    torch.save(Evil(), evil)
    with pytest.raises(UserError):
        load_checkpoint(evil)
    assert not flag.exists()


def test_resume_rejects_another_vocabulary(trained, tmp_path):
    from musictui.data import load_corpus

    (tmp_path / "c.abc").write_text("X:1\nK:C\n" + "CDEF GABc|" * 50)
    other = load_corpus(tmp_path / "c.abc", val_fraction=0)
    ckpt = load_checkpoint(trained.save())
    with pytest.raises(UserError, match="another vocabulary"):
        Trainer(other, ckpt.config, tmp_path / "x", resume_from=ckpt)


@pytest.mark.parametrize("sizes", [dict(embedding_dim=16, hidden_size=48), dict(embedding_dim=7, hidden_size=5)])
def test_the_shapes_a_load_checks_are_the_models_own(sizes):
    """CharLSTM.weight_shapes is arithmetic (a load must not build what a hostile config asks for):
    it must stay what the module itself holds."""
    from musictui.model import PRESETS, CharLSTM

    config = PRESETS["tiny"].override(**sizes)
    model = CharLSTM.from_config(83, config)
    assert CharLSTM.weight_shapes(83, config) == {name: tuple(t.shape) for name, t in model.state_dict().items()}
