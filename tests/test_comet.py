"""`--comet` without an API key: an offline experiment archive holding the run, and no chatter."""
import json
import os
import subprocess
import sys
import zipfile

import pytest

from musictui.errors import UserError


def test_offline_archive_holds_parameters_losses_and_samples(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMET_")}
    env.update(HOME=str(tmp_path), OMP_NUM_THREADS="1", COLUMNS="400")  # HOME: no ~/.comet.config key either
    out = subprocess.run(
        [sys.executable, "-m", "musictui", "train", "--preset", "tiny", "--steps", "10", "--eval-every", "5",
         "--checkpoint-dir", str(tmp_path / "run"), "--comet"],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "COMET INFO" not in out.stdout and "COMET WARNING" not in out.stdout and out.stderr == ""  # Comet stays quiet
    assert f"archived offline in {tmp_path / 'run' / 'comet'}/" in out.stdout

    archives = list((tmp_path / "run" / "comet").glob("*.zip"))
    assert len(archives) == 1 and f"experiment archived in {archives[0]}" in out.stdout
    with zipfile.ZipFile(archives[0]) as archive:
        messages = [json.loads(line) for line in archive.read("messages.json").decode().splitlines()]
    metrics = [m["payload"]["metric"] for m in messages if m["type"] == "metric_msg"]
    assert [m["step"] for m in metrics if m["metricName"] == "loss"] == list(range(1, 11))
    assert [m["step"] for m in metrics if m["metricName"] == "val_loss"] == [5, 10]
    local = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [m["metricValue"] for m in metrics if m["metricName"] == "loss"] == pytest.approx([m["loss"] for m in local], abs=1e-5)
    params = {m["payload"]["param"]["paramName"]: m["payload"]["param"]["paramValue"]
              for m in messages if m["type"] == "parameter_msg"}
    assert params["hidden_size"] == 48 and params["steps"] == 10 and params["world_size"] == 1
    texts = [m["payload"]["additional_params"]["step"] for m in messages
             if m["type"] == "file_upload" and m["payload"]["upload_type"] == "text-sample"]
    assert texts == [5, 10]  # a short generated tune at each evaluation


def test_comet_is_imported_only_when_asked():
    code = ("import sys, musictui.cli, musictui.commands.train, musictui.train, musictui.distributed; "
            "print('comet_ml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


def test_missing_extra_is_one_line(monkeypatch):
    from musictui import comet

    monkeypatch.setitem(sys.modules, "comet_ml", None)  # what an absent package looks like to import
    with pytest.raises(UserError, match=r"install the comet extra: pip install 'musictui\[comet\]'"):
        comet.require()
