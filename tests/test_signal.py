"""signal-export (sigexport) chats: golden files, the mapping, sniffing, bad input, the CLI."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from chatclone.errors import InputError
from chatclone.messages import Kind, Message
from chatclone.parsers import find_parser
from chatclone.parsers.base import ParseOptions, ParseReport, Source
from chatclone.parsers.signal import SignalParser
from chatclone.parsers.sources import discover

from golden import FIXTURES, check_fixture, fixtures
from helpers import cli

PARSER = SignalParser()
SIGNAL = FIXTURES / "signal"
GOLDEN_ZONE = "Europe/Berlin"
GOLDEN_ERRORS = {
    "all_records_fail.json": "all_records_fail.json: none of its 2 record(s) could be read; "
    "the first, line 1: no `sender`",
}


@pytest.mark.parametrize("fixture", fixtures("signal"), ids=lambda p: p.name)
def test_golden(fixture: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone(GOLDEN_ZONE)  # the group's one time with an offset is shown in it
    check_fixture(fixture, GOLDEN_ERRORS)


# --- helpers -----------------------------------------------------------------------------------


def source_of(data: bytes, hint: str = "Alice/data.json") -> Source:
    return Source(f"export/{hint}", partial(io.BytesIO, data), len(data), hint)


def record(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"date": "2024-01-05T10:00:00.250000", "sender": "Alice"}
    base.update({"body": "hi  ", "quote": "", "sticker": "", "reactions": [], "attachments": []})
    base.update({"deleted": False, "call": False, "missed": False})
    return {**base, **fields}


def export(*records: Any) -> bytes:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    return ("\n".join(lines) + "\n").encode()


def parse(data: bytes, report: ParseReport | None = None, zone: str = "UTC") -> list[Message]:
    report = report or ParseReport(options=ParseOptions(timezone=zone))
    return list(PARSER.parse(source_of(data), report))


def only(**fields: Any) -> Message:
    (m,) = parse(export(record(**fields)))
    return m


# --- the mapping ---------------------------------------------------------------------------------


def test_a_plain_message() -> None:
    m = only(body="hello\nthere  ")
    assert (m.chat, m.chat_id, m.source) == ("Alice", parse(export(record()))[0].chat_id, "signal")
    assert m.chat_id.startswith("signal:")
    assert (m.ts, m.sender, m.kind, m.text) == ("2024-01-05T10:00:00", "Alice", Kind.TEXT,
                                                 "hello\nthere")  # fmt: skip
    assert (m.reply_to, m.source_id, m.attachment) == (None, None, None)
    assert (m.origin_file, m.origin_line) == ("export/Alice/data.json", 1)


def test_only_the_two_appended_spaces_are_removed() -> None:
    assert only(body="mine   ").text == "mine "
    assert only(body="  lead  ").text == "  lead"
    assert only(body="none").text == "none"  # not written by the tool: nothing to remove


def test_me_is_the_owner() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    (m,) = parse(export(record(sender="Me")), report)
    assert m.sender == "Me" and report.owner == ("Me", "signal:me")
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    parse(export(record()), report)
    assert report.owner is None and any("left to chatclone's inference" in n for n in report.notes)


def test_attachments_and_stickers_are_media_keeping_the_text() -> None:
    files = [{"name": "a.png", "path": "media/a.png"}, {"name": "b.png", "path": "media/b.png"}]
    m = only(body="look  ", attachments=files)
    assert (m.kind, m.text, m.attachment) == (Kind.MEDIA, "look", "a.png")
    m = only(body="  ", sticker="👍")
    assert (m.kind, m.text, m.attachment) == (Kind.MEDIA, "", None)


def test_deleted_and_calls() -> None:
    m = only(body="  ", deleted=True)
    assert (m.kind, m.text) == (Kind.DELETED, "")
    assert only(body="Missed video call  ").kind is Kind.CALL
    assert only(body="Outgoing call (accepted, 5s)  ").kind is Kind.CALL
    assert only(body="Missed call, sorry!  ").kind is Kind.TEXT


def test_empty_records_quotes_and_reactions_are_not_messages() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    data = export(
        record(sender="No-Sender", body="  "),
        record(quote="\n\n> earlier\n\n", reactions=[["Bob", "👍"], ["Me", "😂"]]),
    )
    (m,) = parse(data, report)
    assert m.text == "hi" and m.reply_to is None
    assert "1 empty record(s) (group updates…) skipped: not messages" in report.notes
    assert "2 reaction(s) skipped: not messages" in report.notes
    assert any("1 message(s) quote an earlier one" in n for n in report.notes)


def test_times() -> None:
    assert only(date="2024-01-05 10:00:00").ts == "2024-01-05T10:00:00"
    (m,) = parse(export(record(date="2024-07-01T23:30:00-04:00")), zone="Europe/Berlin")
    assert m.ts == "2024-07-02T05:30:00"
    (m,) = parse(export(record(date=1704448800000)), zone="Asia/Tokyo")
    assert m.ts == "2024-01-05T19:00:00"


# --- sniffing ----------------------------------------------------------------------------------


def test_sniff_accepts_the_fixtures() -> None:
    for path in sorted(SIGNAL.rglob("data.json")):
        source = source_of(path.read_bytes())
        assert PARSER.sniff(source)
        parser = find_parser(source)
        assert parser is not None and parser.name == "signal"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"12/31/23, 10:00 PM - Alice: hello\n",
        b'{"guild": {"id": "1"}, "channel": {"id": "2"}, "messages": []}',
        b'[{"date": "2024-01-01", "sender": "A", "body": "x"}]',
        b'{"_type": "header", "chatlab": {"version": "0.0.2"}}\n',
    ],
)
def test_sniff_rejects_other_files(data: bytes) -> None:
    assert not PARSER.sniff(source_of(data))


def test_sniff_skips_a_byte_order_mark() -> None:
    assert PARSER.sniff(source_of(b"\xef\xbb\xbf" + export(record())))


def test_the_chat_is_named_after_the_folder_in_a_zip_too() -> None:
    (found,) = discover(SIGNAL / "zipped.zip")
    assert found.source.name_hint == "Dana/data.json" and found.parser.name == "signal"


# --- bad input ---------------------------------------------------------------------------------


def test_bad_records_are_counted_by_line_and_the_rest_kept() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    data = export(record(body="a  "), "nope", record(date="soon"), "", "[1]", record(body="b  "))
    assert [m.text for m in parse(data, report)] == ["a", "b"]
    assert (report.unparsed, report.unparsed_lines, report.unit) == (3, [2, 3, 5], "line")
    assert report.blank_lines == 1


def test_a_file_in_which_every_record_fails_is_an_error() -> None:
    with pytest.raises(InputError) as caught:
        parse(export("x", record(body=3)))
    assert caught.value.problem == (
        "none of its 2 record(s) could be read; the first, line 1: not valid JSON"
    )
    assert parse(export(record(body="  ", sender="No-Sender"))) == []  # only group updates


# --- the CLI -----------------------------------------------------------------------------------


def test_ingest_and_stats(tmp_path: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone("UTC")
    ws = tmp_path / "ws"
    run = cli("ingest", SIGNAL / "one_to_one", SIGNAL / "group", "-w", ws,
              "--json")  # fmt: skip
    assert run.code == 0, run.err
    data = cli("stats", "-w", ws, "--json").json()
    assert data["chats"] == 2
    assert data["senders"]["Me"] == 4 + 1
    assert data["kinds"]["media"] == 3 and data["kinds"]["call"] == 1
    messages = cli("messages", "-w", ws, "--json", "--chat", "Alice")
    first = json.loads(messages.out.splitlines()[0])
    assert (first["ts"], first["text"]) == (
        "2024-03-01T19:00:05",
        "Hey, are you coming on Saturday?",
    )
