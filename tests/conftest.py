"""Shared fixtures: the real corpus, and a tiny trained checkpoint made once per test session.

Also the rule for tests that need a program (abc2midi, timidity, sox's play, tmux): on a
developer's machine without it they skip, but under CI=true (set by .ci/run) a skip for a missing
program is a failure, since set-up installs them: a CI run must never pass by skipping the real parts.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

# Programs scripts/setup.sh installs. A skip whose reason names one of them fails under CI=true,
# so the existing `skipif(shutil.which(...) is None, reason="abc2midi not installed")` marks count too.
SETUP_TOOLS = ("abc2midi", "timidity", "play", "sox", "tmux")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_tool(*names): needs these programs on PATH; "
                                       "skipped without them, failed under CI=true")


def pytest_runtest_setup(item):
    for mark in item.iter_markers("needs_tool"):
        missing = [name for name in mark.args if shutil.which(name) is None]
        if missing:
            reason = f"needs {', '.join(missing)} on PATH (scripts/setup.sh installs it)"
            if in_ci():
                pytest.fail(f"CI=true and {reason}", pytrace=False)
            pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and in_ci()) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if any(re.search(rf"\b{re.escape(tool)}\b", reason) for tool in SETUP_TOOLS):
        report.outcome = "failed"
        report.longrepr = f"CI=true, but this test skipped for a missing program that set-up installs: {reason}"

# Tests run on 2 cores beside other work; one thread per torch op keeps timings steady.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def corpus():
    from musictui.data import load_corpus

    return load_corpus()


@pytest.fixture(scope="session")
def tiny_config():
    from musictui.model import PRESETS

    return PRESETS["tiny"].override(steps=60, eval_every=30, checkpoint_every=30)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, corpus, tiny_config) -> Path:
    """A `tiny` model trained for a few seconds on the real corpus: enough to produce ABC-looking text."""
    from musictui.train import Trainer

    folder = tmp_path_factory.mktemp("tiny-ckpt")
    trainer = Trainer(corpus, tiny_config.override(steps=300, checkpoint_every=300), folder)
    for _ in trainer.run(log_metrics=False):
        pass
    return folder / "step-0000300.safetensors"
