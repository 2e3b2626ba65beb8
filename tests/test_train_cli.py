"""`musictui train` as a user runs it: a real process, real signals."""
import signal
import subprocess
import sys
import time

from musictui.checkpoint import load_checkpoint, newest_checkpoint


def musictui(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "musictui", *args], capture_output=True, text=True, timeout=120, **kwargs)


def test_train_tiny_writes_checkpoints_and_reports(tmp_path):
    out = musictui("train", "--preset", "tiny", "--steps", "60", "--checkpoint-every", "25", "--checkpoint-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "Done: step 60" in out.stdout
    assert "step 50/60" in out.stdout  # a plain progress line per evaluation when not on a terminal
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == [
        "step-0000025.safetensors", "step-0000050.safetensors", "step-0000060.safetensors"]
    # a new run in the same folder would overwrite this one's checkpoints: refused
    fresh = musictui("train", "--preset", "tiny", "--steps", "60", "--checkpoint-dir", str(tmp_path))
    assert fresh.returncode == 1 and "already holds a run" in fresh.stderr and "--resume" in fresh.stderr
    # --resume with the same --steps: nothing left to do; a preset or a size given is said to be ignored
    again = musictui("train", "--resume", "--steps", "60", "--preset", "lab", "--hidden-size", "7",
                     "--checkpoint-dir", str(tmp_path))
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert "ignoring preset, hidden_size" in again.stdout


def test_ctrl_c_saves_the_current_step_and_resume_finishes(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "musictui", "train", "--preset", "tiny", "--steps", "1000000",
         "--checkpoint-every", "1000000", "--checkpoint-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "metrics.jsonl"
    deadline = time.time() + 60
    while not (metrics.exists() and metrics.read_text().count("\n") > 20):
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    saved = newest_checkpoint(tmp_path)
    step = load_checkpoint(saved).step
    assert f"Stopped at step {step}: saved" in stdout.replace("\n", "")
    out = musictui("train", "--resume", "--steps", str(step + 10), "--checkpoint-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert load_checkpoint(newest_checkpoint(tmp_path)).step == step + 10


def test_bad_input_is_one_line_and_non_zero(tmp_path):
    (tmp_path / "short.abc").write_text("X:1\nK:C\nCDE|")
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    cases = [
        (["train", "--preset", "tiny", "--corpus", str(tmp_path / "nope.abc")], "corpus not found"),
        (["train", "--preset", "tiny", "--corpus", str(tmp_path / "short.abc"), "--checkpoint-dir", str(tmp_path / "c")],
         "too short for one window"),
        (["train", "--resume", "--checkpoint-dir", str(tmp_path / "empty")], "no checkpoint in"),
        (["train", "--resume", "--checkpoint-dir", str(tmp_path)], "not a readable checkpoint"),
    ]
    (tmp_path / "afile").write_text("")
    cases.append((["train", "--preset", "tiny", "--steps", "2", "--checkpoint-dir", str(tmp_path / "afile")], "afile"))
    # options argparse refuses: its usage line, then the error, exit 2
    for args, message in [(["train", "--dropout", "1.5"], "must be at least 0 and below 1"),
                          (["train", "--lr-schedule", "cosin"], "choose constant or cosine")]:
        out = musictui(*args)
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    for args, message in cases:
        out = musictui(*args)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
