"""`pip install .` (not editable) gives a working musictui anywhere: the shipped model travels in the wheel.

The wheel is built from a copy of the source (so no build/ folder lands in the checkout) and
installed with --no-deps into a fresh venv that sees this venv's packages through a .pth line, so
nothing is downloaded. The command then runs from an empty folder, where no source tree can help it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*cmd, cwd=None, env=None, timeout=600):
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{cmd} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "musictui"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if name == "musictui" else {}))
    dist = tmp_path_factory.mktemp("dist")
    # --no-build-isolation: build with this venv's setuptools instead of downloading one.
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", dist, src)
    (built,) = dist.glob("musictui-*.whl")
    return built


def test_the_wheel_holds_exactly_one_model_and_its_card(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert [n for n in names if n.endswith(".safetensors")] == ["musictui/shipped/folk-keys-512.safetensors"]
    assert "musictui/shipped/README.md" in names
    assert "musictui/app/app.tcss" in names


@pytest.mark.slow
def test_installed_wheel_generates_a_tune_from_an_empty_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    # This venv's torch, numpy, textual... appended after the new venv's own site-packages, so the
    # installed wheel's musictui is the one imported (a plain path line runs none of the editable
    # install's .pth hooks).
    (site / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--quiet", wheel)

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = run(python, "-c", "import musictui; print(musictui.__file__)", cwd=empty, env=env).stdout.strip()
    assert Path(where).is_relative_to(venv), f"musictui came from {where}, not the installed wheel"
    out = run(venv / "bin" / "musictui", "generate", "--tunes", "1", "--seed", "1", cwd=empty, env=env)
    # The model came from the installed package, and it wrote one whole tune.
    assert f"{venv}/lib/" in out.stderr and "shipped/folk-keys-512.safetensors" in out.stderr, out.stderr
    assert "% 1 complete tune(s)" in out.stderr, out.stderr
    assert out.stdout.startswith("X:1\n") and "\nK:" in out.stdout, out.stdout
