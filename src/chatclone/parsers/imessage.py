"""iMessage and SMS from macOS Messages' own database, `~/Library/Messages/chat.db` (SQLite).

The tables read (as imessage-exporter's `imessage-database` crate documents them):

- `message`: `ROWID guid text attributedBody handle_id date date_edited date_retracted is_from_me
  associated_message_type cache_has_attachments item_type group_action_type group_title
  other_handle thread_originator_guid`; columns a macOS version lacks are read as NULL.
- `handle` (`ROWID id`: a phone number or e-mail address), `chat` (`ROWID chat_identifier
  display_name`), `chat_message_join` and `chat_handle_join` (which chat a message and a handle
  belong to), `attachment` (`transfer_name filename`) and `message_attachment_join`.

What is made of it:

- One chat per `chat` row, named by its `display_name`, else by its members' handle ids joined,
  else by its `chat_identifier` (which also makes its id).
- `is_from_me` messages are from "Me", reported as the owner ("Me", "imessage:me"): the database
  does not hold the owner's name. Others are from their handle's id (in a 1:1 chat with no
  `handle_id`, the chat's one member).
- The text is `text`, else the string in `attributedBody`, a typedstream-archived
  NSAttributedString (macOS 13+ often leaves `text` NULL); `\\ufffc` placeholders are removed.
- Tapbacks (`associated_message_type` 2000–2005 added, 3000–3005 removed) are reactions to another
  message, not messages: skipped, counted in a note.
- Unsent messages (`date_retracted` set, or edited to nothing) are `deleted`; other edited ones
  are marked `edited`. Messages with attachments are `media` (the first file's `transfer_name`).
  Group events (`item_type` ≠ 0: members added or removed, renames, leaving) are `system`.
- `date` counts from 2001-01-01 UTC, in nanoseconds since macOS 10.13 and in seconds before;
  shown as wall-clock time in the ingest zone. `guid` is the source id; `thread_originator_guid`
  (an inline reply) is `reply_to`.

A row that cannot be understood (no readable `date`, no chat, no sender) is counted by its ROWID;
a database in which no row can be read fails.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chatclone.errors import InputError
from chatclone.messages import Kind, Message, chat_id_for
from chatclone.parsers.base import READ_ERRORS, Clock, ParseReport, Source, nothing_readable

OWNER = ("Me", "imessage:me")  # the database does not name its owner
MAGIC = b"SQLite format 3\x00"
APPLE_EPOCH = 978_307_200  # 2001-01-01T00:00:00Z in Unix seconds
_NEEDED = {"message", "handle", "chat"}
_TAPBACKS = frozenset(range(2000, 2006)) | frozenset(range(3000, 3006))
_PLACEHOLDER = "\ufffc"  # where an attachment sits in the text
_COLUMNS = (
    *("ROWID", "guid", "text", "attributedBody", "handle_id", "date", "date_edited"),
    *("date_retracted", "is_from_me", "associated_message_type", "cache_has_attachments"),
    *("item_type", "group_action_type", "group_title", "other_handle", "thread_originator_guid"),
)


class IMessageParser:
    name = "imessage"
    description = "iMessage/SMS from macOS Messages' database (~/Library/Messages/chat.db)"

    def sniff(self, source: Source) -> bool:
        if not source.head().startswith(MAGIC):
            return False
        try:
            with _database(source) as db:
                return _tables(db) >= _NEEDED
        except (sqlite3.Error, InputError, *READ_ERRORS):
            return False

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        report.unit = "message ROWID"
        try:
            with _database(source) as db:
                reader = _Reader(source, report, db)
                yield from reader.read()
        except sqlite3.Error as e:
            raise InputError(source.display, f"cannot read the database: {e}") from None
        except READ_ERRORS as e:
            raise InputError(source.display, f"cannot read (truncated or corrupt?): {e}") from None
        reader.finish()


@contextmanager
def _database(source: Source) -> Iterator[sqlite3.Connection]:
    """The database, opened read-only; a zip member (or anything not a plain file) is copied to a
    temporary file first, since SQLite reads only files."""
    path = Path(source.display)
    if path.is_file():
        with closing(_connect(path)) as db:
            yield db
        return
    with tempfile.TemporaryDirectory(prefix="chatclone-imessage-") as folder:
        copy = Path(folder) / "chat.db"
        with source.open() as f, copy.open("wb") as out:
            shutil.copyfileobj(f, out)
        with closing(_connect(copy)) as db:
            yield db


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)


def _tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def decode_attributed_body(blob: bytes | None) -> str | None:
    """The plain text of a typedstream-archived NSAttributedString (`message.attributedBody`).

    The string follows the `NSString` class name: a `+` type tag (a C string), then its length —
    one byte below 0x80, or 0x81 and two bytes, or 0x82 and four, little-endian — then UTF-8.
    None where the blob holds no such string.
    """
    if not blob:
        return None
    start = blob.find(b"NSString")
    if start < 0:
        return None
    tag = blob.find(b"+", start + len(b"NSString"))
    if tag < 0 or tag - start > 32:  # the tag follows within a few bytes of class info
        return None
    pos = tag + 1
    if pos >= len(blob):
        return None
    first = blob[pos]
    if first < 0x80:
        size, pos = first, pos + 1
    elif first in (0x81, 0x82):
        width = 2 if first == 0x81 else 4
        length = blob[pos + 1 : pos + 1 + width]
        if len(length) != width:
            return None
        size, pos = int.from_bytes(length, "little"), pos + 1 + width
    else:
        return None
    data = blob[pos : pos + size]
    if len(data) != size:
        return None
    return data.decode("utf-8", errors="replace")


def apple_time(value: object) -> int | None:
    """Unix seconds of a `message.date`: nanoseconds since 2001 (macOS 10.13+), else seconds."""
    if isinstance(value, float):
        value = int(value)
    if not isinstance(value, int) or value <= 0:
        return None
    seconds = value // 1_000_000_000 if value > 10**12 else value
    return seconds + APPLE_EPOCH


class _Reader:
    """Rows of `message` → messages."""

    def __init__(self, source: Source, report: ParseReport, db: sqlite3.Connection) -> None:
        self.source = source
        self.report = report
        self.db = db
        self.clock = Clock(report.options.timezone)
        self.rows = 0
        self.kept = 0
        self.first_failure: tuple[int, str] | None = None
        self.tapbacks = 0
        self.empty = 0
        self.from_body = 0
        self.tables = _tables(db)
        self.handles = {r: str(i) for r, i in db.execute("SELECT ROWID, id FROM handle")}
        self.members = self._members()
        self.chats = self._chats()
        self.files = self._attachments()

    # --- the lookup tables -----------------------------------------------------------------------

    def _members(self) -> dict[int, list[str]]:
        members: dict[int, list[str]] = {}
        if "chat_handle_join" in self.tables:
            query = "SELECT chat_id, handle_id FROM chat_handle_join ORDER BY chat_id, handle_id"
            for chat, handle in self.db.execute(query):
                if handle in self.handles:
                    members.setdefault(chat, []).append(self.handles[handle])
        return members

    def _chats(self) -> dict[int, tuple[str, str]]:
        """chat ROWID → (its stable key, its name)."""
        columns = self._columns("chat")
        name = "display_name" if "display_name" in columns else "NULL"
        chats = {}
        for rowid, identifier, display in self.db.execute(
            f"SELECT ROWID, chat_identifier, {name} FROM chat"
        ):
            key = str(identifier or rowid)
            members = self.members.get(rowid, [])
            chats[rowid] = (key, (display or "").strip() or ", ".join(members) or key)
        return chats

    def _attachments(self) -> dict[int, str]:
        """message ROWID → its first attachment's file name."""
        if not {"attachment", "message_attachment_join"} <= self.tables:
            return {}
        files: dict[int, str] = {}
        query = (
            "SELECT j.message_id, a.transfer_name, a.filename FROM message_attachment_join j "
            "JOIN attachment a ON a.ROWID = j.attachment_id ORDER BY j.message_id, a.ROWID"
        )
        for message, transfer, filename in self.db.execute(query):
            name = transfer or (filename or "").rsplit("/", 1)[-1]
            files.setdefault(message, name or "attachment")
        return files

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}

    # --- the messages ----------------------------------------------------------------------------

    def read(self) -> Iterator[Message]:
        present = self._columns("message")
        chosen = ", ".join(f"m.{c}" if c in present else "NULL" for c in _COLUMNS)
        # Which chat each message is in, read once: looking it up per message scanned the join
        # table every time (its key starts with the chat), quadratic in a real chat.db.
        chats: dict[int, int] = {}
        if "chat_message_join" in self.tables:
            query = "SELECT message_id, MIN(chat_id) FROM chat_message_join GROUP BY message_id"
            chats = {int(m): int(c) for m, c in self.db.execute(query)}
        query = f"SELECT {chosen} FROM message m ORDER BY m.ROWID"
        for values in self.db.execute(query):
            row = dict(zip(_COLUMNS, values, strict=True))
            row["chat_id"] = chats.get(int(row["ROWID"]))
            self.rows += 1
            try:
                message = self._message(row)
            except (TypeError, ValueError) as e:  # a value of an unexpected type
                message = self._fail(row["ROWID"], f"unreadable value ({e})")
            if message is not None:
                self.kept += 1
                yield message

    def _message(self, row: dict[str, Any]) -> Message | None:
        rowid = int(row["ROWID"])
        if (row["associated_message_type"] or 0) in _TAPBACKS:
            self.tapbacks += 1
            return None
        instant = apple_time(row["date"])
        ts = self.clock.wall_time(instant) if instant is not None else None
        if ts is None:
            return self._fail(rowid, "no readable `date`")
        row["ts"] = ts
        if row["chat_id"] not in self.chats:
            return self._fail(rowid, "in no chat (`chat_message_join`)")
        key, chat = self.chats[row["chat_id"]]
        sender = self._sender(row)
        item_type = int(row["item_type"] or 0)
        if item_type != 0:
            event = self._event(item_type, row, sender)
            return self._make(row, key, chat, None, Kind.SYSTEM, event, None)
        if sender is None:
            return self._fail(rowid, "no sender (`handle_id`) in a group chat")
        body: str | None = row["text"]
        if not body and (body := decode_attributed_body(row["attributedBody"])):
            self.from_body += 1
        text = (body or "").replace(_PLACEHOLDER, "").strip()
        attachment = self.files.get(rowid)
        edited = bool(row["date_edited"])
        if row["date_retracted"] or (edited and not text and attachment is None):
            return self._make(row, key, chat, sender, Kind.DELETED, "", None)
        if attachment is None and row["cache_has_attachments"]:
            attachment = "attachment"  # the flag is set but the attachment row is gone
        if attachment is not None:
            return self._make(row, key, chat, sender, Kind.MEDIA, text, attachment, edited)
        if not text:
            self.empty += 1
            return None
        return self._make(row, key, chat, sender, Kind.TEXT, text, None, edited)

    def _sender(self, row: dict[str, Any]) -> str | None:
        if row["is_from_me"]:
            self.report.owner = OWNER
            return OWNER[0]
        if row["handle_id"] in self.handles:
            return self.handles[row["handle_id"]]
        members = self.members.get(row["chat_id"], [])
        return members[0] if len(members) == 1 else None

    def _event(self, item_type: int, row: dict[str, Any], sender: str | None) -> str:
        """A group event in words: who did what."""
        who = sender or "Someone"
        action = int(row["group_action_type"] or 0)
        other = self.handles.get(row["other_handle"], "someone")
        if item_type == 1:
            return f"{who} {'removed' if action == 1 else 'added'} {other}"
        if item_type == 2:
            title = (row["group_title"] or "").strip()
            return f"{who} named the conversation “{title}”" if title else f"{who} removed the name"
        if item_type == 3:
            done = {0: "left the conversation", 1: "changed the group photo"}
            return f"{who} {done.get(action, 'removed the group photo')}"
        return f"{who}: conversation event (item_type {item_type})"

    def _make(
        self,
        row: dict[str, Any],
        key: str,
        chat: str,
        sender: str | None,
        kind: Kind,
        text: str,
        attachment: str | None,
        edited: bool = False,
    ) -> Message:
        return Message(
            chat=chat,
            chat_id=chat_id_for("imessage", key),
            source="imessage",
            ts=row["ts"],
            sender=sender,
            kind=kind,
            text=text,
            edited=edited,
            reply_to=row["thread_originator_guid"] or None,
            source_id=row["guid"] or None,
            attachment=attachment,
            origin_file=self.source.display,
            origin_line=int(row["ROWID"]),
        )

    def _fail(self, rowid: int, reason: str) -> Message | None:
        """Count the row as not understood; None, the message it does not make."""
        self.report.not_understood(rowid)
        if self.first_failure is None:
            self.first_failure = (rowid, reason)
        return None

    # --- the end ---------------------------------------------------------------------------------

    def finish(self) -> None:
        if self.first_failure is not None and not self.kept:
            rowid, reason = self.first_failure
            raise nothing_readable(
                self.source, self.report.unparsed, "message row", f"ROWID {rowid}", reason
            )
        notes = self.report.notes
        notes.append(f"macOS Messages chat.db: {len(self.chats)} chat(s), {self.rows} row(s)")
        notes.append(f"times (Apple epoch, 2001-01-01) shown in {self.clock.describe()}")
        if self.report.owner is not None:
            notes.append(
                'sent messages are from "Me" ("imessage:me"): the database does not hold your name'
            )
        else:
            notes.append('no sent message: who is "me" is left to chatclone\'s inference')
        if self.from_body:
            notes.append(f"{self.from_body} message(s) read from `attributedBody` (no `text`)")
        if self.tapbacks:
            notes.append(f"{self.tapbacks} tapback(s) (reactions) skipped")
        if self.empty:
            notes.append(f"{self.empty} message(s) with no text or file skipped")
