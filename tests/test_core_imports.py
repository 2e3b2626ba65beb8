"""The layers stay honest: the core never loads textual, and the app's first frame never waits for torch."""
import json
import subprocess
import sys

CORE = ["data", "model", "train", "checkpoint", "sample", "audio", "playback", "notation.tunes",
        "notation.form", "notation.constraints"]


def loaded_after(statement: str) -> dict:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_the_core_imports_without_textual():
    modules = loaded_after("; ".join(f"import musictui.{name}" for name in CORE))
    assert {f"musictui.{name}" for name in CORE} <= modules
    assert not {m for m in modules if m == "textual" or m.startswith("textual.")}


def test_the_app_and_its_command_import_without_torch():
    # torch loads in a worker behind "Loading…": importing it here would delay the first frame by seconds.
    modules = loaded_after("import musictui.cli, musictui.commands.app, musictui.app.app")
    assert "textual" in modules
    assert "torch" not in modules


def test_which_checkpoint_is_decided_without_torch():
    # The app's first frame and --help consult the policy: it must not pull torch in.
    modules = loaded_after("import musictui.runs, musictui.app.sources, musictui.commands.common")
    assert "torch" not in modules


def test_the_ui_reads_a_tunes_settings_without_torch():
    # Tunes are sampled in a process of their own (app/sample_process.py): importing torch in the
    # UI's process at the first n held the screen for 1.75 s.
    modules = loaded_after("from musictui.app.tunes import read_settings; "
                           "read_settings(temperature='1.0', seed='', title='', meter='', key='')")
    assert "musictui.sample_settings" in modules
    assert "torch" not in modules


def test_a_mistake_is_refused_before_torch_loads(tmp_path):
    # Importing torch takes 1.5 s: a wrong corpus, an empty run folder, a damaged checkpoint or a
    # bad option are refused first, at once. Each line below is one such refusal, run in one process.
    header = b'{"__metadata__": {"musictui": "{}"}}'  # safetensors, but not a musictui checkpoint
    (tmp_path / "bad.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    (tmp_path / "empty").mkdir()
    refusals = [
        ["train", "--corpus", "/dev/zero", "--checkpoint-dir", str(tmp_path / "run")],
        ["train", "--resume", "--checkpoint-dir", str(tmp_path / "empty")],
        ["train", "--resume", "--checkpoint-dir", str(tmp_path)],
        ["train", "--init-from", str(tmp_path / "bad.safetensors"), "--checkpoint-dir", str(tmp_path / "run")],
        ["generate", "--checkpoint", str(tmp_path / "bad.safetensors")],
        ["evaluate", "--checkpoint", str(tmp_path / "bad.safetensors")],
        ["evaluate", "--corpus", str(tmp_path / "none.abc")],
        ["train", "--dropout", "2"],
    ]
    statement = "from musictui.cli import main\n" + "".join(
        f"try:\n    assert main({args!r}) == 1\nexcept SystemExit as e:\n    assert e.code == 2\n"
        for args in refusals)
    modules = loaded_after(statement)
    assert "musictui.commands.train" in modules and "musictui.checkpoint_meta" in modules
    assert "torch" not in modules
