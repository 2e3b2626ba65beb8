"""The command line: `musictui` opens the app; `musictui COMMAND` runs one part of the core headless.

Each subcommand lives in `musictui/commands/<name>.py` with two functions, `add_arguments(parser)`
and `run(args) -> int`. They are imported only when chosen, so that `musictui --help` and the app's
first frame never wait for torch.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from musictui.errors import UserError

# name -> one-line help. The module musictui.commands.<name> implements it.
COMMANDS = {
    "app": "open the terminal app (the default)",
    "train": "train the LSTM on the folk-tune corpus",
    "generate": "sample new tunes from a checkpoint, streaming them to stdout",
    "render": "turn an ABC tune into MIDI and WAV (abc2midi, timidity)",
    "play": "render an ABC tune if needed and play it",
    "evaluate": "measure how good a checkpoint's tunes are",
    "bench": "measure training and generation speed against the lab's loop",
    "export": "write a weights-only copy of a checkpoint, to share or to ship",
    "tunes": "the tune book: list, show, export, play or star the tunes kept so far",
    "corpus": "list the named corpora (irish, folk) with their tune and character counts",
}


class Parser(argparse.ArgumentParser):
    """argparse, with two changes: a mistake is one line (the problem and where help is), not the
    usage block and then the problem; and no abbreviations, so that `--checkpoint` is never taken
    for `--checkpoint-dir` (a prefix of an option is an unknown option, not that option)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser(load_commands: list[str] | None = None) -> argparse.ArgumentParser:
    parser = Parser(prog="musictui", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")  # its parsers are Parsers too
    for name, help_text in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if load_commands is None or name in load_commands:
            _command_module(name).add_arguments(sub)
    return parser


def _command_module(name: str):
    return importlib.import_module(f"musictui.commands.{name}")


def main(argv: list[str] | None = None) -> int:
    # Started with stdout or stderr closed (`musictui generate --out t.abc >&-`), Python holds None
    # there and the first print is a traceback. What would be printed goes nowhere; --out still saves.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv.insert(0, "app")  # `musictui --preset tiny` means the app with that option
    # Only the chosen command's arguments are needed (and imported): keeps start-up fast.
    chosen = argv[0] if argv[0] in COMMANDS else None
    parser = build_parser(load_commands=[chosen] if chosen else [])
    args = parser.parse_args(argv)
    try:
        return _command_module(args.command).run(args) or 0
    except UserError as error:
        print(f"musictui: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader of our output left (`musictui generate | head`): it has what it wanted. Say
        # nothing, as cat and grep do, and exit as they would by SIGPIPE (128 + 13). Our stdout goes
        # to /dev/null first, or Python's own flush at exit would complain of the pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as error:
        # A path the user gave that cannot be written or read (a folder where a file should be,
        # no permission, a full disk): one line naming it, as for every other user mistake.
        where = f"{error.filename}: " if error.filename else ""
        print(f"musictui: {where}{error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Commands that have work to save catch this themselves; here there is nothing to lose.
        print("musictui: interrupted", file=sys.stderr)
        return 130
