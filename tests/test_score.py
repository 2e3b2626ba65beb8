"""The score, drawn for real by abcm2ps (skipped only where it is not installed)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from musictui.score import ScoreError, cached_png, render_png, render_svg

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


# -- the picture for the app's score screen (abcm2ps, then rsvg-convert) ----------------------------

def _dark_fraction(png_path) -> float:
    from PIL import Image

    with Image.open(png_path) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
    return sum(histogram[:128]) / (grey.width * grey.height)


@pytest.mark.needs_tool("abcm2ps", "rsvg-convert")
def test_a_tune_becomes_a_png_black_on_white_without_page_margins(tmp_path):
    from PIL import Image

    picture = render_png(TUNE, tmp_path / "pics" / "reel.png")
    with Image.open(picture.png_path) as image:
        assert image.format == "PNG"
        width, height = image.size
        corner = image.convert("L").getpixel((width - 1, height - 1))
    assert 600 <= width <= 2000 and 80 <= height <= width  # one line of music: wide, not a page
    assert corner == 255  # white behind the notes, not transparent (black on a dark terminal)
    assert 0.02 < _dark_fraction(picture.png_path) < 0.5  # staves and notes drawn, not a blank page
    assert [p.name for p in (tmp_path / "pics").iterdir()] == ["reel.png"]  # no temporary left


@pytest.mark.needs_tool("abcm2ps", "rsvg-convert")
def test_the_picture_has_no_page_margins_unlike_the_exported_svg(tmp_path):
    # The music reaches near the picture's left edge: the page margin (1.78 cm, ~100 px) is cut.
    from PIL import Image

    picture = render_png(TUNE, tmp_path / "reel.png")
    with Image.open(picture.png_path) as image:
        grey = image.convert("L")
        left = grey.point(lambda v: 255 if v < 128 else 0).getbbox()[0]  # first column with ink
    assert left < 0.02 * grey.width
    page = ET.fromstring(render_svg(TUNE, tmp_path / "page.svg").svg_path.read_text())
    tight = ET.fromstring(render_svg(TUNE, tmp_path / "tight.svg", margins=False).svg_path.read_text())
    assert float(tight.get("width").removesuffix("px")) < float(page.get("width").removesuffix("px"))


@pytest.mark.needs_tool("abcm2ps", "rsvg-convert")
def test_a_picture_is_drawn_once_per_tune_text_and_the_cache_stays_bounded(tmp_path):
    first = cached_png(TUNE, tmp_path)
    drawn_at = first.png_path.stat().st_mtime_ns
    again = cached_png(TUNE, tmp_path)
    assert again.png_path == first.png_path and again.png_path.stat().st_mtime_ns >= drawn_at
    other = cached_png(TUNE.replace("The Drawn Reel", "Another Reel"), tmp_path)
    assert other.png_path != first.png_path
    # A bar too long: abcm2ps's warning comes back from the cache as from the first drawing.
    long = TUNE.replace("gfed d4|]", "gfed d4 e4|]")
    warned = cached_png(long, tmp_path).warnings
    assert cached_png(long, tmp_path).warnings == warned
    os.utime(first.png_path, (1, 1))  # the least recently used
    cached_png(TUNE.replace("The Drawn Reel", "A Third Reel"), tmp_path, max_kept=3)
    names = {p.name for p in tmp_path.iterdir()}
    assert first.png_path.name not in names and first.png_path.with_suffix(".txt").name not in names
    assert len([n for n in names if n.endswith(".png")]) == 3


@pytest.mark.needs_tool("abcm2ps", "rsvg-convert")
def test_no_tune_gives_one_clear_error_and_no_picture(tmp_path):
    with pytest.raises(ScoreError, match="abcm2ps drew no score"):
        render_png("just some words\n", tmp_path / "none.png")
    assert not list(tmp_path.iterdir())


def test_a_missing_converter_names_its_debian_package(tmp_path, monkeypatch):
    # PATH with abcm2ps only (a link to the real one, if installed): rsvg-convert is not found.
    real = shutil.which("abcm2ps")
    if real:
        os.symlink(real, tmp_path / "abcm2ps")
    monkeypatch.setenv("PATH", str(tmp_path))
    match = "rsvg-convert is not installed: install the Debian package librsvg2-bin" if real else \
        "abcm2ps and rsvg-convert are not installed: install the Debian packages abcm2ps librsvg2-bin"
    with pytest.raises(ScoreError, match=match):
        render_png(TUNE, tmp_path / "reel.png")
    assert not (tmp_path / "reel.png").exists()


def test_the_score_module_loads_neither_textual_nor_textual_image():
    code = "import sys, musictui.score; print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_image')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
