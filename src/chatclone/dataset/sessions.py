"""Splitting a chat into sessions: a new conversation starts after a long silence
(`session_gap`, parsed by `config.parse_duration`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from chatclone.messages import Message


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
