"""Reading one export file into the store's rows, for `ingest`.

A big file is read in a forked process (`forked`) that streams its rows to this one, so that
parsing (in the child) and storing (here) overlap on two cores instead of taking turns.
Everything the child learns (the parse report, the chats it saw, an error) travels back with the
rows; the store is written only here. Small files, and systems without `fork`, are read in this
process: starting a child costs more than it saves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from chatclone import forked
from chatclone.errors import InputError
from chatclone.messages import Message, RowBatch
from chatclone.parsers.base import READ_ERRORS, ParseReport
from chatclone.parsers.sources import Found
from chatclone.rows import message_rows

# Files smaller than this are read in this process (a fork and the pipe cost about 20 ms).
FORK_BYTES = 4 * 1024 * 1024


def file_rows(
    found: Found, report: ParseReport, chats: dict[str, tuple[str, str]]
) -> Iterator[RowBatch]:
    """The rows of `found`'s messages for the store; `report` and `chats` (each chat's id → name
    and messenger) are filled in as in `read_messages` by the time the last batch is out."""
    if forked.available() and found.source.size >= FORK_BYTES:
        yield from _forked(found, report, chats)
    else:
        yield from _rows(found, report, chats)


def read_messages(
    found: Found, report: ParseReport, chats: dict[str, tuple[str, str]]
) -> Iterator[Message]:
    """The parser's messages, with low-level read failures turned into errors naming the file;
    `chats` collects each chat's id, name and messenger."""
    try:
        for m in found.parser.parse(found.source, report):
            if m.chat_id not in chats:
                chats[m.chat_id] = (m.chat, m.source)
            yield m
    except READ_ERRORS as e:
        raise _unreadable(found, e) from None


def _rows(
    found: Found, report: ParseReport, chats: dict[str, tuple[str, str]]
) -> Iterator[RowBatch]:
    """`message_rows` of `read_messages`, or the rows a parser makes itself (`parse_rows`)."""
    parse_rows = getattr(found.parser, "parse_rows", None)
    if parse_rows is None:
        yield from message_rows(read_messages(found, report, chats))
        return
    try:
        for batch in parse_rows(found.source, report):
            for chat_id, name, source in batch[0]:
                chats[chat_id] = (name, source)
            yield batch
    except READ_ERRORS as e:
        raise _unreadable(found, e) from None


def _unreadable(found: Found, e: BaseException) -> InputError:
    return InputError(found.source.display, f"cannot read (truncated or corrupt?): {e}")


def _forked(
    found: Found, report: ParseReport, chats: dict[str, tuple[str, str]]
) -> Iterator[RowBatch]:
    def produce(notify: Callable[[Any], None]) -> Iterator[RowBatch]:
        if report.progress is not None:
            report.progress = notify
        yield from _rows(found, report, chats)
        report.progress = None

    child_report, child_chats = yield from forked.stream(
        produce, lambda: (report, chats), found.source.display, report.progress
    )
    _take_report(report, child_report)
    chats.update(child_chats)


def _take_report(report: ParseReport, child: ParseReport) -> None:
    progress = report.progress
    for name in report.__dataclass_fields__:
        setattr(report, name, getattr(child, name))
    report.progress = progress
