"""Reading a file in a forked process (`chatclone.reading`): the same rows, report and chats as
reading it here, errors that arrive whole, and no child left behind.

Run: .venv/bin/pytest tests/test_reading.py
"""

from __future__ import annotations

import io
import os
import sqlite3
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from chatclone import reading
from chatclone.errors import ChatcloneError, InputError
from chatclone.ingest import ingest
from chatclone.messages import Message
from chatclone.parsers.base import ParseReport, Source
from chatclone.parsers.sources import Found, discover
from chatclone.workspace import Workspace

from helpers import forks

FIXTURES = Path(__file__).parent / "fixtures"
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads in a child only on Linux")


def read_all(found: Found, forked: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    monkeypatch.setattr(reading, "FORK_BYTES", 0 if forked else 1 << 60)
    report, chats, positions = ParseReport(), {}, []  # type: ignore[var-annotated]
    report.progress = positions.append
    batches = list(reading.file_rows(found, report, chats))
    report.progress = None
    return batches, report, chats, positions


@pytest.mark.parametrize(
    "path",
    [
        FIXTURES / "whatsapp" / "WhatsApp Chat with Ana.txt",
        FIXTURES / "whatsapp" / "WhatsApp Chat with Ana.zip",
        FIXTURES / "telegram" / "account_export.json",
    ],
    ids=lambda p: p.name,
)
def test_a_child_reads_what_this_process_reads(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (found,) = discover(path)
    here = read_all(found, False, monkeypatch)
    child = read_all(found, True, monkeypatch)
    assert child[:3] == here[:3]  # rows (keys included), the report, the chats
    assert sum(len(rows) for _, rows in child[0]) > 0
    assert child[3], "the child's progress reaches this process"


class _Failing:
    """A parser that yields some messages and then fails as `failure` says."""

    name = "failing"
    description = "test"

    def __init__(self, failure: str) -> None:
        self.failure = failure

    def sniff(self, source: Source) -> bool:
        return True

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        from chatclone.messages import Kind

        for i in range(3):
            yield Message("c", "x:1", "x", f"2024-01-0{i + 1}T10:00", "Ana", Kind.TEXT, f"m{i}")
        if self.failure == "input":
            raise InputError(source.display, "bad record", 12)
        if self.failure == "unpicklable":
            raise _Unpicklable(lambda: None)
        if self.failure == "oserror":
            raise OSError("disk went away")
        if self.failure == "die":
            os._exit(3)


class _Unpicklable(Exception):
    def __init__(self, fn: Any) -> None:
        super().__init__("cannot travel")
        self.fn = fn


def failing(failure: str) -> Found:
    data = b"x" * 10
    source = Source("broken.txt", partial(io.BytesIO, data), len(data), "broken.txt")
    return Found(source, _Failing(failure))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("failure", "error", "text"),
    [
        ("input", InputError, "broken.txt:12: bad record"),
        ("oserror", InputError, "broken.txt: cannot read (truncated or corrupt?): disk went away"),
        ("unpicklable", ChatcloneError, "broken.txt: _Unpicklable: cannot travel"),
        ("die", ChatcloneError, "broken.txt: the process reading it stopped unexpectedly"),
    ],
)
def test_errors_in_the_child_arrive_whole(
    failure: str, error: type[Exception], text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "FORK_BYTES", 0)
    children = forks(monkeypatch)
    with pytest.raises(error) as raised:
        list(reading.file_rows(failing(failure), ParseReport(), {}))
    assert str(raised.value) == text
    if isinstance(raised.value, InputError) and failure == "input":
        assert raised.value.line == 12
    assert len(children) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(children[0], os.WNOHANG)  # nothing left to reap: the child was waited for


def test_stopping_early_ends_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "FORK_BYTES", 0)
    children = forks(monkeypatch)
    (found,) = discover(FIXTURES / "whatsapp" / "WhatsApp Chat with Ana.txt")
    rows = reading.file_rows(found, ParseReport(), {})
    next(rows)
    rows.close()  # the caller failed: the child is killed and reaped
    with pytest.raises(ChildProcessError):
        os.waitpid(children[0], os.WNOHANG)


def test_ingest_with_a_child_stores_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole ingest, forked and not: the same store, row for row; a failing file leaves the
    store as it was."""
    paths = [
        FIXTURES / "whatsapp" / "WhatsApp Chat with Ana.txt",
        FIXTURES / "telegram" / "account_export.json",
    ]
    dumps = []
    for forked in (False, True):
        monkeypatch.setattr(reading, "FORK_BYTES", 0 if forked else 1 << 60)
        ws = Workspace(tmp_path / f"ws{forked}")
        result = ingest(ws, paths)
        con = sqlite3.connect(ws.store_path)
        dumps.append((
            result.to_json()["messages"],
            list(con.execute("SELECT key, chat_id, ts, sender, kind, text, origin_line FROM messages ORDER BY id")),
            list(con.execute("SELECT id, name, source FROM chats ORDER BY id")),
        ))  # fmt: skip
        con.close()
    assert dumps[0] == dumps[1]
    assert dumps[0][0] > 0
