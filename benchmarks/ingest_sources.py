"""Run: python benchmarks/ingest_sources.py [--messages 100000] [--repeat 3]

Ingest throughput per source: `chatclone ingest` (whole processes, fresh stores, median of
`--repeat`) of a generated export of the same number of messages in each format, side by side in
one run, with the WhatsApp text export (the most tuned path) as the baseline the others are
compared with.

Generated, deterministic exports: WhatsApp (Android text), Discord (DiscordChatExporter JSON, one
channel), Messenger (Meta JSON split into message_N.json files of 10,000, newest first, with
mojibake), and iMessage (a macOS chat.db with the tables the parser reads, text in
`attributedBody` for a third of the messages) when the iMessage parser is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest_whatsapp import EXPORT_NAME, generate_export

REPO = Path(__file__).resolve().parent.parent
CHATCLONE = REPO / ".venv" / "bin" / "chatclone"
PEOPLE = ["Ana Lima", "Ben Ortiz", "Cleo Park", "Sam Rivera"]
WORDS = [
    "ok",
    "sure",
    "lol",
    "see",
    "you",
    "tomorrow",
    "what",
    "time",
    "are",
    "we",
    "still",
    "on",
    "for",
    "dinner",
    "haha",
    "yes",
    "no",
    "maybe",
]
START = datetime(2023, 1, 1, tzinfo=UTC)


def _texts(n: int, seed: int) -> list[tuple[datetime, str, str]]:
    rng = random.Random(seed)
    moment = START
    out = []
    for _ in range(n):
        moment += timedelta(seconds=rng.randint(5, 900))
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 14)))
        out.append((moment, rng.choice(PEOPLE), text))
    return out


def discord_export(folder: Path, n: int) -> Path:
    messages = [
        {
            "id": str(10**17 + i),
            "type": "Default",
            "timestamp": moment.isoformat(),
            "timestampEdited": None,
            "callEndedTimestamp": None,
            "isPinned": False,
            "content": text,
            "author": {
                "id": str(1000 + PEOPLE.index(who)),
                "name": who.split()[0].lower(),
                "discriminator": "0000",
                "nickname": who,
                "isBot": False,
            },
            "attachments": [],
            "embeds": [],
            "stickers": [],
            "reactions": [],
            "mentions": [],
        }
        for i, (moment, who, text) in enumerate(_texts(n, 1))
    ]
    export = {
        "guild": {"id": "1", "name": "Friends", "iconUrl": ""},
        "channel": {"id": "2", "type": "GuildTextChat", "categoryId": None, "category": None,
                    "name": "general", "topic": None},
        "dateRange": {"after": None, "before": None},
        "exportedAt": datetime.now(UTC).isoformat(),
        "messages": messages,
        "messageCount": len(messages),
    }  # fmt: skip
    path = folder / "Friends - general [2].json"
    path.write_text(json.dumps(export, ensure_ascii=False, indent=2), "utf-8")
    return path


def _mojibake(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


def messenger_export(folder: Path, n: int) -> Path:
    thread = folder / "facebook-sam" / "messages" / "inbox" / "anafriends_123"
    thread.mkdir(parents=True)
    rows = [
        {"sender_name": _mojibake(who + " é"), "timestamp_ms": int(moment.timestamp() * 1000),
         "content": _mojibake(text + " café"), "type": "Generic", "is_geoblocked_for_viewer": False}
        for moment, who, text in _texts(n, 2)
    ]  # fmt: skip
    rows.reverse()  # newest first, as Meta writes them
    for part, start in enumerate(range(0, len(rows), 10_000), 1):
        data = {
            "participants": [{"name": _mojibake(p + " é")} for p in PEOPLE],
            "messages": rows[start : start + 10_000],
            "title": "Friends",
            "is_still_participant": True,
            "thread_path": "inbox/anafriends_123",
        }
        (thread / f"message_{part}.json").write_text(json.dumps(data, indent=2), "utf-8")
    return folder / "facebook-sam"


def _typedstream(text: str) -> bytes:
    """An attributedBody blob: the NSString class marker, then the UTF-8 text with its length."""
    body = text.encode("utf-8")
    size = bytes([len(body)]) if len(body) < 0x80 else b"\x81" + len(body).to_bytes(2, "little")
    return (
        b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x12NSAttributedString\x00"
        b"\x84\x84\x08NSObject\x00\x85\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+"
        + size
        + body
        + b"\x86\x84\x02iI\x01\x05\x92\x84\x84\x84\x0cNSDictionary\x00\x94\x84\x01i\x00\x86\x86"
    )


def imessage_export(folder: Path, n: int) -> Path:
    path = folder / "chat.db"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT, service TEXT);
        CREATE TABLE chat (ROWID INTEGER PRIMARY KEY, guid TEXT, chat_identifier TEXT,
            display_name TEXT, style INTEGER, service_name TEXT);
        CREATE TABLE message (ROWID INTEGER PRIMARY KEY, guid TEXT, text TEXT, attributedBody BLOB,
            handle_id INTEGER, date INTEGER, date_edited INTEGER DEFAULT 0,
            date_retracted INTEGER DEFAULT 0, is_from_me INTEGER, associated_message_type INTEGER
            DEFAULT 0, associated_message_guid TEXT, cache_has_attachments INTEGER DEFAULT 0,
            item_type INTEGER DEFAULT 0, group_action_type INTEGER DEFAULT 0, group_title TEXT,
            thread_originator_guid TEXT, service TEXT, other_handle INTEGER DEFAULT 0);
        CREATE TABLE chat_message_join (chat_id INTEGER, message_id INTEGER, message_date INTEGER);
        CREATE TABLE chat_handle_join (chat_id INTEGER, handle_id INTEGER);
        CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY, guid TEXT, filename TEXT,
            mime_type TEXT, transfer_name TEXT);
        CREATE TABLE message_attachment_join (message_id INTEGER, attachment_id INTEGER);
        """
    )
    db.executemany("INSERT INTO handle VALUES (?, ?, 'iMessage')",
                   [(i + 1, f"+1555000{i:04d}") for i in range(3)])  # fmt: skip
    db.execute(
        "INSERT INTO chat VALUES (1, 'iMessage;+;chat1', 'chat1', 'Friends', 43, 'iMessage')"
    )
    db.executemany("INSERT INTO chat_handle_join VALUES (1, ?)", [(1,), (2,), (3,)])
    apple = datetime(2001, 1, 1, tzinfo=UTC)
    rows, joins = [], []
    for i, (moment, who, text) in enumerate(_texts(n, 3), 1):
        ns = int((moment - apple).total_seconds()) * 1_000_000_000
        me = who == "Sam Rivera"
        handle = 0 if me else PEOPLE.index(who) + 1
        plain, blob = (None, _typedstream(text)) if i % 3 == 0 else (text, None)
        rows.append((i, f"guid-{i}", plain, blob, handle, ns, int(me)))
        joins.append((1, i, ns))
    db.executemany(
        "INSERT INTO message (ROWID, guid, text, attributedBody, handle_id, date, is_from_me) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.executemany("INSERT INTO chat_message_join VALUES (?, ?, ?)", joins)
    db.commit()
    db.close()
    return path


def has_parser(name: str) -> bool:
    check = f"from chatclone.parsers import parsers; print({name!r} in [p.name for p in parsers()])"
    out = subprocess.run([str(CHATCLONE.with_name("python")), "-c", check], capture_output=True)
    return out.stdout.strip() == b"True"


def timed(path: Path, scratch: Path) -> tuple[float, int]:
    store = Path(tempfile.mkdtemp(dir=scratch))
    env = {**os.environ, "TZ": "UTC"}
    started = time.perf_counter()
    run = subprocess.run(
        [str(CHATCLONE), "ingest", str(path), "-w", str(store), "--json"],
        check=True,
        env=env,
        capture_output=True,
    )
    seconds = time.perf_counter() - started
    return seconds, int(json.loads(run.stdout)["messages"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    makers: dict[str, Callable[[Path, int], Path]] = {
        "whatsapp": lambda folder, n: _whatsapp(folder, n),
        "discord": discord_export,
        "messenger": messenger_export,
    }
    if has_parser("imessage"):
        makers["imessage"] = imessage_export
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        exports = {}
        for name, make in makers.items():
            folder = scratch / name
            folder.mkdir()
            exports[name] = make(folder, args.messages)
        results: dict[str, list[float]] = {name: [] for name in exports}
        counts: dict[str, int] = {}
        for _ in range(args.repeat):  # interleaved, so a busy machine slows all alike
            for name, path in exports.items():
                seconds, counts[name] = timed(path, scratch)
                results[name].append(seconds)
    base = args.messages / statistics.median(results["whatsapp"])
    print(
        f"{args.messages:,} generated messages per source, median of {args.repeat} (whole process)"
    )
    print("| source | messages stored | seconds | messages/s | vs WhatsApp |")
    print("|---|---:|---:|---:|---:|")
    for name, values in results.items():
        seconds = statistics.median(values)
        rate = counts[name] / seconds
        print(f"| {name} | {counts[name]:,} | {seconds:.2f} | {rate:,.0f} | {rate / base:.2f}× |")


def _whatsapp(folder: Path, n: int) -> Path:
    path = folder / EXPORT_NAME
    generate_export(path, n, seed=7)
    return path


if __name__ == "__main__":
    main()
