"""Training on two processes with gloo, as torchrun runs it: same weights on both ranks, one
checkpoint per save, each rank its own batch rows, a stop on one rank stops both, resume."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

from musictui.checkpoint import load_checkpoint
from musictui.distributed import Ranks

# Each rank runs this with torchrun's environment set by hand. It trains `tiny` for 10 steps
# straight, then again stopping at step 5 (asked on rank 1 only) and resuming from the checkpoint,
# and writes what the test compares.
WORKER = r"""
import json, sys, threading
from pathlib import Path
import torch
from musictui import distributed
from musictui.checkpoint import load_checkpoint
from musictui.data import load_corpus
from musictui.model import PRESETS
from musictui.train import Trainer

out = Path(sys.argv[1])
ranks = distributed.Ranks.from_env()
device = distributed.join(ranks, torch.device("cpu"))
corpus = load_corpus()
cfg = PRESETS["tiny"].override(steps=10, eval_every=5, checkpoint_every=5)

straight = Trainer(corpus, cfg, out / "straight", ranks=ranks)
metrics = list(straight.run())

stop = threading.Event()
first = Trainer(corpus, cfg, out / "resumed", ranks=ranks)
for m in first.run(stop, log_metrics=False):
    if m.step == 4 and ranks.rank == 1:
        stop.set()  # the other rank must stop after the same step, or the next step would hang
first.save()
second = Trainer(corpus, cfg, out / "resumed", ranks=ranks, resume_from=load_checkpoint(out / "resumed" / "step-0000004.safetensors"))
rest = list(second.run(log_metrics=False))

torch.save({k: v.clone() for k, v in straight.model.state_dict().items()}, out / f"weights-{ranks.rank}.pt")
(out / f"report-{ranks.rank}.json").write_text(json.dumps({
    "losses": straight.train_losses, "val": straight.val_losses,
    "checkpoints": [str(m.checkpoint) for m in metrics if m.checkpoint],
    "first_steps": first.step, "resumed_losses": second.train_losses,
}))
distributed.leave()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ranks_from_torchruns_environment():
    assert Ranks.from_env({}) == Ranks(0, 0, 1) and not Ranks.from_env({}).distributed
    ranks = Ranks.from_env({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4"})
    assert ranks == Ranks(3, 1, 4) and ranks.distributed and not ranks.is_main


@pytest.mark.slow
def test_two_gloo_ranks_train_as_one_process_with_twice_the_batch(tmp_path, corpus):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    port = free_port()
    procs = [
        subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, env={**os.environ, "RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": "2",
                                         "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"})
        for r in range(2)
    ]
    for proc in procs:
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, output

    w0, w1 = (torch.load(tmp_path / f"weights-{r}.pt") for r in range(2))
    for name in w0:
        assert torch.equal(w0[name], w1[name]), name
    r0, r1 = (json.loads((tmp_path / f"report-{r}.json").read_text()) for r in range(2))
    assert r0["losses"] == r1["losses"] and r0["val"] == r1["val"]  # all-reduced: every rank the same
    # One checkpoint per save step, written by rank 0 alone; every rank knows its path.
    assert sorted(p.name for p in (tmp_path / "straight").iterdir()) == [
        "metrics.jsonl", "step-0000005.safetensors", "step-0000010.safetensors"]
    assert r0["checkpoints"] == r1["checkpoints"] == [str(tmp_path / "straight" / f"step-00000{s:02d}.safetensors") for s in (5, 10)]
    assert (tmp_path / "straight" / "metrics.jsonl").read_text().count("\n") == 10
    saved = load_checkpoint(tmp_path / "straight" / "step-0000010.safetensors")
    assert all(torch.equal(saved.model_state[k], w0[k]) for k in w0)

    # A stop asked on one rank stops both after the same step; the resumed run has the same curve.
    assert r0["first_steps"] == r1["first_steps"] == 4
    assert r0["resumed_losses"] == r0["losses"]

    # Different rows per rank: two ranks of batch 8 take the steps of one process with batch 16.
    from musictui.model import PRESETS
    from musictui.train import Trainer

    cfg = PRESETS["tiny"].override(steps=10, eval_every=5, checkpoint_every=100, batch_size=16)
    single = Trainer(corpus, cfg, tmp_path / "single")
    for _ in single.run(log_metrics=False):
        pass
    assert single.train_losses == pytest.approx(r0["losses"], rel=1e-4)
    for name, value in single.model.state_dict().items():
        torch.testing.assert_close(value, w0[name], rtol=1e-4, atol=1e-5)


def torchrun(*args, **kwargs):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
               "-m", "musictui", "train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "400"}  # COLUMNS: Rich must not wrap the lines we read
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kwargs)


@pytest.mark.slow
def test_musictui_train_under_torchrun_resumes_and_stops_on_ctrl_c(tmp_path):
    base = ["--preset", "tiny", "--checkpoint-dir", str(tmp_path), "--eval-every", "5"]
    out, err = torchrun(*base, "--steps", "10", "--checkpoint-every", "5").communicate(timeout=300)
    assert "Done: step 10" in out, err
    assert out.count("Training on") == 1 and "2 processes (torchrun)" in out  # rank 0 alone prints
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == ["step-0000005.safetensors", "step-0000010.safetensors"]
    assert load_checkpoint(tmp_path / "step-0000010.safetensors").extra["world_size"] == 2

    # Resume, then Ctrl+C: torchrun passes SIGINT on, both ranks stop at one step, rank 0 saves it.
    proc = torchrun(*base, "--resume", "--steps", "1000000", "--checkpoint-every", "1000000", start_new_session=True)
    metrics = tmp_path / "metrics.jsonl"
    deadline = time.time() + 120
    while metrics.read_text().count("\n") < 30:
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)  # what the terminal sends torchrun on Ctrl+C
    out, err = proc.communicate(timeout=120)
    assert "resuming at step 10" in out
    assert "Stopped at step" in out and out.count("Stopped at step") == 1, err
    assert "Traceback" not in out
    step = int(out.split("Stopped at step ")[1].split(":")[0])
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(("step-00000", ".musictui.lock"))) == ["metrics.jsonl"]
    ckpt = load_checkpoint(tmp_path / f"step-{step:07d}.safetensors")
    assert ckpt.step == step and len(ckpt.train_losses) == step
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [m["step"] for m in lines] == list(range(1, step + 1))  # one writer, no step twice
