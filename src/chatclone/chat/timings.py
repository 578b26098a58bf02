"""Where a chat's time to its first word goes, for `benchmarks/first_word.py`.

With `CHATCLONE_TIMINGS=1` in the environment, `chat --once` writes one line to stderr when the
first piece of the reply arrives: `chatclone-timings {JSON}`, the wall-clock time (`time.time()`)
of each step so far, so a caller that noted when it started the process can tell how long each
took. Without the variable nothing is recorded or written.
"""

from __future__ import annotations

import json
import os
import sys
import time

ENV_VAR = "CHATCLONE_TIMINGS"
PREFIX = "chatclone-timings "

_marks: dict[str, float] = {}


def enabled() -> bool:
    return os.environ.get(ENV_VAR, "") not in ("", "0")


def mark(step: str) -> None:
    """Note that `step` ended now (the first time only)."""
    if enabled():
        _marks.setdefault(step, time.time())


def report() -> None:
    """Write the steps noted so far to stderr, once."""
    if enabled() and "reported" not in _marks:
        _marks["reported"] = time.time()
        _marks["cpu_s"] = time.process_time()  # this process's CPU so far, all threads
        sys.stderr.write(PREFIX + json.dumps(_marks) + "\n")
        sys.stderr.flush()


def parse(line: str) -> dict[str, float] | None:
    """The steps of a `report()` line; None for any other line."""
    if not line.startswith(PREFIX):
        return None
    data = json.loads(line[len(PREFIX) :])
    return {str(k): float(v) for k, v in data.items()}
