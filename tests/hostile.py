"""The hostile-input matrix's helper: run `musictui` as a user would and check how it refuses.

Every case of tests/test_hostile_*.py runs a real `musictui` process (real files, real signals)
and checks the four things issue 12 asks of a refusal: the exit status, exactly one line of
message on stderr naming the problem, no "Traceback" anywhere, and the files on disk as they
should be (`files` before and after: nothing a user made is lost or changed).
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def musictui(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 180,
             stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    """Run `python -m musictui ARGS` to the end; XDG_CACHE_HOME defaults to a folder beside cwd."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "musictui", *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, stdin=stdin)


def start(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    """Start `musictui ARGS` in its own session (so a signal reaches it alone), output piped."""
    return subprocess.Popen([sys.executable, "-m", "musictui", *map(str, args)], cwd=cwd,
                            env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def refused(result: subprocess.CompletedProcess, *words: str, status: int | tuple = (1, 2)) -> str:
    """Assert `result` is one clear refusal; return its one line. `words` must all be in it."""
    statuses = (status,) if isinstance(status, int) else status
    said = result.stdout + result.stderr
    assert "Traceback" not in said, said
    assert result.returncode in statuses, (result.returncode, said)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    line = lines[0]
    assert line.startswith("musictui"), line
    for word in words:
        assert word.lower() in line.lower(), (word, line)
    return line


def files(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative name -> sha256), to compare before and after."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".musictui.lock"}  # holds a PID


def wait_for_lines(path: Path, lines: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    """Wait until `path` (a metrics.jsonl) has `lines` lines, failing if `proc` ends first."""
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().count("\n") >= lines):
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode} early: {proc.communicate()}")
        assert time.monotonic() < deadline, f"{path} never reached {lines} lines"
        time.sleep(0.05)


def signal_and_wait(proc: subprocess.Popen, signum: int = signal.SIGTERM, timeout: float = 90):
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
