"""macOS Messages chat.db: the golden file, the mapping, typedstream text, bad input, zips, the CLI.

Regenerate the committed fixture with `.venv/bin/python tests/test_imessage.py` (then
`UPDATE_GOLDEN=1` for its golden file, and read the diff).
"""

from __future__ import annotations

import io
import sqlite3
import sys
import zipfile
from collections.abc import Callable, Sequence
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from chatclone.errors import InputError
from chatclone.messages import Kind, Message
from chatclone.parsers.base import ParseOptions, ParseReport, Source
from chatclone.parsers.imessage import APPLE_EPOCH, IMessageParser, decode_attributed_body
from chatclone.parsers.sources import discover

sys.path.insert(0, str(Path(__file__).parent))  # when run as a script to regenerate the fixture

from golden import FIXTURES, check_fixture, fixtures
from helpers import cli

PARSER = IMessageParser()
IMESSAGE = FIXTURES / "imessage"
GOLDEN_ZONE = "Europe/Berlin"

# --- building a chat.db --------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL,
    country TEXT, service TEXT NOT NULL, uncanonicalized_id TEXT, person_centric_id TEXT);
CREATE TABLE chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
    style INTEGER, state INTEGER, account_id TEXT, properties BLOB, chat_identifier TEXT,
    service_name TEXT, room_name TEXT, account_login TEXT, is_archived INTEGER DEFAULT 0,
    last_addressed_handle TEXT, display_name TEXT, group_id TEXT);
CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
    text TEXT, replace INTEGER DEFAULT 0, service_center TEXT, handle_id INTEGER DEFAULT 0,
    subject TEXT, country TEXT, attributedBody BLOB, version INTEGER DEFAULT 0,
    type INTEGER DEFAULT 0, service TEXT, account TEXT, account_guid TEXT, error INTEGER DEFAULT 0,
    date INTEGER, date_read INTEGER, date_delivered INTEGER, is_delivered INTEGER DEFAULT 0,
    is_finished INTEGER DEFAULT 0, is_emote INTEGER DEFAULT 0, is_from_me INTEGER DEFAULT 0,
    is_empty INTEGER DEFAULT 0, is_read INTEGER DEFAULT 0, cache_has_attachments INTEGER DEFAULT 0,
    item_type INTEGER DEFAULT 0, other_handle INTEGER DEFAULT 0, group_title TEXT,
    group_action_type INTEGER DEFAULT 0, associated_message_guid TEXT,
    associated_message_type INTEGER DEFAULT 0, balloon_bundle_id TEXT, payload_data BLOB,
    expressive_send_style_id TEXT, thread_originator_guid TEXT, thread_originator_part TEXT,
    date_retracted INTEGER DEFAULT 0, date_edited INTEGER DEFAULT 0,
    message_summary_info BLOB);
CREATE TABLE chat_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
    message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, message_date INTEGER DEFAULT 0,
    PRIMARY KEY (chat_id, message_id));
CREATE TABLE chat_handle_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
    handle_id INTEGER REFERENCES handle (ROWID) ON DELETE CASCADE, UNIQUE(chat_id, handle_id));
CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
    created_date INTEGER DEFAULT 0, filename TEXT, uti TEXT, mime_type TEXT,
    transfer_state INTEGER DEFAULT 0, is_outgoing INTEGER DEFAULT 0, transfer_name TEXT,
    total_bytes INTEGER DEFAULT 0);
CREATE TABLE message_attachment_join (message_id INTEGER REFERENCES message (ROWID)
    ON DELETE CASCADE, attachment_id INTEGER REFERENCES attachment (ROWID) ON DELETE CASCADE,
    UNIQUE(message_id, attachment_id));
"""


def typedstream(text: str) -> bytes:
    """An `attributedBody` as Messages writes it: a typedstream NSMutableAttributedString whose
    NSString is `text`, followed by one message-part attribute run."""
    data = text.encode()
    if len(data) < 0x80:
        size = bytes([len(data)])
    elif len(data) < 0x10000:
        size = b"\x81" + len(data).to_bytes(2, "little")
    else:
        size = b"\x82" + len(data).to_bytes(4, "little")
    return (
        b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x19NSMutableAttributedString\x00"
        b"\x84\x84\x12NSAttributedString\x00\x84\x84\x08NSObject\x00\x85\x92\x84\x84\x84"
        b"\x08NSString\x01\x94\x84\x01+" + size + data + b"\x86\x84\x02iI\x01"
        b"\x05\x92\x84\x84\x84\x0cNSDictionary\x00\x94\x84\x01i\x01\x92\x84\x96\x96"
        b"\x1d__kIMMessagePartAttributeName\x86\x92\x84\x84\x84\x08NSNumber\x00\x84\x84"
        b"\x07NSValue\x00\x94\x84\x01*\x84\x99\x99\x00\x86\x86\x86"
    )


def apple_ns(unix_seconds: int) -> int:
    """A `message.date` as macOS 10.13+ writes it: nanoseconds since 2001-01-01 UTC."""
    return (unix_seconds - APPLE_EPOCH) * 1_000_000_000


T0 = 1_704_477_600  # 2024-01-05T18:00:00Z
LONG = "A long one, to need a two-byte length: " + "la " * 40 + "— done ✓"
HANDLES = [(1, "+15551234567"), (2, "bob@example.com"), (3, "+15559876543")]
CHATS = [  # ROWID, guid, style (45 1:1, 43 group), chat_identifier, display_name
    (1, "iMessage;-;+15551234567", 45, "+15551234567", ""),
    (2, "iMessage;+;chat123456789", 43, "chat123456789", "Trip"),
]
MEMBERS = [(1, 1), (2, 2), (2, 3)]
ATTACHMENTS = [(1, "at_1", "~/Library/Messages/Attachments/ab/11/IMG_0001.HEIC", "IMG_0001.HEIC")]


def msg(rowid: int, chat: int, date: object, **fields: Any) -> dict[str, Any]:
    return {"ROWID": rowid, "guid": f"GUID-{rowid}", "date": date, "chat": chat, **fields}


FIXTURE_MESSAGES = [
    msg(1, 1, T0 - APPLE_EPOCH - 86400, text="Hi there", handle_id=1),  # seconds: before 10.13
    msg(2, 1, apple_ns(T0), attributedBody=typedstream("Hey Alice! 👋"), is_from_me=1),
    msg(
        3,
        1,
        apple_ns(T0 + 5),
        text="Loved “Hey Alice! 👋”",
        handle_id=1,
        associated_message_type=2000,
        associated_message_guid="p:0/GUID-2",
    ),
    msg(4, 1, apple_ns(T0 + 60), text="\ufffclook", is_from_me=1, cache_has_attachments=1),
    msg(
        5,
        1,
        apple_ns(T0 + 120),
        handle_id=1,
        date_edited=apple_ns(T0 + 130),
        date_retracted=apple_ns(T0 + 130),
    ),
    msg(6, 1, apple_ns(T0 + 180), text="See you at 8", handle_id=1, date_edited=apple_ns(T0 + 200)),
    msg(7, 1, apple_ns(T0 + 240), text="yes!", handle_id=1, thread_originator_guid="GUID-2"),
    msg(8, 2, apple_ns(T0 + 300), is_from_me=1, item_type=2, group_title="Trip"),
    msg(9, 2, apple_ns(T0 + 360), text="Where do we meet?", handle_id=2),
    msg(10, 2, apple_ns(T0 + 420), attributedBody=typedstream(LONG), handle_id=3),
    msg(11, 2, apple_ns(T0 + 480), handle_id=2, item_type=1, other_handle=3),
    msg(12, 2, apple_ns(T0 + 540), handle_id=3, item_type=3, group_action_type=0),
    msg(13, 2, apple_ns(T0 + 600), text="who am I?", handle_id=0),  # a group row without a sender
    msg(14, 1, None, text="no date", handle_id=1),
]
FIXTURE_FILES = [(4, 1)]


def make_db(
    path: Path,
    messages: Sequence[dict[str, Any]] = FIXTURE_MESSAGES,
    files: Sequence[tuple[int, int]] = FIXTURE_FILES,
) -> Path:
    """A chat.db at `path` with the real tables, the handles and chats above, and `messages`."""
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO handle (ROWID, id, service) VALUES (?, ?, 'iMessage')", HANDLES)
        db.executemany(
            "INSERT INTO chat (ROWID, guid, style, chat_identifier, display_name) "
            "VALUES (?, ?, ?, ?, ?)",
            CHATS,
        )
        db.executemany("INSERT INTO chat_handle_join VALUES (?, ?)", MEMBERS)
        db.executemany(
            "INSERT INTO attachment (ROWID, guid, filename, transfer_name) VALUES (?, ?, ?, ?)",
            ATTACHMENTS,
        )
        for fields in messages:
            row = {k: v for k, v in fields.items() if k != "chat"}
            names = ", ".join(row)
            marks = ", ".join("?" * len(row))
            db.execute(f"INSERT INTO message ({names}) VALUES ({marks})", list(row.values()))
            db.execute(
                "INSERT INTO chat_message_join (chat_id, message_id) VALUES (?, ?)",
                (fields["chat"], fields["ROWID"]),
            )
        db.executemany("INSERT INTO message_attachment_join VALUES (?, ?)", files)
    return path


@pytest.fixture
def chat_db(tmp_path: Path) -> Path:
    return make_db(tmp_path / "chat.db")


def parse(path: Path, report: ParseReport | None = None, zone: str = "UTC") -> list[Message]:
    report = report or ParseReport(options=ParseOptions(timezone=zone))
    source = discover(path)[0].source
    return list(PARSER.parse(source, report))


# --- golden --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", fixtures("imessage"), ids=lambda p: p.name)
def test_golden(fixture: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone(GOLDEN_ZONE)
    check_fixture(fixture, {})


# --- the mapping ---------------------------------------------------------------------------------


def test_the_mapping(chat_db: Path) -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    got = {m.origin_line or 0: m for m in parse(chat_db, report)}
    assert sorted(got) == [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    first, hey = got[1], got[2]
    assert (first.chat, first.sender, first.ts) == (
        "+15551234567",
        "+15551234567",
        "2024-01-04T18:00:00",
    )
    assert (hey.sender, hey.text, hey.ts, hey.source_id) == (
        "Me",
        "Hey Alice! 👋",
        "2024-01-05T18:00:00",
        "GUID-2",
    )
    assert (got[4].kind, got[4].text, got[4].attachment) == (Kind.MEDIA, "look", "IMG_0001.HEIC")
    assert (got[5].kind, got[5].text) == (Kind.DELETED, "")
    assert got[6].edited and not got[7].edited and got[7].reply_to == "GUID-2"
    assert (got[8].chat, got[8].kind, got[8].sender) == ("Trip", Kind.SYSTEM, None)
    assert got[8].text == "Me named the conversation “Trip”"
    assert got[10].text == LONG and got[10].sender == "+15559876543"
    assert got[11].text == "bob@example.com added +15559876543"
    assert got[12].text == "+15559876543 left the conversation"
    assert got[1].chat_id != got[9].chat_id and got[9].chat_id.startswith("imessage:")
    assert report.owner == ("Me", "imessage:me")
    assert (report.unparsed, report.unparsed_lines, report.unit) == (2, [13, 14], "message ROWID")
    assert "1 tapback(s) (reactions) skipped" in report.notes
    assert "2 message(s) read from `attributedBody` (no `text`)" in report.notes  # fmt: skip


def test_a_chat_without_a_name_is_named_by_its_members(tmp_path: Path) -> None:
    rows = [msg(1, 2, apple_ns(T0), text="hi", handle_id=2)]
    db = make_db(tmp_path / "chat.db", rows, [])
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE chat SET display_name = NULL")
    (m,) = parse(db)
    assert m.chat == "bob@example.com, +15559876543"


def test_an_older_schema_without_newer_columns(tmp_path: Path) -> None:
    db = make_db(tmp_path / "chat.db", [msg(1, 1, 100, text="old", handle_id=1)], [])
    with closing(sqlite3.connect(db)) as conn, conn:
        for column in ("date_retracted", "date_edited", "thread_originator_guid", "attributedBody"):
            conn.execute(f"ALTER TABLE message DROP COLUMN {column}")
    (m,) = parse(db)
    assert (m.text, m.ts, m.edited) == ("old", "2001-01-01T00:01:40", False)


# --- attributedBody ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "hi", "é" * 100, "x" * 300, "y" * 70_000])
def test_typedstream_strings_of_every_length_form(text: str) -> None:
    assert decode_attributed_body(typedstream(text)) == text


CUT = typedstream("hello")[: typedstream("hello").find(b"hello") + 3]  # ends inside the string


@pytest.mark.parametrize(
    "blob", [None, b"", b"streamtyped", CUT, b"NSString\x01\x94\x84\x01+\x82\x05\x00"]
)
def test_typedstream_without_a_whole_string(blob: bytes | None) -> None:
    assert decode_attributed_body(blob) is None


# --- sniffing, zips, bad input -------------------------------------------------------------------


def source_of(data: bytes, display: str = "export.zip:chat.db") -> Source:
    return Source(display, partial(io.BytesIO, data), len(data), "chat.db")


def test_sniff(chat_db: Path, tmp_path: Path) -> None:
    assert PARSER.sniff(source_of(chat_db.read_bytes()))  # not a file: copied first
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as db, db:
        db.execute("CREATE TABLE message (id INTEGER)")
    assert not PARSER.sniff(source_of(other.read_bytes(), str(other)))
    assert not PARSER.sniff(source_of(b"SQLite format 3\x00" + b"\x00" * 200))
    assert not PARSER.sniff(source_of(b"12/31/23, 10:00 PM - Alice: hello\n"))


def test_a_chat_db_inside_a_zip(chat_db: Path, tmp_path: Path) -> None:
    archive = tmp_path / "mac.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(chat_db, "Messages/chat.db")
    (found,) = discover(archive)
    assert found.parser.name == "imessage"
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    texts = [m.text for m in found.parser.parse(found.source, report)]
    assert texts == [m.text for m in parse(chat_db)]


def test_every_row_failing_is_an_error(tmp_path: Path) -> None:
    db = make_db(tmp_path / "chat.db", [msg(1, 1, None, text="a"), msg(2, 1, "soon", text="b")], [])
    with pytest.raises(InputError, match=r"none of its 2 message row\(s\).*ROWID 1: no readable"):
        parse(db)


def test_a_corrupt_database_is_an_error(chat_db: Path, tmp_path: Path) -> None:
    data = chat_db.read_bytes()
    broken = tmp_path / "broken.db"
    broken.write_bytes(data[:100] + b"\xff" * (len(data) - 100))
    source = source_of(broken.read_bytes(), str(broken))
    with pytest.raises(InputError, match="cannot read the database"):
        list(PARSER.parse(source, ParseReport()))


# --- the CLI -------------------------------------------------------------------------------------


def test_ingest_and_stats(tmp_path: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone(GOLDEN_ZONE)
    ws = tmp_path / "ws"
    run = cli("ingest", IMESSAGE / "chat.db", "-w", ws, "--json")
    assert run.code == 0, run.err
    data = cli("stats", "-w", ws, "--json").json()
    assert data["kinds"]["media"] == 1 and data["kinds"]["system"] == 3
    assert data["senders"]["Me"] == 2


if __name__ == "__main__":
    target = IMESSAGE / "chat.db"
    target.unlink(missing_ok=True)
    make_db(target)
    print(f"wrote {target}")
