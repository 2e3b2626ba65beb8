"""`musictui bench` runs and reports every figure (speed itself is measured by the command, not asserted)."""
import json
import subprocess
import sys


def test_bench_prints_one_json_object_with_every_figure():
    out = subprocess.run([sys.executable, "-m", "musictui", "bench", "--rounds", "1", "--train-steps", "1",
                          "--chars", "30", "--batch", "2"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for key in ("gen_chars_per_s", "gen_meter_aware_chars_per_s", "gen_batched_chars_per_s", "train_chars_per_s"):
        assert result[key] > 0, key
    assert result["sizes"] == {"embedding": 256, "hidden": 1024, "batch": 32, "seq": 100, "vocab": 83}
    assert result["torch_threads"] >= 1 and result["cpu"]
    if result["reference_gen_chars_per_s"] is not None:  # the lab reference sits beside the checkout
        assert result["gen_ratio"] == round(result["gen_chars_per_s"] / result["reference_gen_chars_per_s"], 2)
