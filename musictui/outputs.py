"""What a command may write: never over one of its inputs, and over an existing file only with --force.

`render a.abc -o a.abc` used to turn the tune into a WAV, `export A A` wrote a checkpoint over
itself, and `generate --out tunes.abc` replaced yesterday's tunes without a word. Each command
checks its outputs here before it does any work, so a refusal costs nothing.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from musictui.errors import UserError


def same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file (through links, `..` or another spelling)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(os.path.abspath(a)) == Path(os.path.abspath(b))


def check_output(path: Path | None, inputs: list[Path] = (), force: bool = False,
                 option: str = "the output") -> None:
    """Refuse to write `path` over any of `inputs`, or over an existing file without `force`."""
    if path is None:
        return
    path = Path(path)
    for source in inputs:
        if source is not None and same_file(path, source):
            raise UserError(f"{option} {path} is the input {source}: writing it would destroy the input; "
                            "choose another name")
    if path.is_dir():
        raise UserError(f"{option} {path} is a folder: give a file name")
    if path.exists() and not force:
        raise UserError(f"{path} already exists: pass --force to overwrite it, or choose another name")


def check_outputs(outputs: dict[str, Path | None], inputs: list[Path], force: bool) -> None:
    """`outputs` maps an option (`-o`, `--midi`) to its path; two outputs may not be one file either."""
    given = [(option, Path(path)) for option, path in outputs.items() if path is not None]
    for i, (option, path) in enumerate(given):
        check_output(path, inputs, force, option)
        for other_option, other in given[i + 1:]:
            if same_file(path, other):
                raise UserError(f"{option} and {other_option} are the same file ({path}): give each its own")


def put_whole(source: Path, target: Path) -> None:
    """Copy `source` to `target` whole: a reader never sees half a file (os.replace is atomic),
    and a failed copy leaves neither a half file nor its temporary behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)  # after a failed replace (target is a folder, say)
