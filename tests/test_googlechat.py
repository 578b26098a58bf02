"""Google Chat from Google Takeout: golden files, dates, the mapping, sniffing, bad input, the CLI."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from chatclone.errors import InputError
from chatclone.messages import Kind, Message
from chatclone.parsers import find_parser
from chatclone.parsers.base import ParseOptions, ParseReport, Source
from chatclone.parsers.googlechat import GoogleChatParser, parse_created_date
from chatclone.parsers.sources import discover

from golden import FIXTURES, check_golden, fixtures
from helpers import cli

GOOGLECHAT = FIXTURES / "googlechat"
TAKEOUT = GOOGLECHAT / "takeout"
GROUPS = TAKEOUT / "Takeout" / "Google Chat" / "Groups"
GOLDEN_ZONE = "Europe/Berlin"
NNBSP = "\u202f"


@pytest.mark.parametrize("fixture", fixtures("googlechat"), ids=lambda p: p.name)
def test_golden(fixture: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone(GOLDEN_ZONE)
    check_golden(fixture)


def test_the_zip_reads_as_the_folder(machine_zone: Callable[[str], None]) -> None:
    machine_zone("UTC")

    def read(path: Path) -> list[tuple[str, str | None, str, str]]:
        return [
            (m.chat_id, m.sender, m.text, m.ts)
            for f in discover(path)
            for m in f.parser.parse(f.source, ParseReport())
        ]

    inside = read(GOOGLECHAT / "takeout.zip")
    assert inside == read(TAKEOUT)
    assert {c for c, *_ in inside} == {"googlechat:DM 3kL9xAAAAE", "googlechat:Space AAAAq1w2e3r"}


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected, zone",
    [
        (f"Friday, January 5, 2024 at 9:15:03{NNBSP}PM UTC", datetime(2024, 1, 5, 21, 15, 3), 0),
        ("Friday, January 5, 2024 at 9:15:03 PM UTC", datetime(2024, 1, 5, 21, 15, 3), 0),
        (f"Saturday, January 6, 2024 at 12:05:00{NNBSP}AM UTC", datetime(2024, 1, 6, 0, 5), 0),
        (f"Saturday, January 6, 2024 at 12:05:00{NNBSP}PM PST", datetime(2024, 1, 6, 12, 5), -8),
        ("Monday, Feb 12, 2024 at 11:40:00\u00a0PM GMT+01:00", datetime(2024, 2, 12, 23, 40), 1),
        ("Monday, February 12, 2024 at 23:40:00 GMT-05:30", datetime(2024, 2, 12, 23, 40), -5.5),
        ("February 12, 2024 at 9:40 AM", datetime(2024, 2, 12, 9, 40), 0),  # no zone: UTC
    ],
)
def test_created_dates_are_read_as_instants(text: str, expected: datetime, zone: float) -> None:
    moment, _ = parse_created_date(text)
    assert moment == expected.replace(tzinfo=timezone(timedelta(hours=zone)))


@pytest.mark.parametrize(
    "text",
    [
        "sometime last week",
        "Friday, Janvier 5, 2024 at 9:15:03 PM UTC",  # not English
        "Friday, January 5, 2024 at 13:15:03 PM UTC",
        "Friday, February 30, 2024 at 9:15:03 PM UTC",
        "Friday, January 5, 2024 at 9:15:03 PM Mars/Olympus",
        "2024-01-05T21:15:03Z",
    ],
)
def test_dates_not_understood(text: str) -> None:
    assert parse_created_date(text) == (None, "")


# --- helpers -----------------------------------------------------------------------------------


def messages_file(*records: Any, hint: str = "DM 1/messages.json", sibling: Any = None) -> Source:
    data = json.dumps({"messages": list(records)}).encode()
    return Source(hint, partial(io.BytesIO, data), len(data), hint, sibling=sibling)


def record(**fields: Any) -> dict[str, Any]:
    return {
        "creator": {"name": "Ben Ortiz", "email": "ben@example.com", "user_type": "Human"},
        "created_date": f"Friday, January 5, 2024 at 9:15:03{NNBSP}PM UTC",
        "text": "hi",
        "topic_id": "t1",
        "message_id": "G/t1/t1",
        **fields,
    }


def parse(source: Source, report: ParseReport | None = None) -> list[Message]:
    report = report or ParseReport(options=ParseOptions(timezone="UTC"))
    return list(GoogleChatParser().parse(source, report))


def only(**fields: Any) -> Message:
    (m,) = parse(messages_file(record(**fields)))
    return m


# --- the mapping -------------------------------------------------------------------------------


def test_a_messages_file_alone_is_named_by_its_folder() -> None:
    m = only()
    assert (m.chat, m.chat_id, m.source, m.ts, m.sender, m.kind, m.text) == (
        "DM 1", "googlechat:DM 1", "googlechat", "2024-01-05T21:15:03", "Ben Ortiz", Kind.TEXT,
        "hi",
    )  # fmt: skip
    assert (m.source_id, m.reply_to, m.edited, m.attachment) == ("G/t1/t1", None, False, None)
    assert only(creator={"email": "x@example.com"}).sender == "x@example.com"


def test_files_deletions_edits_threads_bots() -> None:
    m = only(attached_files=[{"original_name": "a.png", "export_name": "File-a.png"}])
    assert (m.kind, m.text, m.attachment) == (Kind.MEDIA, "hi", "File-a.png")
    m = only(message_state="DELETED", text=None)
    assert (m.kind, m.sender, m.text) == (Kind.DELETED, "Ben Ortiz", "")
    assert only(updated_date="Friday, January 5, 2024 at 9:20:00 PM UTC").edited
    assert only(message_id="G/t1/r2").reply_to == "G/t1/t1"
    m = only(creator={"name": "CI", "user_type": "Bot"}, text="green")
    assert (m.sender, m.kind, m.text) == (None, Kind.SYSTEM, "CI: green")


def test_times_are_wall_clock_in_the_ingest_zone() -> None:
    report = ParseReport(options=ParseOptions(timezone="Asia/Tokyo"))
    (m,) = parse(messages_file(record()), report)
    assert m.ts == "2024-01-06T06:15:03"
    assert "times written in UTC, shown in Asia/Tokyo" in report.notes


def test_group_and_user_info_name_the_chat_and_the_owner() -> None:
    # The owner is left out of a DM's name: the chat is the other person.
    (found,) = [f for f in discover(GROUPS / "DM 3kL9xAAAAE")]
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    got = list(found.parser.parse(found.source, report))
    assert {m.chat for m in got} == {"Ben Ortiz"}
    assert report.owner == ("Ana Lima", "ana@example.com")
    (found,) = [f for f in discover(GROUPS / "Space AAAAq1w2e3r")]
    assert {m.chat for m in found.parser.parse(found.source, ParseReport())} == {"Trip planning"}


def test_the_user_folder_is_found_by_a_wildcard_in_a_zip_too() -> None:
    sources = [f.source for f in discover(GOOGLECHAT / "takeout.zip")]
    assert {s.name_hint for s in sources} == {
        "DM 3kL9xAAAAE/messages.json",
        "Space AAAAq1w2e3r/messages.json",
    }
    for source in sources:
        assert source.sibling is not None
        user = source.sibling("../../Users/User */user_info.json")
        assert user is not None and user.display.endswith("User 104882733/user_info.json")
        assert source.sibling("../../Users/Nobody */user_info.json") is None


# --- sniffing ----------------------------------------------------------------------------------


def test_sniff_takes_messages_files_and_no_one_else_does() -> None:
    for path in sorted(GROUPS.glob("*/messages.json")):
        (source,) = [f.source for f in discover(path)]
        assert source.name_hint == f"{path.parent.name}/messages.json"
        parser = find_parser(source)
        assert parser is not None and parser.name == "googlechat"


@pytest.mark.parametrize(
    "fixture",
    [
        p
        for name in ("telegram", "discord", "chatlab", "signal")
        for p in fixtures(name)
        if p.is_file() and p.suffix == ".json"
    ],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_sniff_leaves_other_json_alone(fixture: Path) -> None:
    data = fixture.read_bytes()
    hint = "DM 1/messages.json"
    assert not GoogleChatParser().sniff(Source(hint, partial(io.BytesIO, data), len(data), hint))


@pytest.mark.parametrize(
    "data, hint",
    [
        (b'{"messages": [{"creator": {}, "created_date": "x"}]}', "messages.json"),  # no folder
        (b'{"messages": [{"creator": {}, "created_date": "x"}]}', "DM 1/data.json"),
        (b'{"messages": [{"sender": "a", "created_date": "x"}]}', "DM 1/messages.json"),
        (b'{"members": [{"name": "a"}]}', "DM 1/messages.json"),
        (b'{"messages": []}', "DM 1/messages.json"),
        (b'[{"creator": {}, "created_date": "x"}]', "DM 1/messages.json"),
    ],
)
def test_sniff_rejects_other_files(data: bytes, hint: str) -> None:
    assert not GoogleChatParser().sniff(Source(hint, partial(io.BytesIO, data), len(data), hint))


def test_info_files_are_not_sources() -> None:
    assert {f.source.name_hint for f in discover(TAKEOUT)} == {
        "DM 3kL9xAAAAE/messages.json",
        "Space AAAAq1w2e3r/messages.json",
    }


# --- bad input ---------------------------------------------------------------------------------


def test_bad_records_are_counted_by_position_and_the_rest_kept() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    got = parse(
        messages_file(
            record(text="a"),
            "x",
            record(created_date="soon"),
            record(creator=None),
            record(text="b"),
        ),
        report,
    )
    assert [m.text for m in got] == ["a", "b"]
    assert (report.unparsed, report.unparsed_lines, report.unit) == (3, [2, 3, 4], "record")


def test_a_file_in_which_every_record_fails_is_an_error() -> None:
    with pytest.raises(InputError) as caught:
        parse(messages_file(record(created_date="soon"), "x"))
    assert caught.value.problem == (
        "none of its 2 message record(s) could be read; the first, "
        "record 1: `created_date` not understood: 'soon'"
    )


def test_unreadable_info_files_are_noted_and_skipped(tmp_path: Path) -> None:
    group = tmp_path / "Google Chat" / "Groups" / "DM 7"
    group.mkdir(parents=True)
    (group / "group_info.json").write_text("{not json")
    (group / "messages.json").write_text(json.dumps({"messages": [record()]}))
    (found,) = discover(tmp_path)
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    (m,) = found.parser.parse(found.source, report)
    assert (m.chat, report.owner) == ("DM 7", None)
    assert any("group_info.json could not be read" in n for n in report.notes)


# --- the CLI -----------------------------------------------------------------------------------


def test_ingest_the_takeout_folder(tmp_path: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone("UTC")
    ws = tmp_path / "ws"
    run = cli("ingest", TAKEOUT, "-w", ws, "--json")
    assert run.code == 0, run.err
    data = cli("stats", "-w", ws, "--json").json()
    assert data["chats"] == 2
    assert data["me"] == "Ana Lima" and data["me_how"] == "googlechat-account"
    assert data["senders"]["Ana Lima"] == 3 and data["senders"]["Ben Ortiz"] == 4
    assert data["kinds"]["media"] == 1 and data["kinds"]["deleted"] == 1
    messages = cli("messages", "-w", ws, "--json", "--chat", "Trip planning")
    first = json.loads(messages.out.splitlines()[0])
    assert (first["ts"], first["sender"], first["text"]) == (
        "2024-02-12T10:00:00", "Cy Park", "Lisbon or Porto?"
    )  # fmt: skip
