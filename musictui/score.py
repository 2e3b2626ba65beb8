"""The score: a tune as staff notation, drawn by abcm2ps into an SVG file, or a PNG for the app.
No textual here (nor textual-image): the app's score screen calls these from a worker thread.

abcm2ps (Debian package `abcm2ps`) reads the ABC and writes one SVG per tune with `-g`. It runs in
a temporary folder, and the SVG is moved into place only when whole, so a failed render never
leaves a half file where the user asked for one. What abcm2ps says about the tune (a bar too long,
an unknown symbol) comes back as warnings: it still draws what it can, as a musician would want.

The PNG (`render_png`, `cached_png`) is the SVG rasterised by rsvg-convert (Debian package
`librsvg2-bin`): a small C tool beside the librsvg that most desktops already carry, installed by
apt like abcm2ps, where cairosvg would need libcairo2 from apt *and* a pip package, and the EPS →
ghostscript road a 30 MB interpreter. abcm2ps draws it with the page margins cut (the SVG's height
is already the music's), so the picture is the music edge to edge and fits a terminal pane.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from musictui.errors import UserError
from musictui.outputs import put_whole

TIMEOUT_S = 30
PNG_ZOOM = 1.5  # rsvg-convert's scale: the 18 cm staff becomes ~1040 px, sharp at the full width of a
                # wide kitty or sixel terminal, and a PNG of ~40 KB that Pillow decodes in milliseconds
# abcm2ps's format parameters for the picture: no page margins around the music, the staff as wide as
# the printed page's (so a tune breaks into the same lines as in the exported SVG).
TIGHT = ("--leftmargin", "0.2cm", "--rightmargin", "0.2cm", "--topmargin", "0cm", "--botmargin", "0cm",
         "--pagewidth", "18.4cm")
MAX_CACHED = 200  # pictures kept by cached_png: ~40 KB each, so a few MB at most


class ScoreError(UserError):
    """abcm2ps is missing, or drew nothing from the tune."""


@dataclass
class Score:
    svg_path: Path
    warnings: list[str] = field(default_factory=list)  # abcm2ps's own lines about the tune


@dataclass
class Picture:
    png_path: Path
    warnings: list[str] = field(default_factory=list)  # abcm2ps's own lines about the tune


def _tools(*names: str) -> list[str]:
    """The paths of these programs, or one ScoreError naming every missing one and its Debian package."""
    packages = {"abcm2ps": "abcm2ps", "rsvg-convert": "librsvg2-bin"}
    found = {name: shutil.which(name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        needed = " ".join(packages[name] for name in missing)
        raise ScoreError(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed: install "
                         f"the Debian package{'s' * (len(missing) > 1)} {needed} "
                         f"(sudo apt install {needed}; make setup does it)")
    return [found[name] for name in names]


def render_svg(abc_text: str, svg_path: Path | str, timeout: float = TIMEOUT_S, margins: bool = True) -> Score:
    """Draw the first tune of `abc_text` as staff notation into `svg_path` (an SVG file).
    `margins=False` leaves out the page's margins (for a picture on screen rather than a page)."""
    [abcm2ps] = _tools("abcm2ps")
    svg_path = Path(svg_path)
    with tempfile.TemporaryDirectory(prefix="musictui-score-") as folder:
        work = Path(folder)
        (work / "tune.abc").write_text(abc_text.rstrip("\n") + "\n", encoding="utf-8")
        try:
            # -g: SVG, one file per tune; -O: the name's stem (abcm2ps adds 001, 002…)
            layout = () if margins else TIGHT
            done = subprocess.run([abcm2ps, "-g", *layout, "-O", "score.svg", "tune.abc"], cwd=work, capture_output=True,
                                  text=True, errors="replace", stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ScoreError(f"abcm2ps took longer than {timeout:g} s and was stopped") from None
        said = (done.stdout + done.stderr).splitlines()
        warnings = [re.sub(r"^tune\.abc:", "line ", line) for line in said
                    if re.match(r"^tune\.abc:\d+", line)]
        pages = sorted(work.glob("score*.svg"))
        if not pages:
            why = warnings[0] if warnings else (said[-1] if said else f"exit status {done.returncode}")
            raise ScoreError(f"abcm2ps drew no score from the tune ({why})")
        put_whole(pages[0], svg_path)
    return Score(svg_path, warnings)


def render_png(abc_text: str, png_path: Path | str, zoom: float = PNG_ZOOM, timeout: float = TIMEOUT_S) -> Picture:
    """Draw the first tune of `abc_text` into `png_path`: black on white, no page margins."""
    abcm2ps, rsvg = _tools("abcm2ps", "rsvg-convert")  # both checked before any work
    png_path = Path(png_path)
    with tempfile.TemporaryDirectory(prefix="musictui-picture-") as folder:
        score = render_svg(abc_text, Path(folder) / "score.svg", timeout, margins=False)
        drawn = Path(folder) / "score.png"
        try:
            # The SVG has no background: white behind it, or a dark terminal shows black on black.
            done = subprocess.run([rsvg, "--background-color", "white", "--zoom", f"{zoom:g}", "--format", "png",
                                   "--output", str(drawn), str(score.svg_path)], capture_output=True, text=True,
                                  errors="replace", stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ScoreError(f"rsvg-convert took longer than {timeout:g} s and was stopped") from None
        if done.returncode != 0 or not drawn.exists():
            said = done.stderr.strip().splitlines()
            raise ScoreError(f"rsvg-convert could not draw the score ({said[-1] if said else done.returncode})")
        put_whole(drawn, png_path)
    return Picture(png_path, score.warnings)


def cached_png(abc_text: str, folder: Path | str, max_kept: int = MAX_CACHED) -> Picture:
    """The tune's picture from `folder` if this very text was drawn before, else drawn now and kept.
    abcm2ps's warnings are kept beside it (NAME.txt), so a picture from the cache says the same."""
    folder = Path(folder)
    # The key covers how it is drawn too: a change of zoom or layout must not show an old picture.
    key = hashlib.sha256(f"{PNG_ZOOM} {TIGHT}\n{abc_text}".encode()).hexdigest()[:24]
    png_path, notes = folder / f"score-{key}.png", folder / f"score-{key}.txt"
    if png_path.exists() and notes.exists():
        os.utime(png_path)  # recently used: pruned last
        return Picture(png_path, notes.read_text(encoding="utf-8").splitlines())
    folder.mkdir(parents=True, exist_ok=True)
    picture = render_png(abc_text, png_path)
    notes.write_text("".join(line + "\n" for line in picture.warnings), encoding="utf-8")
    _prune(folder, max_kept, keep=png_path)
    return picture


def _prune(folder: Path, max_kept: int, keep: Path) -> None:
    """Remove the least recently used pictures (and their notes) beyond `max_kept`."""
    pictures = []
    for path in folder.glob("score-*.png"):
        try:
            pictures.append((path.stat().st_mtime, path))
        except OSError:  # removed meanwhile by another instance of the app
            continue
    for _, path in sorted(pictures)[:max(0, len(pictures) - max_kept)]:
        if path != keep:
            path.unlink(missing_ok=True)
            path.with_suffix(".txt").unlink(missing_ok=True)
