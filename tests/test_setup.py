"""A pip user without the corpus is told the exact command, and it is the one set-up runs."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from musictui import data
from musictui.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def test_missing_corpus_names_the_exact_command_for_this_python(monkeypatch):
    monkeypatch.setattr(data, "CORPUS_PACKAGE", "mitdeeplearning-not-installed")  # a real, failing lookup
    with pytest.raises(UserError) as caught:
        data.default_corpus_path()
    message = str(caught.value)
    assert f"run `{sys.executable} -m pip install --no-deps mitdeeplearning==0.7.5`" in message, message
    assert "--corpus PATH" in message


def test_the_pin_in_the_message_is_the_one_setup_installs():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert re.search(r"^MITDEEPLEARNING=(\S+)$", setup, re.M).group(1) == data.CORPUS_PIN
    assert data.CORPUS_PIN in (ROOT / "README.md").read_text()  # the README tells pip users the same
