"""`musictui bench` runs and reports every figure (speed itself is measured by the command, not asserted)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUICK = ["--rounds", "1", "--train-steps", "1", "--chars", "30", "--batch", "2"]


def bench(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "musictui", "bench", *QUICK, *args],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.slow
def test_bench_prints_every_figure_beside_the_lab_loops_in_the_repository():
    # The default, int8 sampler only: a second run with --precision fp32 cost 17 s of `make test`,
    # and the fp32 sampler itself is checked against nn.LSTM in tests/test_sample.py.
    result = bench()
    for key in ("gen_chars_per_s", "gen_meter_aware_chars_per_s", "gen_batched_chars_per_s", "train_chars_per_s",
                "reference_gen_chars_per_s", "reference_train_chars_per_s"):
        assert result[key] > 0, key
    assert result["gen_precision"] == "int8"
    assert result["sizes"] == {"embedding": 256, "hidden": 1024, "batch": 32, "seq": 100, "vocab": 83}
    assert result["torch_threads"] >= 1 and result["cpu"]
    # Lab-sized weights or random ones, never a model of other sizes (the shipped one has 512 units).
    if not result["gen_model"].startswith("random weights"):
        from musictui.checkpoint import load_checkpoint
        assert load_checkpoint(result["gen_model"]).config.hidden_size == 1024
    # The lab's loops come from this repository, not from anything beside it.
    assert Path(result["reference"]) == ROOT / "benchmarks" / "lab.py"
    assert result["gen_ratio"] == round(result["gen_chars_per_s"] / result["reference_gen_chars_per_s"], 2)
    assert result["train_ratio"] == round(result["train_chars_per_s"] / result["reference_train_chars_per_s"], 2)


def test_a_wrong_reference_path_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "musictui", "bench", "--reference", str(tmp_path / "none.py")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "none.py: no such file" in out.stderr and "Traceback" not in out.stderr


def test_the_lab_loops_are_the_notebooks_model_and_run_alone():
    # Embedding -> LSTM -> Linear, as in the lab; and the script runs without musictui's code paths.
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import lab
    finally:
        sys.path.pop(0)
    model = lab.LSTMModel(83, 8, 16)
    assert [type(m).__name__ for m in model.children()] == ["Embedding", "LSTM", "Linear"]
    x, y = lab.get_batch(lab.np.arange(1000), 10, 4)
    assert x.shape == y.shape == (4, 10) and (y - x == 1).all()
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "lab.py"), "generate", "--chars", "5",
                          "--embedding", "8", "--hidden", "16"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("gen_chars_per_s ") and float(out.stdout.split()[-1]) > 0


def test_a_checkpoint_that_is_not_lab_sized_is_refused_in_one_line():
    # The bench's figures are the lab's sizes: the shipped model (512 units) named is refused,
    # from its header alone (musictui.checkpoint_meta), before any weights are loaded.
    out = subprocess.run([sys.executable, "-m", "musictui", "bench", "--checkpoint", str(ROOT / "musictui" / "shipped")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "not lab-sized (hidden 512)" in out.stderr and len(out.stderr.strip().splitlines()) == 1
