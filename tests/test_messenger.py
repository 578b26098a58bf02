"""Facebook Messenger and Instagram (Meta's Download your information, JSON): golden files, the
mapping, mojibake, sniffing, bad input, the CLI."""

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
from chatclone.parsers.messenger import InstagramParser, MessengerParser
from chatclone.parsers.sources import discover

from golden import FIXTURES, check_golden, fixtures
from helpers import cli

MESSENGER = FIXTURES / "messenger"
FACEBOOK = MESSENGER / "facebook-ana"
INSTAGRAM = MESSENGER / "instagram-ana"
GOLDEN_ZONE = "Europe/Berlin"
HINT = "facebook-ana/messages/inbox/bob_1/message_1.json"


@pytest.mark.parametrize("fixture", fixtures("messenger"), ids=lambda p: p.name)
def test_golden(fixture: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone(GOLDEN_ZONE)
    check_golden(fixture)


def parsed(path: Path) -> list[Message]:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    return [m for f in discover(path) for m in f.parser.parse(f.source, report)]


def test_the_split_files_of_a_thread_make_one_chat_and_the_zip_reads_as_the_folder() -> None:
    folder = parsed(FACEBOOK)
    thread = [m for m in folder if m.chat == "Benoît Léger"]
    assert len(thread) == 8
    assert {m.chat_id for m in thread} == {"messenger:benoitleger_abc123"}
    assert {m.origin_file.rsplit("/", 1)[1] for m in thread} == {"message_1.json", "message_2.json"}
    inside = parsed(MESSENGER / "facebook-ana.zip")
    assert [(m.chat_id, m.ts, m.sender, m.kind, m.text) for m in folder] == [
        (m.chat_id, m.ts, m.sender, m.kind, m.text) for m in inside
    ]


def test_instagram_is_told_by_its_path() -> None:
    (found,) = discover(INSTAGRAM)
    assert found.parser.name == "instagram"
    assert found.source.name_hint == (
        "your_instagram_activity/messages/inbox/carladiaz_17845/message_1.json"
    )
    assert {m.source for m in parsed(INSTAGRAM)} == {"instagram"}
    assert {m.chat_id for m in parsed(INSTAGRAM)} == {"instagram:carladiaz_17845"}


@pytest.mark.parametrize("zipped", ["instagram-ana.zip", "instagram-ana-old-layout.zip"])
def test_instagrams_zip_reads_as_its_folder(zipped: str) -> None:
    """Instagram's download is a zip: now `your_instagram_activity/messages/inbox/…` at its
    root, in older downloads `messages/inbox/…`, told from Facebook's by the zip's name."""
    folder, inside = parsed(INSTAGRAM), parsed(MESSENGER / zipped)
    assert folder and [(m.chat_id, m.ts, m.sender, m.kind, m.text) for m in folder] == [
        (m.chat_id, m.ts, m.sender, m.kind, m.text) for m in inside
    ]
    assert {m.source for m in inside} == {"instagram"}
    assert {f.parser.name for f in discover(MESSENGER / zipped)} == {"instagram"}


# --- helpers -----------------------------------------------------------------------------------


def moji(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


def thread(*records: Any, hint: str = HINT, **header: Any) -> Source:
    data = json.dumps(
        {"participants": [{"name": "Bob"}], "messages": list(records), **header}
    ).encode()
    return Source(hint, partial(io.BytesIO, data), len(data), hint)


def record(**fields: Any) -> dict[str, Any]:
    return {"sender_name": "Bob", "timestamp_ms": 1704450000250, "content": "hi", **fields}


def parse(source: Source, report: ParseReport | None = None) -> list[Message]:
    report = report or ParseReport(options=ParseOptions(timezone="UTC"))
    return list(MessengerParser().parse(source, report))


def only(**fields: Any) -> Message:
    (m,) = parse(thread(record(**fields)))
    return m


# --- the mapping ---------------------------------------------------------------------------------


def test_a_plain_message() -> None:
    m = only()
    assert (m.chat, m.chat_id, m.source, m.ts, m.sender, m.kind, m.text) == (
        "bob_1", "messenger:bob_1", "messenger", "2024-01-05T10:20:00", "Bob", Kind.TEXT, "hi"
    )  # fmt: skip
    assert (m.source_id, m.reply_to, m.edited, m.attachment) == (None, None, False, None)


def test_the_chat_is_the_title_and_its_id_the_thread_folder() -> None:
    (m,) = parse(thread(record(), title=moji("Zoé"), thread_path="inbox/zoe_9"))
    assert (m.chat, m.chat_id) == ("Zoé", "messenger:zoe_9")


def test_every_string_is_mended_and_real_unicode_kept() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    (a, b) = parse(
        thread(
            record(sender_name=moji("Zoé 😊"), content=moji("Ça va ❤"), timestamp_ms=2),
            record(content="déjà", timestamp_ms=1),
        ),
        report,
    )
    assert (b.sender, b.text, a.text) == ("Zoé 😊", "Ça va ❤", "déjà")
    assert any("1 string(s) were not Meta's" in n for n in report.notes)


def test_kinds() -> None:
    assert (only(is_unsent=True, content=None).kind, only(is_unsent=True).sender) == (
        Kind.DELETED,
        "Bob",
    )
    m = only(type="Call", content="Bob called you.", call_duration=65)
    assert (m.kind, m.text) == (Kind.CALL, "Bob called you. (call, 65 s)")
    assert (only(type="Call", content=None, call_duration=0).text) == "call"
    m = only(content="look", photos=[{"uri": "messages/inbox/bob_1/photos/1_n.jpg"}])
    assert (m.kind, m.text, m.attachment) == (Kind.MEDIA, "look", "1_n.jpg")
    assert only(content=None, sticker={"uri": "s/2.png"}).attachment == "2.png"
    assert only(content=None, share={"link": "https://e.x"}, type="Share").text == "https://e.x"
    m = only(type="Subscribe", content=None)
    assert (m.sender, m.kind, m.text) == (None, Kind.SYSTEM, "Bob joined")


def test_reactions_and_empty_records_are_skipped_and_counted() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    got = parse(
        thread(
            record(content="Liked a message"),
            record(content=moji("Reacted 😂 to your message ")),
            record(content=moji("Bob reacted ❤ to your message")),
            record(content=None),
            record(content="ok"),
        ),
        report,
    )
    assert [m.text for m in got] == ["ok"]
    assert "3 reaction(s) written as messages, skipped" in report.notes
    assert "1 record(s) with no text, media, link or call, skipped" in report.notes


def test_newest_first_in_the_file_comes_out_oldest_first() -> None:
    got = parse(
        thread(record(content="b", timestamp_ms=2000), record(content="a", timestamp_ms=1000))
    )
    assert [m.text for m in got] == ["a", "b"]


def test_times_are_wall_clock_in_the_ingest_zone() -> None:
    report = ParseReport(options=ParseOptions(timezone="Asia/Tokyo"))
    (m,) = parse(thread(record()), report)
    assert m.ts == "2024-01-05T19:20:00"
    assert "times converted from Unix time to Asia/Tokyo" in report.notes


# --- sniffing ----------------------------------------------------------------------------------


def test_sniff_and_the_name_hint() -> None:
    paths = sorted(FACEBOOK.rglob("message_*.json"))
    assert len(paths) == 3
    for path in paths:
        (found,) = discover(path)
        assert found.source.name_hint.startswith("facebook-ana/messages/inbox/")
        assert found.parser.name == "messenger"
        assert not InstagramParser().sniff(found.source)
    parser = find_parser(thread(record(), hint="instagram-bob/messages/inbox/x/message_1.json"))
    assert parser is not None and parser.name == "instagram"


@pytest.mark.parametrize(
    "fixture",
    [p for name in ("telegram", "discord", "chatlab", "slack") for p in fixtures(name)],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_sniff_leaves_other_json_alone(fixture: Path) -> None:
    files = [fixture] if fixture.is_file() else sorted(fixture.rglob("*.json"))
    for path in files:
        data = path.read_bytes()
        source = Source(HINT, partial(io.BytesIO, data), len(data), HINT)
        assert not MessengerParser().sniff(source)


@pytest.mark.parametrize(
    "data",
    [
        b'{"participants": [], "messages": []}',
        b'{"title": "x", "participants": [{"name": "a"}], "messages": [{"sender_name": "a", '
        b'"timestamp_ms": 1}]}',
        b'[{"sender_name": "a", "timestamp_ms": 1, "participants": 1, "messages": 1}]',
    ],
)
def test_sniff_rejects_other_files(data: bytes) -> None:
    assert not MessengerParser().sniff(Source(HINT, partial(io.BytesIO, data), len(data), HINT))


# --- bad input ---------------------------------------------------------------------------------


def test_bad_records_are_counted_by_position_and_the_rest_kept() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    got = parse(
        thread(
            record(content="b"), "x", record(timestamp_ms="soon"), record(sender_name=""),
            record(content="a"),
        ),
        report,
    )  # fmt: skip
    assert [m.text for m in got] == ["a", "b"]
    assert (report.unparsed, report.unparsed_lines, report.unit) == (3, [2, 3, 4], "record")


def test_a_file_in_which_every_record_fails_is_an_error() -> None:
    with pytest.raises(InputError) as caught:
        parse(thread(record(timestamp_ms=None), "x"))
    assert caught.value.problem == (
        "none of its 2 message record(s) could be read; the first, "
        "record 1: no readable `timestamp_ms`"
    )


def test_truncated_json_is_an_error() -> None:
    data = json.dumps({"participants": [], "messages": [record()]}).encode()[:-10]
    with pytest.raises(InputError, match="truncated or malformed JSON"):
        parse(Source(HINT, partial(io.BytesIO, data), len(data), HINT))


# --- the CLI -----------------------------------------------------------------------------------


def test_ingest_the_facebook_folder(tmp_path: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone("UTC")
    ws = tmp_path / "ws"
    run = cli("ingest", FACEBOOK, "-w", ws, "--json")
    assert run.code == 0, run.err
    data = cli("stats", "-w", ws, "--json").json()
    assert data["chats"] == 2
    assert data["senders"]["Benoît Léger"] == 5 and data["senders"]["Ana Müller"] == 5
    assert data["kinds"]["system"] == 2 and data["kinds"]["call"] == 1
    messages = cli("messages", "-w", ws, "--json", "--chat", "Benoît Léger")
    rows = [json.loads(line) for line in messages.out.splitlines()]
    assert [(r["ts"], r["kind"]) for r in rows[:2]] == [
        ("2024-01-05T09:55:00", "call"), ("2024-01-05T10:02:00", "text")
    ]  # fmt: skip
    assert [r["text"] for r in rows[-2:]] == ["Bon", "appétit !"]
