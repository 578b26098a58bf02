"""ChatLab standard format (JSON and JSONL): golden files, the mapping, bad input, the CLI."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from chatclone.errors import ChatcloneError, InputError
from chatclone.messages import Kind, Message
from chatclone.parsers import find_parser
from chatclone.parsers.base import ParseOptions, ParseReport, Source
from chatclone.parsers.chatlab import ChatLabParser

from golden import FIXTURES, check_fixture, fixtures
from helpers import cli

PARSER = ChatLabParser()

GOLDEN_ERRORS = {
    "all_records_fail.json": "all_records_fail.json: none of its 3 record(s) could be read; "
    "the first, record 1: no readable `timestamp` (Unix seconds)",
}


@pytest.mark.parametrize("fixture", fixtures("chatlab"), ids=lambda p: p.name)
def test_golden(fixture: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone("UTC")
    check_fixture(fixture, GOLDEN_ERRORS)


def test_fixtures_readme_lists_every_fixture() -> None:
    readme = (FIXTURES / "chatlab" / "README.md").read_text("utf-8")
    for fixture in fixtures("chatlab"):
        assert f"`{fixture.name}`" in readme


# --- helpers -----------------------------------------------------------------------------------


def source_of(data: bytes, display: str = "chat.json") -> Source:
    return Source(display, partial(io.BytesIO, data), len(data), display)


def chatlab_json(*messages: Any, members: Any = (), **meta: Any) -> bytes:
    doc = {
        "chatlab": {"version": "0.0.2", "exportedAt": 1704456000},
        "meta": {"name": "Pals", "platform": "qq", "type": "group", **meta},
        "members": list(members),
        "messages": list(messages),
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode()


def chatlab_jsonl(*records: Any, **meta: Any) -> bytes:
    header = {
        "_type": "header",
        "chatlab": {"version": "0.0.2", "exportedAt": 1704456000},
        "meta": {"name": "Pals", "platform": "qq", "type": "private", **meta},
    }
    lines = [json.dumps(r, ensure_ascii=False) for r in (header, *records)]
    return ("\n".join(lines) + "\n").encode()


def message(**fields: Any) -> dict[str, Any]:
    base = {"sender": "1", "accountName": "Ana", "timestamp": 1704448800, "type": 0}
    return {**base, "content": "hi", **fields}


def parse(
    data: bytes, report: ParseReport | None = None, display: str = "chat.json"
) -> list[Message]:
    report = report or ParseReport(options=ParseOptions(timezone="UTC"))
    return list(PARSER.parse(source_of(data, display), report))


def only(**fields: Any) -> Message:
    (m,) = parse(chatlab_json(message(**fields)))
    return m


# --- sniffing ----------------------------------------------------------------------------------


def test_sniffs_both_forms_and_is_the_parser_found() -> None:
    for data, name in ((chatlab_json(message()), "a.json"), (chatlab_jsonl(), "a.jsonl")):
        source = source_of(data, name)
        assert PARSER.sniff(source)
        found = find_parser(source)
        assert found is not None and found.name == "chatlab"


def test_sniff_skips_bom_and_comment_lines() -> None:
    data = b"\xef\xbb\xbf# a note\n\n" + chatlab_jsonl(message(_type="message"))
    assert PARSER.sniff(source_of(data, "a.jsonl"))
    (m,) = parse(data, display="a.jsonl")
    assert (m.text, m.origin_line) == ("hi", 4)


@pytest.mark.parametrize(
    "data",
    [
        b'{"name": "Alice", "type": "personal_chat", "id": 1, "messages": []}',
        b'{"messages": [{"chatlab": 1}]}',
        b"[1, 2]",
        b"12/01/2024, 10:00 - Ana: hi",
        b"",
    ],
)
def test_sniff_refuses_other_files(data: bytes) -> None:
    assert not PARSER.sniff(source_of(data))


# --- mapping -----------------------------------------------------------------------------------


def test_plain_message_fields() -> None:
    m = only(platformMessageId="m7", replyToMessageId=6)
    assert (m.chat, m.source, m.ts, m.sender) == ("Pals", "chatlab", "2024-01-05T10:00:00", "Ana")
    assert (m.kind, m.text, m.edited, m.reply_to, m.source_id) == (
        Kind.TEXT,
        "hi",
        False,
        "6",
        "m7",
    )
    assert (m.origin_file, m.origin_line, m.attachment) == ("chat.json", None, None)


def test_times_are_shown_in_the_ingest_zone(machine_zone: Callable[[str], None]) -> None:
    report = ParseReport(options=ParseOptions(timezone="Asia/Tokyo"))
    (m,) = parse(chatlab_json(message()), report)
    assert m.ts == "2024-01-05T19:00:00"
    assert "times (Unix seconds) are shown in Asia/Tokyo" in report.notes
    machine_zone("America/New_York")
    report = ParseReport()
    (m,) = parse(chatlab_json(message()), report)
    assert m.ts == "2024-01-05T05:00:00"
    assert any("this machine's zone (EST/EDT" in n for n in report.notes)


def test_a_zone_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ChatcloneError, match="Mars/Olympus"):
        parse(chatlab_json(message()), ParseReport(options=ParseOptions(timezone="Mars/Olympus")))


@pytest.mark.parametrize("stamp", [1704448800, 1704448800.9, "1704448800"])
def test_timestamp_forms(stamp: Any) -> None:
    assert only(timestamp=stamp).ts == "2024-01-05T10:00:00"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (0, Kind.TEXT), (1, Kind.MEDIA), (2, Kind.MEDIA), (3, Kind.MEDIA), (4, Kind.MEDIA),
        (5, Kind.MEDIA), (7, Kind.TEXT), (8, Kind.LOCATION), (23, Kind.CALL), (24, Kind.MEDIA),
        (25, Kind.TEXT), (26, Kind.MEDIA), (27, Kind.CONTACT),
    ],
)  # fmt: skip
def test_types_map_to_kinds_keeping_the_text(code: int, kind: Kind) -> None:
    m = only(type=code, content="caption")
    assert (m.kind, m.text, m.sender) == (kind, "caption", "Ana")


def test_system_has_no_sender_and_recall_is_deleted() -> None:
    system, recall = parse(
        chatlab_json(message(type=80, content="Bo joined"), message(type=81, content="recalled"))
    )
    assert (system.kind, system.sender, system.text) == (Kind.SYSTEM, None, "Bo joined")
    assert (recall.kind, recall.sender, recall.text) == (Kind.DELETED, "Ana", "")


def test_types_without_a_kind_are_kept_and_reported() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    got = parse(chatlab_json(*(message(type=t) for t in (20, 21, 22, 99, 42, 42))), report)
    assert [m.kind for m in got] == [Kind.MEDIA] * 6
    assert [m.text for m in got] == ["hi"] * 6
    assert (
        "6 message(s) of types chatclone has no kind for, kept as media: OTHER (1), POKE (1), "
        "RED_PACKET (1), TRANSFER (1), type 42 (2)"
    ) in report.notes


def test_null_content_is_empty_text() -> None:
    assert (only(type=1, content=None).text, only(type=1, content=None).kind) == ("", Kind.MEDIA)


def test_names_come_from_members_then_the_first_message() -> None:
    members = [
        {"platformId": "1", "accountName": "Ana Lima", "groupNickname": "Ana 🥾"},
        {"platformId": 2, "accountName": "Bo"},
        {"platformId": "3", "accountName": "  "},
    ]
    got = parse(
        chatlab_json(
            message(sender="1", groupNickname="Nick at the time"),
            message(sender="2", accountName="Bo"),
            message(sender="3", accountName="Cy"),
            message(sender="4", accountName="Di", groupNickname="Di (new)"),
            message(sender="4", accountName="Di", groupNickname="Di renamed later"),
            message(sender="5", accountName=""),
            members=members,
        )
    )
    assert [m.sender for m in got] == ["Ana 🥾", "Bo", "3", "Di (new)", "Di (new)", "5"]


def test_a_message_without_sender_uses_its_account_name() -> None:
    assert only(sender=None, accountName="Eve").sender == "Eve"


def test_owner_is_the_meta_owner_by_display_name() -> None:
    members = [{"platformId": "1", "accountName": "Ana Lima", "groupNickname": "Ana 🥾"}]
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    parse(chatlab_json(message(), members=members, ownerId="1"), report)
    assert report.owner == ("Ana 🥾", "qq:1")
    # No member entry: named by their first message; never seen: no owner is claimed.
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    parse(chatlab_json(message(sender=7, accountName="Sev"), ownerId=7), report)
    assert report.owner == ("Sev", "qq:7")
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    parse(chatlab_json(message(), ownerId="99"), report)
    assert report.owner is None
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    parse(chatlab_json(message()), report)
    assert report.owner is None
    assert any("no `meta.ownerId`" in n for n in report.notes)


def test_chat_id_is_stable_across_exports() -> None:
    (a,) = parse(chatlab_json(message(), name="Pals"))
    (b,) = parse(chatlab_jsonl(dict(message(), _type="message"), name="Pals", type="group"))
    (c,) = parse(chatlab_json(message(), name="Pals", platform="wechat"))
    assert a.chat_id == b.chat_id != c.chat_id
    assert a.chat_id.startswith("chatlab:")
    (d,) = parse(chatlab_json(message(), name="Renamed", groupId=123))
    (e,) = parse(chatlab_json(message(), name="Pals", groupId="123"))
    assert d.chat_id == e.chat_id == "chatlab:qq:123"
    assert (d.chat, e.chat) == ("Renamed", "Pals")


def test_meta_after_the_messages_still_names_them() -> None:
    doc = {
        "chatlab": {"version": "0.0.2", "exportedAt": 1},
        "messages": [message(), message(content="two")],
        "meta": {"name": "Late", "platform": "qq", "type": "group"},
    }
    got = parse(json.dumps(doc).encode())
    assert [(m.chat, m.text) for m in got] == [("Late", "hi"), ("Late", "two")]


def test_without_meta_the_chat_is_named_after_the_file() -> None:
    doc = {"chatlab": {"version": "0.0.2"}, "messages": [message()]}
    (m,) = parse(json.dumps(doc).encode(), display="export/Weekend.json")
    assert m.chat == "Weekend"


# --- bad input ---------------------------------------------------------------------------------


def test_bad_json_records_are_counted_by_position() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    got = parse(
        chatlab_json(
            message(content="one"),
            message(timestamp=None),
            "text",
            message(type="zero"),
            message(content=["x"]),
            message(sender=None, accountName=None),
            message(timestamp=10**15),
            message(content="eight"),
        ),
        report,
    )
    assert [m.text for m in got] == ["one", "eight"]
    assert (report.unit, report.unparsed, report.unparsed_lines) == (
        "record",
        6,
        [2, 3, 4, 5, 6, 7],
    )


def test_truncated_json_fails_naming_the_line() -> None:
    data = chatlab_json(message(), message(content="cut"))
    cut = data[: data.index(b'"cut"') + 3]
    with pytest.raises(InputError) as caught:
        parse(cut)
    assert "truncated or malformed JSON" in str(caught.value)
    assert caught.value.line == cut.count(b"\n") + 1


def test_json_without_messages_fails() -> None:
    doc = {"chatlab": {"version": "0.0.2"}, "meta": {"name": "x"}}
    with pytest.raises(InputError, match="no `messages`"):
        parse(json.dumps(doc).encode())


def test_jsonl_whose_header_is_broken_fails_naming_the_line() -> None:
    data = b'# note\n{"_type":"header","chatlab":{"version":"0.0.2"},"meta":{"name": \n'
    with pytest.raises(InputError) as caught:
        parse(data, display="a.jsonl")
    assert "not a ChatLab header" in str(caught.value)
    assert caught.value.line == 2


def test_jsonl_where_every_record_fails_names_the_first() -> None:
    data = chatlab_jsonl({"_type": "message", "sender": "1"}, "oops") + b"{broken\n"
    with pytest.raises(InputError) as caught:
        parse(data, display="a.jsonl")
    assert str(caught.value).endswith(
        "a.jsonl: none of its 3 record(s) could be read; the first, line 2: no numeric `type`"
    )


def test_empty_chat_is_not_an_error() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    assert parse(chatlab_json(), report) == []
    assert report.unparsed == 0


# --- the CLI -----------------------------------------------------------------------------------


def test_ingest_and_stats_name_the_owner_as_me(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run = cli("ingest", FIXTURES / "chatlab" / "group.json", "-w", ws)
    assert run.code == 0, run.err
    stats = cli("stats", "-w", ws, "--json")
    assert stats.code == 0, stats.err
    data = stats.json()
    assert (data["me"], data["me_messages"]) == ("Sam (organiser)", 4)
    assert data["chat_list"][0]["id"] == "chatlab:wechat:38988428513"
    # Ingesting the same export again stores nothing new.
    again = cli("ingest", FIXTURES / "chatlab" / "group.json", "-w", ws)
    assert again.code == 0, again.err
    assert cli("stats", "-w", ws, "--json").json()["stored"] == data["stored"]
