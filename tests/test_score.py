"""The score, drawn for real by abcm2ps (skipped only where it is not installed)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from musictui.score import ScoreError, render_svg

pytestmark = pytest.mark.skipif(shutil.which("abcm2ps") is None, reason="needs abcm2ps (make setup)")

TUNE = "X:1\nT:The Drawn Reel\nM:4/4\nL:1/8\nK:D\nABcd efga|gfed cBAG|ABcd efga|gfed d4|]\n"


def test_a_tune_becomes_an_svg_score_with_its_title(tmp_path):
    score = render_svg(TUNE, tmp_path / "out" / "reel.svg")
    svg = score.svg_path.read_text()
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag.endswith("svg")
    assert "The Drawn Reel" in svg
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["reel.svg"]  # no temporary left


def test_a_bar_too_long_is_a_warning_and_still_drawn(tmp_path):
    score = render_svg(TUNE.replace("gfed d4|]", "gfed d4 e4|]"), tmp_path / "long.svg")
    assert score.svg_path.exists()


def test_text_with_no_tune_is_one_clear_error_and_nothing_written(tmp_path):
    with pytest.raises(ScoreError, match="abcm2ps drew no score"):
        render_svg("just some words\n", tmp_path / "none.svg")
    assert not list(tmp_path.iterdir())


def test_render_svg_from_the_command_line(tmp_path):
    abc = tmp_path / "reel.abc"
    abc.write_text(TUNE)
    done = subprocess.run([sys.executable, "-m", "musictui", "render", str(abc), "--svg", str(tmp_path / "reel.svg")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"wrote {tmp_path / 'reel.svg'}" in done.stdout
    assert "The Drawn Reel" in (tmp_path / "reel.svg").read_text()
