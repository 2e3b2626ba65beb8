"""What a command may write: never over one of its inputs, a device or a pipe, and over an existing
file only with --force.

`render a.abc -o a.abc` used to turn the tune into a WAV, `export A A` wrote a checkpoint over
itself, and `generate --out tunes.abc` replaced yesterday's tunes without a word. Each command
checks its outputs here before it does any work, so a refusal costs nothing.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from musictui.errors import UserError

# The longest file name Linux filesystems (ext4, xfs, btrfs, tmpfs) allow, in bytes.
NAME_MAX = 255


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
    refuse_special_file(path, option)
    if path.exists() and not force:
        raise UserError(f"{path} already exists: pass --force to overwrite it, or choose another name")


def refuse_special_file(path: Path, option: str = "the output") -> None:
    """Refuse a device node, a FIFO or a socket, even with --force: the atomic write would replace
    it with a regular file (a twin of /dev/null became a 700 KB WAV that way)."""
    if path.exists() and not path.is_file() and not path.is_dir():
        raise UserError(f"{option} {path} is not a regular file (a device or a pipe): give a file name")


def temp_name(target_name: str, suffix: str) -> str:
    """`.TARGET_NAME{suffix}`, the hidden temporary an atomic write renames into place; the part
    taken from the target is shortened so the whole fits NAME_MAX (a 250-byte name is allowed,
    its temporary must be too)."""
    room = NAME_MAX - len(os.fsencode(f".{suffix}"))
    name = target_name
    while len(os.fsencode(name)) > room:
        name = name[:-1]  # whole characters, so the temporary's name stays valid UTF-8
    return f".{name}{suffix}"


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
    refuse_special_file(target)  # `tunes export` reaches here without check_output
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(temp_name(target.name, f".{os.getpid()}.partial"))
    try:
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    except OSError as error:
        name_target(error, partial, target)
        raise
    finally:
        remove_temp(partial)  # after a failed replace (target is a folder, say)


def write_whole(target: Path, text: str) -> None:
    """Write `text` to `target` whole, as put_whole copies: a full disk leaves the file that was
    there (the user's own tunes, under --force) as it was, never half replaced."""
    refuse_special_file(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(temp_name(target.name, f".{os.getpid()}.partial"))
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    except OSError as error:
        name_target(error, partial, target)
        raise
    finally:
        remove_temp(partial)


def name_target(error: OSError, partial: Path, target: Path) -> None:
    """Make `error` name the user's file: "t.wav: Read-only file system". Not our hidden temporary
    (open() names it), and not nothing (a write that finds the disk full names no file)."""
    if error.filename is None or str(partial) in (str(error.filename), str(error.filename2)):
        error.filename, error.filename2 = str(target), None


def remove_temp(partial: Path) -> None:
    """Remove an atomic write's temporary if it is there. Looking first matters: on a read-only
    filesystem unlink says EROFS even for a name that is not there, and that error would hide
    the real one (and name our hidden file instead of the user's)."""
    if os.path.lexists(partial):
        partial.unlink()
