"""A file's messages as the store's rows (`RowBatch`), and their keys.

Rows are content-addressed so that ingesting the same export twice adds nothing and two
overlapping exports of one chat merge to exactly their union:

- a message with an id of its own (Telegram) is keyed by chat and id;
- a message without one (WhatsApp) is keyed by its content (chat, time, sender, kind, text) plus
  its occurrence number among identical messages *in the same file*. The same sender writing "ok"
  twice in one minute gives keys `…#0` and `…#1`, so genuine repeats are kept, while the same two
  messages in a newer export map to the same two keys again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from chatclone.messages import KIND_TEXT, PLAIN_ROW, Message, RowBatch, content_digest

BATCH = 5000  # rows per batch


def message_rows(messages: Iterable[Message]) -> Iterator[RowBatch]:
    """The store's rows (`FULL_ROW`) of one file's messages, in batches (keyed by `keyed` when
    stored)."""
    known_chats: set[str] = set()
    chats: list[tuple[str, str, str]] = []
    batch: list[tuple[Any, ...]] = []
    kinds = KIND_TEXT  # (binding a plain str is faster than binding a StrEnum member)
    for m in messages:
        if m.chat_id not in known_chats:
            known_chats.add(m.chat_id)
            chats.append((m.chat_id, m.chat, m.source))
        batch.append((
            m.chat_id, m.ts, m.sender, kinds[m.kind], m.text, m.edited, m.reply_to, m.source_id,
            m.attachment, m.origin_line, m.sender_id,
        ))  # fmt: skip
        if len(batch) >= BATCH:
            yield chats, batch
            chats, batch = [], []
    if batch or chats:
        yield chats, batch


_FIRST = (0).to_bytes(4, "big")  # the occurrence number of nearly every message


def keyed_values(rows: list[tuple[Any, ...]], occurrences: dict[bytes, int]) -> list[Any]:
    """The values of rows of one `RowBatch` layout for one statement: each row's key (exactly
    `_key` of its message; `occurrences` counts identical messages across the whole file), then
    the row."""
    values: list[Any] = []
    append, extend = values.append, values.extend
    if len(rows[0]) == len(PLAIN_ROW):  # no id of its own: keyed by content
        digest, seen = content_digest, occurrences.get
        for row in rows:
            h = digest(row[0], row[1], row[2], row[3], row[4])
            n = seen(h)
            if n is None:
                occurrences[h] = 1
                append(h + _FIRST)
            else:
                occurrences[h] = n + 1
                append(h + n.to_bytes(4, "big"))
            extend(row)
        return values
    for row in rows:
        append(_row_key(row[0], row[1], row[2], row[3], row[4], row[7], occurrences))
        extend(row)
    return values


def keyed(rows: list[tuple[Any, ...]], occurrences: dict[bytes, int]) -> list[tuple[Any, ...]]:
    """Each row of a `RowBatch` with its key in front, as `keyed_values` keys it."""
    if not rows:
        return []
    width = len(rows[0]) + 1
    values = keyed_values(rows, occurrences)
    return [tuple(values[i : i + width]) for i in range(0, len(values), width)]


def _key(m: Message, occurrences: dict[bytes, int]) -> bytes:
    return _row_key(m.chat_id, m.ts, m.sender, m.kind, m.text, m.source_id, occurrences)


def _row_key(
    chat_id: str,
    ts: str,
    sender: str | None,
    kind: str,
    text: str,
    source_id: str | None,
    occurrences: dict[bytes, int],
) -> bytes:
    if source_id is not None:
        return hashlib.blake2b(f"{chat_id}#{source_id}".encode(), digest_size=16).digest()
    h = content_digest(chat_id, ts, sender, kind, text)
    n = occurrences.get(h, 0)
    occurrences[h] = n + 1
    return h + n.to_bytes(4, "big")
