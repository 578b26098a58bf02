"""Reading one export file into the store's rows, for `ingest`.

A big file is read in a forked process that streams its rows to this one through a pipe, so that
parsing (in the child) and storing (here) overlap on two cores instead of taking turns: both are
CPU-bound Python, so a thread would not help. Everything the child learns (the parse report, the
chats it saw, an error) travels back with the rows; the store is written only here. Small files,
and systems without `fork`, are read in this process: starting a child costs more than it saves.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import warnings
from collections.abc import Iterator
from multiprocessing.connection import Connection, Pipe
from typing import Any

from chatclone.errors import ChatcloneError, InputError
from chatclone.messages import Message, RowBatch
from chatclone.parsers.base import READ_ERRORS, ParseReport
from chatclone.parsers.sources import Found
from chatclone.store import message_rows

# Files smaller than this are read in this process (a fork and the pipe cost about 20 ms).
FORK_BYTES = 4 * 1024 * 1024
_PICKLE = pickle.HIGHEST_PROTOCOL


def file_rows(
    found: Found, report: ParseReport, chats: dict[str, tuple[str, str]]
) -> Iterator[RowBatch]:
    """The rows of `found`'s messages for the store; `report` and `chats` (each chat's id → name
    and messenger) are filled in as in `read_messages` by the time the last batch is out."""
    if _forking() and found.source.size >= FORK_BYTES:
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


def _forking() -> bool:
    # Linux only: macOS frameworks are not safe to use after fork, Windows has none.
    return sys.platform == "linux" and os.environ.get("CHATCLONE_READ_PROCESS", "1") != "0"


def _forked(
    found: Found, report: ParseReport, chats: dict[str, tuple[str, str]]
) -> Iterator[RowBatch]:
    receiver, sender = Pipe(duplex=False)
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork with threads running (a progress bar's): the child only
        # parses and writes to its pipe, and never touches a lock those threads could hold.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never returns
        receiver.close()
        _child(found, report, chats, sender)
    sender.close()
    done = False
    try:
        while True:
            try:
                message: tuple[Any, ...] = pickle.loads(receiver.recv_bytes())
            except EOFError:
                raise ChatcloneError(
                    f"{found.source.display}: the process reading it stopped unexpectedly"
                ) from None
            what = message[0]
            if what == "rows":
                yield message[1]
            elif what == "progress":
                if report.progress is not None:
                    report.progress(message[1])
            elif what == "error":
                raise message[1]
            else:  # "done"
                _take_report(report, message[1])
                chats.update(message[2])
                done = True
                return
    finally:
        receiver.close()
        if not done:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _child(
    found: Found,
    report: ParseReport,
    chats: dict[str, tuple[str, str]],
    pipe: Connection,
) -> None:
    code = 0
    try:
        if report.progress is not None:
            report.progress = lambda position: pipe.send_bytes(
                pickle.dumps(("progress", position), _PICKLE)
            )
        for batch in _rows(found, report, chats):
            pipe.send_bytes(pickle.dumps(("rows", batch), _PICKLE))
        report.progress = None
        pipe.send_bytes(pickle.dumps(("done", report, chats), _PICKLE))
    except BaseException as e:
        code = 1
        try:
            payload = pickle.dumps(("error", e), _PICKLE)
            pickle.loads(payload)  # an exception that cannot be rebuilt goes back as its text
        except Exception:
            error = ChatcloneError(f"{found.source.display}: {type(e).__name__}: {e}")
            payload = pickle.dumps(("error", error), _PICKLE)
        with contextlib.suppress(BaseException):
            pipe.send_bytes(payload)
    finally:
        # No clean-up of the parent's objects (its store connection, its buffered output).
        os._exit(code)


def _take_report(report: ParseReport, child: ParseReport) -> None:
    progress = report.progress
    for name in report.__dataclass_fields__:
        setattr(report, name, getattr(child, name))
    report.progress = progress
