"""DiscordChatExporter JSON exports: golden files, the mapping, time zones, bad input, the CLI."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Generator
from functools import partial
from pathlib import Path
from typing import IO, Any

import pytest

from chatclone.errors import ChatcloneError, InputError
from chatclone.messages import Kind, Message
from chatclone.parsers import find_parser
from chatclone.parsers.base import ParseOptions, ParseReport, Source
from chatclone.parsers.discord import DiscordParser
from chatclone.parsers.telegram import TelegramParser

from golden import FIXTURES, check_fixture, fixtures
from helpers import cli

PARSER = DiscordParser()
DISCORD = FIXTURES / "discord"
# The golden files are made on a machine in Berlin: the exports' -05:00 and +00:00 times move.
GOLDEN_ZONE = "Europe/Berlin"
GOLDEN_ERRORS = {
    "all_records_fail.json": "all_records_fail.json: none of its 2 message record(s) could be "
    "read; the first, message id 1240000000000000001: no readable `timestamp`",
}


@pytest.mark.parametrize("fixture", fixtures("discord"), ids=lambda p: p.name)
def test_golden(fixture: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone(GOLDEN_ZONE)
    check_fixture(fixture, GOLDEN_ERRORS)


# --- helpers -----------------------------------------------------------------------------------


def source_of(data: bytes, display: str = "export.json") -> Source:
    return Source(display, partial(io.BytesIO, data), len(data), display)


GUILD = {"id": "1", "name": "Club", "iconUrl": "x"}
TEXT_CHANNEL = {"id": "42", "type": "GuildTextChat", "categoryId": None, "category": None}
DM_GUILD = {"id": "0", "name": "Direct Messages", "iconUrl": "x"}


def export(*messages: Any, guild: Any = None, channel: Any = None, **extra: Any) -> bytes:
    doc = {
        "guild": guild or GUILD,
        "channel": channel or {**TEXT_CHANNEL, "name": "general", "topic": None},
        "dateRange": {"after": None, "before": None},
        "exportedAt": "2024-01-05T12:00:00+00:00",
        "messages": list(messages),
        "messageCount": len(messages),
        **extra,
    }
    return json.dumps(doc, ensure_ascii=False, indent=2).encode()


def message(**fields: Any) -> dict[str, Any]:
    author = {"id": "7", "name": "alice_", "discriminator": "0000", "nickname": "Alice"}
    base: dict[str, Any] = {
        "id": "100",
        "type": "Default",
        "timestamp": "2024-01-05T10:00:00.123+00:00",
    }
    base.update({"timestampEdited": None, "callEndedTimestamp": None, "isPinned": False})
    base.update({"content": "hi", "author": author, "attachments": [], "stickers": []})
    return {**base, **fields}


def parse(data: bytes, report: ParseReport | None = None, zone: str = "UTC") -> list[Message]:
    report = report or ParseReport(options=ParseOptions(timezone=zone))
    return list(PARSER.parse(source_of(data), report))


def only(zone: str = "UTC", **fields: Any) -> Message:
    (m,) = parse(export(message(**fields)), zone=zone)
    return m


# --- the mapping ---------------------------------------------------------------------------------


def test_a_plain_message() -> None:
    m = only(id="5", content="hello\nthere")
    assert (m.chat, m.chat_id, m.source) == ("Club / #general", "discord:42", "discord")
    assert (m.ts, m.sender, m.kind, m.text) == (
        "2024-01-05T10:00:00",
        "Alice",
        Kind.TEXT,
        "hello\nthere",
    )
    assert (m.edited, m.reply_to, m.source_id, m.attachment) == (False, None, "5", None)
    assert (m.origin_file, m.origin_line) == ("export.json", None)


def test_sender_is_the_nickname_else_the_name() -> None:
    assert only(author={"id": "7", "name": "alice_", "nickname": None}).sender == "alice_"
    assert only(author={"id": "7", "name": "alice_", "nickname": "  "}).sender == "alice_"


def test_reply_and_edit() -> None:
    reference = {"messageId": "99", "channelId": "42", "guildId": "1"}
    m = only(type="Reply", reference=reference, timestampEdited="2024-01-05T10:05:00+00:00")
    assert (m.kind, m.reply_to, m.edited) == (Kind.TEXT, "99", True)
    # A pin notice refers to the pinned message, but answers nothing.
    assert only(type="ChannelPinnedMessage", reference=reference).reply_to is None


def test_attachments_and_stickers_are_media_keeping_the_text() -> None:
    files = [{"fileName": "a.png"}, {"fileName": "b.png"}]
    m = only(content="look", attachments=files)
    assert (m.kind, m.text, m.attachment) == (Kind.MEDIA, "look", "a.png")
    m = only(content="", stickers=[{"id": "1", "name": "Wave"}])
    assert (m.kind, m.text, m.attachment) == (Kind.MEDIA, "", "Wave")


def test_notices_are_system_lines_naming_their_author() -> None:
    m = only(type="GuildMemberJoin", content="Joined the server.")
    assert (m.sender, m.kind, m.text) == (None, Kind.SYSTEM, "Alice joined the server")
    assert only(type="ThreadCreated", content="").text == "Alice started a thread"
    m = only(type="RecipientAdd", content="Added Bob to the group.")
    assert m.text == "Alice added Bob to the group"


def test_calls() -> None:
    m = only(type="Call", content="Started a call that lasted 2 minutes.",
             callEndedTimestamp="2024-01-05T10:02:05.000+00:00")  # fmt: skip
    assert (m.sender, m.kind, m.text) == ("Alice", Kind.CALL, "call, 125 s")
    assert only(type="Call").text == "call"


def test_unknown_types_are_kept_as_system_and_counted() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    (m,) = parse(export(message(type="GuildBoost", content="")), report)
    assert (m.sender, m.kind, m.text) == (None, Kind.SYSTEM, "Alice (GuildBoost)")
    assert "1 message(s) of types not known here, kept as system: GuildBoost (1)" in report.notes


# --- chats -------------------------------------------------------------------------------------


def test_direct_messages_are_named_after_the_recipients() -> None:
    channel = {"id": "9", "type": "DirectTextChat", "category": None, "name": "Bob"}
    (m,) = parse(export(message(), guild=DM_GUILD, channel=channel))
    assert (m.chat, m.chat_id) == ("Bob", "discord:9")


def test_a_thread_is_named_under_its_parent_channel() -> None:
    channel = {"id": "8", "type": "GuildPublicThread", "category": "general", "name": "Carpool"}
    (m,) = parse(export(message(), channel=channel))
    assert m.chat == "Club / #general / Carpool"


def test_the_chat_id_is_stable_across_renames() -> None:
    renamed = {**TEXT_CHANNEL, "name": "renamed"}
    (a,) = parse(export(message()))
    (b,) = parse(export(message(), channel=renamed))
    assert a.chat_id == b.chat_id == "discord:42" and a.chat != b.chat


def test_messages_written_before_the_channel_wait_for_it() -> None:
    doc = {"messages": [message()], "guild": GUILD, "channel": {**TEXT_CHANNEL, "name": "late"}}
    (m,) = parse(json.dumps(doc).encode())
    assert (m.chat, m.chat_id) == ("Club / #late", "discord:42")


# --- time zones --------------------------------------------------------------------------------


def test_times_are_wall_clock_in_the_ingest_zone() -> None:
    ts = "2024-07-01T23:30:00-04:00"
    assert only(zone="UTC", timestamp=ts).ts == "2024-07-02T03:30:00"
    assert only(zone="Europe/Berlin", timestamp=ts).ts == "2024-07-02T05:30:00"
    assert only(zone="Asia/Tokyo", timestamp="2024-01-05T10:00:00Z").ts == "2024-01-05T19:00:00"


def test_the_machine_zone_is_the_default_and_named(machine_zone: Callable[[str], None]) -> None:
    machine_zone("America/New_York")
    report = ParseReport()
    (m,) = parse(export(message(timestamp="2024-01-05T15:00:00+00:00")), report)
    assert m.ts == "2024-01-05T10:00:00"
    assert any("this machine's zone (EST/EDT" in n for n in report.notes)


def test_the_chosen_zone_is_named_in_a_note() -> None:
    report = ParseReport(options=ParseOptions(timezone="Europe/Berlin"))
    parse(export(message()), report)
    assert "times converted from their UTC offsets to Europe/Berlin" in report.notes


def test_a_time_without_offset_is_kept_as_written() -> None:
    report = ParseReport(options=ParseOptions(timezone="Asia/Tokyo"))
    (m,) = parse(export(message(timestamp="2024-01-05T10:00:00")), report)
    assert m.ts == "2024-01-05T10:00:00"
    assert "1 time(s) had no UTC offset: kept as written" in report.notes


def test_an_unknown_zone_is_a_clear_error() -> None:
    with pytest.raises(ChatcloneError, match="'Mars/Base' is not a time zone"):
        parse(export(message()), zone="Mars/Base")


# --- sniffing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", fixtures("discord"), ids=lambda p: p.name)
def test_sniff_accepts_the_fixtures(fixture: Path) -> None:
    source = source_of(fixture.read_bytes())
    assert PARSER.sniff(source)
    assert not TelegramParser().sniff(source)
    parser = find_parser(source)
    assert parser is not None and parser.name == "discord"


@pytest.mark.parametrize("fixture", [p for p in fixtures("telegram") if p.suffix == ".json"])
def test_sniff_leaves_telegram_alone(fixture: Path) -> None:
    assert not PARSER.sniff(source_of(fixture.read_bytes()))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"12/31/23, 10:00 PM - Alice: hello\n",
        b'{"guild": "x", "channel": "y"}',
        b'[{"guild": {"id": "1"}, "channel": {"id": "2"}}]',
        b'{"name": "A", "type": "personal_chat", "id": 1, "messages": []}',
    ],
)
def test_sniff_rejects_other_files(data: bytes) -> None:
    assert not PARSER.sniff(source_of(data))


def test_sniff_skips_a_byte_order_mark() -> None:
    assert PARSER.sniff(source_of(b"\xef\xbb\xbf" + export(message())))


# --- bad input ---------------------------------------------------------------------------------


def test_bad_records_are_counted_by_id_and_the_rest_kept() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    got = parse(
        export(message(id="1"), message(id="2", timestamp="soon"), "x", message(id="4")), report
    )
    assert [m.source_id for m in got] == ["1", "4"]
    assert (report.unparsed, report.unparsed_lines, report.unit) == (2, [2, 0], "message id")


def test_a_file_in_which_every_record_fails_is_an_error() -> None:
    with pytest.raises(InputError) as caught:
        parse(export("x", message(id="3", author=None)))
    assert caught.value.problem == (
        "none of its 2 message record(s) could be read; the first, record 1 (without an id): "
        "not a JSON object"
    )
    assert parse(export()) == []  # an empty channel is not a failure


def test_truncated_json_names_the_line() -> None:
    data = export(message(id="1"), message(id="2", content="cut here"))
    cut = data[: data.index(b'"cut here"')]
    with pytest.raises(InputError) as caught:
        parse(cut)
    assert caught.value.line == cut.count(b"\n") + 1
    assert "truncated or malformed JSON" in caught.value.problem


def test_json_without_messages_is_an_error() -> None:
    data = json.dumps({"guild": GUILD, "channel": TEXT_CHANNEL}).encode()
    with pytest.raises(InputError, match="no `messages`"):
        parse(data)


def test_first_message_comes_before_the_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(export(*(message(id=str(i), content=f"number {i}" * 20) for i in range(3000))))
    opened: list[IO[bytes]] = []

    def opener() -> IO[bytes]:
        f = path.open("rb")
        opened.append(f)
        return f

    size = path.stat().st_size
    got = PARSER.parse(Source(str(path), opener, size, path.name), ParseReport())
    assert next(got).source_id == "0"
    (reading,) = [f for f in opened if not f.closed]
    assert reading.tell() < size / 4
    assert isinstance(got, Generator)
    got.close()


# --- the CLI -----------------------------------------------------------------------------------


def test_ingest_and_stats(tmp_path: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone("UTC")
    ws = tmp_path / "ws"
    run = cli("ingest", DISCORD / "guild_channel.json", DISCORD / "direct_message.json", "-w", ws,
              "--json")  # fmt: skip
    assert run.code == 0, run.err
    data = cli("stats", "-w", ws, "--json").json()
    assert data["chats"] == 2
    assert data["senders"]["Ana"] == 3 + 3  # the channel: 3 texts; the DM: 2 texts, a call
    assert data["kinds"]["system"] == 5 and data["kinds"]["call"] == 2
    messages = cli("messages", "-w", ws, "--json", "--chat", "Trail Runners / #general")
    first = json.loads(messages.out.splitlines()[0])
    assert (first["ts"], first["kind"]) == ("2024-03-01T23:00:05", "system")
