"""The framing both children speak with the app (train_process.py, sample_process.py): one JSON
object per line over a pipe. JSON, not pickle or multiprocessing: nothing read can run code."""
from __future__ import annotations

import json


def write_line(stream, message: dict) -> bool:
    """Write `message` as one line and flush it; False if the other end has gone (the pipe is
    broken, or our end already closed)."""
    try:
        stream.write(json.dumps(message) + "\n")
        stream.flush()
        return True
    except (BrokenPipeError, ValueError):
        return False


def read_lines(stream):
    """Each line of `stream` as a dict, until the other end closes it."""
    for line in stream:
        yield json.loads(line)
