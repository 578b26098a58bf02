"""Splitting a chat into sessions: a new conversation starts after a long silence
(`session_gap`, parsed by `config.parse_duration`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from chatclone.messages import Message


def split_sessions(messages: Iterable[Message], gap: timedelta) -> Iterator[list[Message]]:
    """Consecutive runs of one chat's messages (in time order) with no silence longer than `gap`."""
    # Two messages in the same hour (`2024-03-14T19`) are less than an hour apart: with a gap of
    # an hour or more their times need not be parsed (most of a chat's messages).
    hourly = gap >= _HOUR
    session: list[Message] = []
    previous_ts: str | None = None
    previous: datetime | None = None  # previous_ts parsed, where it was
    for m in messages:
        ts = m.ts
        if previous_ts is not None and (
            not hourly or ts[:13] != previous_ts[:13] or len(ts) > _NAIVE_ISO
        ):
            at = datetime.fromisoformat(ts)
            if previous is None:
                previous = datetime.fromisoformat(previous_ts)
            if at - previous > gap:
                yield session
                session = []
            previous = at
        elif ts != previous_ts:
            previous = None
        session.append(m)
        previous_ts = ts
    if session:
        yield session


_HOUR = timedelta(hours=1)
_NAIVE_ISO = len("2024-03-14T19:05:59.999999")  # longer: an offset, for which the hour test is off
