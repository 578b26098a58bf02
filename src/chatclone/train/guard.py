"""Keeping a local run safe: Ctrl-C stops it between steps, and one process trains a run at a time.

The first Ctrl-C only asks the loop to stop after the step in progress, so the checkpoint written
then holds a consistent state (weights, optimizer, schedule and random state all at the same step)
and `--resume` continues exactly. A second Ctrl-C stops at once; the run then resumes from its
last periodic checkpoint.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from chatclone.errors import ChatcloneError

LOCK_FILE = ".lock"


class StopRequest:
    """Set by the first SIGINT while installed (only the main thread can receive signals)."""

    def __init__(self, notify: Any = None) -> None:
        self.requested = False
        self.notify = notify
        self._previous: Any = None

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.notify is not None:
            self.notify("stopping after this step to save a checkpoint (Ctrl-C again to stop now)")


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """An exclusive lock on the run folder for as long as this process trains it."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one process at a time is up to the user
        yield
        return
    with (run_dir / LOCK_FILE).open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ChatcloneError(
                f"{run_dir.name} is being trained by another chatclone process right now"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
