"""Under CI=true a test that skips for a missing program fails (the rule lives in conftest.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

SAMPLE = '''
import shutil
import pytest

@pytest.mark.skipif(shutil.which("no-such-program") is None, reason="abc2midi not installed")
def test_old_style_skip_for_a_tool():
    pass

@pytest.mark.needs_tool("no-such-program-xyz")
def test_marker():
    pass

@pytest.mark.skipif(True, reason="only on Tuesdays")
def test_other_skip():
    pass

@pytest.mark.needs_tool("sh")
def test_present_tool():
    pass
'''


# Under CI the two tool skips fail at set-up (pytest counts them as errors: the run fails); the
# skip for another reason stays a skip.
@pytest.mark.parametrize("ci, outcome", [("true", "1 passed, 1 skipped, 2 errors"), ("", "1 passed, 3 skipped")])
def test_a_skip_for_a_missing_program_fails_only_in_ci(tmp_path, ci, outcome):
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "CI": ci, "PYTHONPATH": str(TESTS)}
    # -p conftest: this project's conftest.py as a plugin, for a test folder of its own.
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-q", "-p", "no:cacheprovider",
                          "test_sample.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert outcome in out.stdout, out.stdout + out.stderr
    assert (out.returncode != 0) == bool(ci)
