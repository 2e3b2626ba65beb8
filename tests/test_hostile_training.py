"""Hostile input, part 2: training that must not crash or lose work (issue 12).

Real processes, real signals, real flocks and a real full tmpfs.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from hostile import files, musictui, refused, signal_and_wait, start, wait_for_lines
from musictui.checkpoint import list_checkpoints, load_checkpoint

TINY = ["--preset", "tiny"]
FOREVER = ["--steps", "1000000", "--checkpoint-every", "1000000"]


def _tunes(n: int) -> str:
    body = "|:DEF GAB|cBA GFE|DEF GAB|AFD D3:|\n|:fed cBA|Bcd AFD|fed cBA|BAF E3:|\n"
    return "\n".join(f"X:{i}\nT:T{i}\nM:6/8\nL:1/8\nK:D\n{body}" for i in range(1, n + 1))


@pytest.fixture
def corpus(tmp_path) -> Path:
    path = tmp_path / "tunes.abc"
    path.write_text(_tunes(60))
    return path


@pytest.fixture(scope="module")
def one_step(tmp_path_factory) -> Path:
    """A run folder holding one tiny checkpoint (step 1), made once: cases copy it."""
    folder = tmp_path_factory.mktemp("one-step")
    (folder / "tunes.abc").write_text(_tunes(60))
    done = _train(folder / "run", folder / "tunes.abc", "--steps", "1", "--checkpoint-every", "1")
    assert done.returncode == 0, done.stderr
    return folder / "run"


def _train(run: Path, corpus: Path, *more: str, cwd=None):
    return musictui("train", *TINY, "--corpus", corpus, "--checkpoint-dir", run, *more, cwd=cwd)


def test_a_diverging_run_stops_with_one_line_and_saves_nothing_non_finite(tmp_path, corpus):
    run = tmp_path / "run"
    done = _train(run, corpus, "--steps", "40", "--checkpoint-every", "1", "--learning-rate", "1e38")
    refused(done, "training diverged", "not saved", "--learning-rate", status=1)
    assert not list_checkpoints(run)  # step 1's weights were already inf: nothing written
    for line in (run / "metrics.jsonl").read_text().splitlines():
        assert json.loads(line)["loss"] < 1e30  # no NaN was logged as a step


def test_divergence_after_good_steps_keeps_the_last_good_checkpoint(tmp_path, corpus):
    from musictui.data import load_corpus
    from musictui.train import Trainer, TrainingDiverged

    run = tmp_path / "run"
    assert _train(run, corpus, "--steps", "3", "--checkpoint-every", "3").returncode == 0
    good = files(run)["step-0000003.safetensors"]
    ckpt = load_checkpoint(run / "step-0000003.safetensors")
    trainer = Trainer(load_corpus(corpus), ckpt.config.override(learning_rate=1e38, grad_clip=0.0, steps=50,
                                                                checkpoint_every=1), run, resume_from=ckpt)
    with pytest.raises(TrainingDiverged, match="last good checkpoint is ") as raised:
        for _ in trainer.run(log_metrics=False):
            pass
    named = Path(str(raised.value).split("last good checkpoint is ")[1].split(" ")[0])
    assert named == list_checkpoints(run)[-1]
    assert load_checkpoint(named).step < trainer.step + 1  # whole and finite (load refuses NaN)
    assert trainer.step < 10 and files(run)["step-0000003.safetensors"] == good


def test_a_checkpoint_with_nan_weights_is_never_resumed_or_used(tmp_path, corpus, one_step):
    run = tmp_path / "run"
    shutil.copytree(one_step, run)
    path = run / "step-0000001.safetensors"
    _rewrite(path, tensors=lambda t: {**t, "model.fc.bias": torch.full_like(t["model.fc.bias"], float("nan"))})
    refused(_train(run, corpus, "--resume", "--steps", "4"), "step-0000001", "nan", status=1)
    refused(musictui("generate", "--checkpoint", path, "--seed", "1"), "nan", status=1)


BAD_META = {
    "config a list": (lambda m: {**m, "config": [1, 2]}, "config"),
    "hidden_size -5": (lambda m: {**m, "config": {**m["config"], "hidden_size": -5}}, "hidden_size"),
    "hidden_size 1.5": (lambda m: {**m, "config": {**m["config"], "hidden_size": 1.5}}, "hidden_size"),
    "dropout x": (lambda m: {**m, "config": {**m["config"], "dropout": "x"}}, "dropout"),
    "step abc": (lambda m: {**m, "step": "abc"}, "step"),
    "step -3": (lambda m: {**m, "step": -3}, "step"),
    "losses a string": (lambda m: {**m, "train_losses": "abc"}, "train_losses"),
    "val_losses bad": (lambda m: {**m, "val_losses": [[1]]}, "val_losses"),
    "vocab a number": (lambda m: {**m, "vocab": 5}, "vocab"),
    "extra a list": (lambda m: {**m, "extra": []}, "extra"),
    "optimizer a string": (lambda m: {**m, "optimizer": "adam"}, "optimizer"),
    "metadata a list": (lambda m: [m], "not a musictui checkpoint"),
}


@pytest.mark.parametrize("case", sorted(BAD_META))
def test_hand_made_metadata_is_one_line_naming_the_field(tmp_path, corpus, one_step, case):
    run = tmp_path / "run"
    shutil.copytree(one_step, run)
    path = run / "step-0000001.safetensors"
    change, word = BAD_META[case]
    _rewrite(path, meta=change)
    before = files(run)
    refused(_train(run, corpus, "--resume", "--steps", "3"), "step-0000001", word, status=1)
    refused(musictui("generate", "--checkpoint", path, "--seed", "1"), word, status=1)
    assert files(run) == before


@pytest.mark.parametrize("flag,value,words", [
    ("--batch-size", str(10**12), ["memory", "--batch-size"]),
    ("--hidden-size", str(10**7), ["memory", "--hidden-size"]),
    ("--embedding-dim", str(10**10), ["memory"]),
])
def test_absurd_sizes_say_what_they_would_need(tmp_path, corpus, flag, value, words):
    line = refused(_train(tmp_path / "run", corpus, flag, value, "--steps", "2"), *words, status=1)
    assert " TB" in line or " PB" in line or " EB" in line or " GB" in line, line
    assert not list_checkpoints(tmp_path / "run")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_sigterm_and_sighup_save_like_ctrl_c(tmp_path, corpus, signum):
    run = tmp_path / "run"
    proc = start("train", *TINY, *FOREVER, "--corpus", corpus, "--checkpoint-dir", run)
    wait_for_lines(run / "metrics.jsonl", 5, proc)
    done = signal_and_wait(proc, signum)
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    step = load_checkpoint(list_checkpoints(run)[-1]).step
    assert step >= 5 and f"at step {step}: saved" in done.stdout.replace("\n", "")
    again = _train(run, corpus, "--resume", "--steps", str(step + 2))
    assert again.returncode == 0, again.stderr
    assert load_checkpoint(list_checkpoints(run)[-1]).step == step + 2


def test_two_trainers_in_one_folder_the_second_is_refused_naming_the_pid(tmp_path, corpus):
    run = tmp_path / "run"
    first = start("train", *TINY, *FOREVER, "--corpus", corpus, "--checkpoint-dir", run)
    try:
        wait_for_lines(run / "metrics.jsonl", 2, first)
        before = (run / "metrics.jsonl").read_text().count("\n")
        second = _train(run, corpus, "--resume", "--steps", "5")
        refused(second, str(run), f"PID {first.pid}", status=1)
        # the app's path goes through the same build_trainer
        app_side = subprocess.run([sys.executable, "-c", (
            "import sys; from musictui.app.training import build_trainer\n"
            "from musictui.errors import UserError\n"
            f"try: build_trainer({str(run)!r}, {str(corpus)!r}, 'tiny', 'cpu')\n"
            "except UserError as e: print(e); sys.exit(1)")], capture_output=True, text=True, timeout=120)
        assert app_side.returncode == 1 and f"PID {first.pid}" in app_side.stdout, app_side
        assert (run / "metrics.jsonl").read_text().count("\n") >= before
    finally:
        done = signal_and_wait(first, signal.SIGINT)
    assert done.returncode == 130


def test_a_killed_run_does_not_block_and_its_temp_files_are_cleaned(tmp_path, corpus):
    run = tmp_path / "run"
    proc = start("train", *TINY, *FOREVER, "--corpus", corpus, "--checkpoint-dir", run)
    wait_for_lines(run / "metrics.jsonl", 2, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    # A save that SIGKILL interrupted leaves a temp file named after the dead PID.
    stale = run / f".step-0000007.safetensors.tmp-{proc.pid}-deadbeef"
    stale.write_bytes(b"half a checkpoint")
    old_style = run / f".step-0000008.safetensors.tmp-{proc.pid}"
    old_style.write_bytes(b"half")
    mine = run / "my-notes.safetensors.txt"
    mine.write_text("not musictui's")
    done = _train(run, corpus, "--steps", "2", "--checkpoint-every", "1")
    assert done.returncode == 0, done.stderr  # the lock died with its process
    assert not stale.exists() and not old_style.exists() and mine.exists()


def test_keep_last_prunes_by_step_across_resumed_runs(tmp_path, corpus):
    run = tmp_path / "run"
    assert _train(run, corpus, "--steps", "4", "--checkpoint-every", "1").returncode == 0
    assert _train(run, corpus, "--resume", "--steps", "8").returncode == 0
    (run / "keep-me.safetensors").write_bytes((run / "step-0000008.safetensors").read_bytes())
    assert _train(run, corpus, "--resume", "--steps", "10").returncode == 0
    names = sorted(p.name for p in run.glob("step-*.safetensors"))
    assert names == ["step-0000008.safetensors", "step-0000009.safetensors", "step-0000010.safetensors"]
    assert (run / "keep-me.safetensors").exists()


@pytest.fixture
def small_tmpfs(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): the full-disk case needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_names_the_file_and_keeps_the_previous_checkpoint(tmp_path, corpus, small_tmpfs):
    run = small_tmpfs / "run"
    first = _train(run, corpus, "--steps", "1", "--checkpoint-every", "1")
    assert first.returncode == 0, first.stderr
    kept = files(run)["step-0000001.safetensors"]
    filler = small_tmpfs / "filler"
    with open(filler, "wb") as f:  # leave less room than one checkpoint (~90 kB)
        free = shutil.disk_usage(small_tmpfs).free
        f.write(b"\0" * max(free - 20_000, 0))
    line = refused(_train(run, corpus, "--resume", "--steps", "3", "--checkpoint-every", "1"),
                   "step-0000002.safetensors", "step 2 was not saved", status=1)
    assert "no space" in line.lower()
    after = files(run)
    assert after["step-0000001.safetensors"] == kept
    assert not [n for n in after if ".tmp-" in n]
    assert load_checkpoint(run / "step-0000001.safetensors").step == 1


def _rewrite(path: Path, meta=None, tensors=None) -> None:
    """Rewrite a checkpoint by hand, as a hostile user would: its JSON metadata or its tensors."""
    with safe_open(str(path), framework="pt") as f:
        header = f.metadata()
        data = {name: f.get_tensor(name) for name in f.keys()}
    document = json.loads(header["musictui"])
    if meta is not None:
        document = meta(document)
    if tensors is not None:
        data = tensors(data)
    save_file(data, str(path), metadata={"musictui": json.dumps(document)})
