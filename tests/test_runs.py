"""One policy for "which checkpoint" (musictui.runs), and every consumer follows it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from musictui import runs
from musictui.errors import UserError


def touch(path: Path, mtime: float) -> Path:
    path.write_bytes(b"")
    os.utime(path, (mtime, mtime))
    return path


def test_newest_is_by_time_then_name_and_skips_hidden_and_other_files(tmp_path):
    old = touch(tmp_path / "step-0000200.safetensors", 1000)
    new = touch(tmp_path / "step-0000100.safetensors", 2000)  # a lower step, written later: it is newer
    same_time = touch(tmp_path / "step-0000300.safetensors", 2000)
    touch(tmp_path / ".tmp-step-0000400.safetensors", 3000)  # an atomic save in progress
    touch(tmp_path / "notes.txt", 4000)
    assert runs.list_checkpoints(tmp_path) == [old, new, same_time]
    assert runs.newest_checkpoint(tmp_path) == same_time
    assert runs.list_checkpoints(tmp_path / "absent") == []


def test_resolve_order_named_file_then_named_folder_then_checkpoints_then_shipped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shipped = runs.shipped_checkpoint()
    assert shipped is not None and shipped.parent == runs.SHIPPED_DIR
    assert runs.resolve(None) == shipped  # no ./checkpoints here
    mine = Path("checkpoints")
    mine.mkdir()
    assert runs.resolve(None) == shipped  # an empty folder is not a run
    first = touch(mine / "step-0000010.safetensors", 1000)
    assert runs.resolve(None) == first
    other = tmp_path / "other"
    other.mkdir()
    theirs = touch(other / "step-0000005.safetensors", 500)
    assert runs.resolve(other) == theirs  # a folder named wins over ./checkpoints, even if older
    assert runs.resolve(first) == first
    with pytest.raises(UserError, match="checkpoint not found: nowhere"):
        runs.resolve(Path("nowhere"))
    with pytest.raises(UserError, match="no checkpoint in empty"):
        Path("empty").mkdir()
        runs.resolve(Path("empty"))


def test_the_command_line_the_app_and_load_checkpoint_choose_the_same_file(tiny_checkpoint, tmp_path, monkeypatch):
    import shutil

    from musictui.app.sources import NEWEST, SHIPPED, Weights, default_source
    from musictui.checkpoint import load_checkpoint
    from musictui.commands.common import find_checkpoint

    monkeypatch.chdir(tmp_path)
    cache = Weights(Path("checkpoints"))
    assert default_source(Path("checkpoints"), None) == SHIPPED
    assert cache._resolve(SHIPPED) == find_checkpoint(None) == runs.shipped_checkpoint()
    with pytest.raises(UserError, match="no checkpoint in checkpoints yet"):
        cache._resolve(NEWEST)

    Path("checkpoints").mkdir()
    older = Path(shutil.copy(tiny_checkpoint, "checkpoints/step-0000300.safetensors"))
    newer = Path(shutil.copy(tiny_checkpoint, "checkpoints/step-0000100.safetensors"))
    os.utime(older, (1000, 1000))
    os.utime(newer, (2000, 2000))
    assert default_source(Path("checkpoints"), None) == NEWEST
    assert cache._resolve(NEWEST) == find_checkpoint(None) == find_checkpoint(Path("checkpoints")) == newer
    assert cache._resolve("path:checkpoints") == newer
    assert load_checkpoint("checkpoints").path == newer
