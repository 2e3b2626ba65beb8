"""The score: a tune as staff notation, drawn by abcm2ps into an SVG file. No textual here.

abcm2ps (Debian package `abcm2ps`) reads the ABC and writes one SVG per tune with `-g`. It runs in
a temporary folder, and the SVG is moved into place only when whole, so a failed render never
leaves a half file where the user asked for one. What abcm2ps says about the tune (a bar too long,
an unknown symbol) comes back as warnings: it still draws what it can, as a musician would want.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from musictui.errors import UserError

TIMEOUT_S = 30


class ScoreError(UserError):
    """abcm2ps is missing, or drew nothing from the tune."""


@dataclass
class Score:
    svg_path: Path
    warnings: list[str] = field(default_factory=list)  # abcm2ps's own lines about the tune


def render_svg(abc_text: str, svg_path: Path | str, timeout: float = TIMEOUT_S) -> Score:
    """Draw the first tune of `abc_text` as staff notation into `svg_path` (an SVG file)."""
    abcm2ps = shutil.which("abcm2ps")
    if abcm2ps is None:
        raise ScoreError("abcm2ps is not installed: install the Debian package abcm2ps "
                         "(sudo apt install abcm2ps; make setup does it)")
    svg_path = Path(svg_path)
    with tempfile.TemporaryDirectory(prefix="musictui-score-") as folder:
        work = Path(folder)
        (work / "tune.abc").write_text(abc_text.rstrip("\n") + "\n", encoding="utf-8")
        try:
            # -g: SVG, one file per tune; -O: the name's stem (abcm2ps adds 001, 002…)
            done = subprocess.run([abcm2ps, "-g", "-O", "score.svg", "tune.abc"], cwd=work, capture_output=True,
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
        svg_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = svg_path.with_name(f".{svg_path.name}.tmp-{os.getpid()}")
        shutil.copyfile(pages[0], temporary)
        os.replace(temporary, svg_path)  # whole or not at all
    return Score(svg_path, warnings)
