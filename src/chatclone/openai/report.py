"""How a fine-tuning job talks to people: plain lines and the job's events, through a reporter.

The job logic (`jobs`, `follow`) never draws anything itself: it hands each line and each event to
the `JobReporter` it was given. `PlainLines` writes them to stderr as a log; the CLI hands a live
display instead (`render.OpenAIJobDisplay`: a progress bar on a terminal).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Protocol, TextIO

_LEVELS = {"warn": "warning: ", "error": "error: "}


class JobEvent(Protocol):
    """What a reporter reads of one of OpenAI's fine-tuning job events."""

    @property
    def created_at(self) -> int: ...
    @property
    def level(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def type(self) -> str | None: ...
    @property
    def data(self) -> object: ...


class JobReporter(Protocol):
    def say(self, text: str) -> None:
        """One line for people, never wrapped: ids and commands in it stay copyable."""
        ...

    def following(self) -> AbstractContextManager[Callable[[JobEvent], None]]:
        """While a job is followed: where each new event goes, oldest first."""
        ...


class PlainLines:
    """Every line and every event as a line on stderr (or `stream`), as a log."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def say(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)

    @contextmanager
    def following(self) -> Iterator[Callable[[JobEvent], None]]:
        yield lambda event: self.say(event_line(event))


def event_line(event: JobEvent) -> str:
    """One event for people: its local time, its level when not info, and OpenAI's message."""
    when = datetime.fromtimestamp(event.created_at).strftime("%H:%M:%S")
    return f"{when} {_LEVELS.get(event.level, '')}{event.message}"
