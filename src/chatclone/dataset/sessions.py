"""Splitting a chat into sessions: a new conversation starts after a long silence."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from chatclone.errors import ChatcloneError
from chatclone.messages import Message

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)", re.I)
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """`90m`, `3h`, `1h30m`, `2d`, `45s` → a timedelta."""
    parts = _DURATION.findall(text)
    if not parts or _DURATION.sub("", text).strip():
        raise ChatcloneError(f"'{text}' is not a duration; write it like 90m, 3h, 1h30m or 2d")
    total = timedelta()
    for amount, unit in parts:
        total += timedelta(**{_UNITS[unit.lower()]: float(amount)})
    if total <= timedelta(0):
        raise ChatcloneError(f"'{text}': the session gap must be longer than zero")
    return total


def split_sessions(messages: Iterable[Message], gap: timedelta) -> Iterator[list[Message]]:
    """Consecutive runs of one chat's messages (in time order) with no silence longer than `gap`."""
    session: list[Message] = []
    previous: datetime | None = None
    for m in messages:
        at = datetime.fromisoformat(m.ts)
        if previous is not None and at - previous > gap:
            yield session
            session = []
        session.append(m)
        previous = at
    if session:
        yield session
