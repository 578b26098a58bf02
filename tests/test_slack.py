"""Slack workspace exports: golden files, the mapping, sniffing, bad input, the CLI."""

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
from chatclone.parsers.chatlab import ChatLabParser
from chatclone.parsers.discord import DiscordParser
from chatclone.parsers.slack import SlackParser
from chatclone.parsers.sources import discover
from chatclone.parsers.telegram import TelegramParser

from golden import FIXTURES, check_golden, fixtures
from helpers import cli

SLACK = FIXTURES / "slack"
WORKSPACE = SLACK / "workspace"
GOLDEN_ZONE = "Europe/Berlin"


@pytest.mark.parametrize("fixture", fixtures("slack"), ids=lambda p: p.name)
def test_golden(fixture: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone(GOLDEN_ZONE)
    check_golden(fixture)


def test_the_zip_reads_as_the_folder(machine_zone: Callable[[str], None]) -> None:
    machine_zone("UTC")
    folder = [m for f in discover(WORKSPACE) for m in f.parser.parse(f.source, ParseReport())]
    zipped = SLACK / "workspace.zip"
    inside = [m for f in discover(zipped) for m in f.parser.parse(f.source, ParseReport())]
    assert [(m.chat_id, m.sender, m.text) for m in folder] == [
        (m.chat_id, m.sender, m.text) for m in inside
    ]
    assert {m.chat_id for m in inside} == {"slack:C01GEN", "slack:C02RND"}


# --- helpers -----------------------------------------------------------------------------------


def day(*records: Any, hint: str = "general/2024-01-05.json", sibling: Any = None) -> Source:
    data = json.dumps(list(records)).encode()
    return Source(hint, partial(io.BytesIO, data), len(data), hint, sibling=sibling)


def record(**fields: Any) -> dict[str, Any]:
    return {"type": "message", "user": "U1", "text": "hi", "ts": "1704450000.000200", **fields}


def parse(source: Source, report: ParseReport | None = None) -> list[Message]:
    report = report or ParseReport(options=ParseOptions(timezone="UTC"))
    return list(SlackParser().parse(source, report))


def only(**fields: Any) -> Message:
    (m,) = parse(day(record(**fields)))
    return m


# --- the mapping ---------------------------------------------------------------------------------


def test_a_day_file_alone_names_people_from_their_profile() -> None:
    m = only(user_profile={"display_name": "", "real_name": "Ana Lima"})
    assert (m.chat, m.source, m.ts, m.sender, m.kind) == (
        "#general", "slack", "2024-01-05T10:20:00", "Ana Lima", Kind.TEXT
    )  # fmt: skip
    assert (m.source_id, m.reply_to, m.edited, m.attachment) == (
        "1704450000.000200",
        None,
        False,
        None,
    )
    assert only().sender == "U1"  # no name anywhere: the id


def test_markup_is_undone() -> None:
    text = "a &amp; b &lt;c&gt; <@U9|bob> <!channel> <#C1|x> <https://e.x|site> <mailto:a@b.c>"
    assert only(text=text).text == "a & b <c> @bob @channel #x site mailto:a@b.c"


def test_threads_edits_files() -> None:
    m = only(thread_ts="1704440000.000100", edited={"user": "U1", "ts": "1"})
    assert (m.reply_to, m.edited) == ("1704440000.000100", True)
    assert only(thread_ts="1704450000.000200").reply_to is None  # a thread's parent
    m = only(text="look", files=[{"id": "F1", "name": "a.png"}])
    assert (m.kind, m.text, m.attachment) == (Kind.MEDIA, "look", "a.png")


def test_events_and_bots_are_system_lines() -> None:
    m = only(subtype="channel_join", text="<@U1|ana> has joined the channel")
    assert (m.sender, m.kind, m.text) == (None, Kind.SYSTEM, "ana has joined the channel")
    m = only(subtype="bot_message", user=None, username="CI", text="build *green*")
    assert (m.sender, m.kind, m.text) == (None, Kind.SYSTEM, "CI: build *green*")
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    (m,) = parse(day(record(subtype="new_thing", text="")), report)
    assert (m.kind, m.text) == (Kind.SYSTEM, "U1 (new_thing)")
    assert any("subtypes not known here" in n for n in report.notes)
    assert only(subtype="tombstone", text="This message was deleted.").kind == Kind.DELETED


def test_times_are_wall_clock_in_the_ingest_zone() -> None:
    report = ParseReport(options=ParseOptions(timezone="Asia/Tokyo"))
    (m,) = parse(day(record()), report)
    assert m.ts == "2024-01-05T19:20:00"
    assert "times converted from Unix time to Asia/Tokyo" in report.notes


# --- sniffing ----------------------------------------------------------------------------------


def workspace_days() -> list[Path]:
    return sorted(WORKSPACE.glob("*/*.json"))


@pytest.mark.parametrize("path", workspace_days(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sniff_takes_day_files_and_no_one_else_does(path: Path) -> None:
    (source,) = [f.source for f in discover(path)]
    assert source.name_hint == f"{path.parent.name}/{path.name}"
    assert SlackParser().sniff(source)
    for other in (TelegramParser(), DiscordParser(), ChatLabParser()):
        assert not other.sniff(source)
    parser = find_parser(source)
    assert parser is not None and parser.name == "slack"


@pytest.mark.parametrize(
    "fixture",
    [p for name in ("telegram", "discord", "chatlab") for p in fixtures(name) if p.is_file()],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_sniff_leaves_other_json_alone(fixture: Path) -> None:
    data = fixture.read_bytes()
    hint = f"general/{fixture.name}"
    assert not SlackParser().sniff(Source(hint, partial(io.BytesIO, data), len(data), hint))
    disguised = Source(
        "c/2024-01-05.json", partial(io.BytesIO, data), len(data), "c/2024-01-05.json"
    )
    assert not SlackParser().sniff(disguised)


@pytest.mark.parametrize(
    "data, hint",
    [
        (b'[{"type": "message", "ts": "1.2"}]', "2024-01-05.json"),  # no channel folder
        (b'[{"type": "message", "ts": "1.2"}]', "general/notes.json"),
        (b'[{"id": "U1", "name": "ana"}]', "general/2024-01-05.json"),
        (b'{"type": "message", "ts": "1.2"}', "general/2024-01-05.json"),
        (b"[]", "general/2024-01-05.json"),
    ],
)
def test_sniff_rejects_other_files(data: bytes, hint: str) -> None:
    assert not SlackParser().sniff(Source(hint, partial(io.BytesIO, data), len(data), hint))


# --- bad input ---------------------------------------------------------------------------------


def test_bad_records_are_counted_by_position_and_the_rest_kept() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    got = parse(
        day(record(text="a"), "x", record(ts="soon"), record(user=None), record(text="b")), report
    )
    assert [m.text for m in got] == ["a", "b"]
    assert (report.unparsed, report.unparsed_lines, report.unit) == (3, [2, 3, 4], "record")


def test_a_day_file_in_which_every_record_fails_is_an_error() -> None:
    with pytest.raises(InputError) as caught:
        parse(day(record(ts=None), "x"))
    assert caught.value.problem == (
        "none of its 2 message record(s) could be read; the first, record 1: no readable `ts`"
    )


def test_an_unreadable_users_file_is_noted_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "users.json").write_text("{not json")
    (tmp_path / "general").mkdir()
    (tmp_path / "general" / "2024-01-05.json").write_text(json.dumps([record()]))
    (found,) = discover(tmp_path)
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    (m,) = found.parser.parse(found.source, report)
    assert m.sender == "U1"
    assert any("users.json could not be read" in n for n in report.notes)


# --- the CLI -----------------------------------------------------------------------------------


def test_ingest_the_workspace_folder(tmp_path: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone("UTC")
    ws = tmp_path / "ws"
    run = cli("ingest", WORKSPACE, "-w", ws, "--json")
    assert run.code == 0, run.err
    data = cli("stats", "-w", ws, "--json").json()
    assert data["chats"] == 2
    assert data["senders"]["Ben Ortiz"] == 3 and data["senders"]["Ana"] == 2
    assert data["kinds"]["system"] == 5 and data["kinds"]["media"] == 1
    messages = cli("messages", "-w", ws, "--json", "--chat", "#random")
    first = json.loads(messages.out.splitlines()[0])
    assert (first["ts"], first["kind"], first["text"]) == (
        "2024-01-05T09:13:20", "system", "Ben Ortiz has joined the channel"
    )  # fmt: skip
