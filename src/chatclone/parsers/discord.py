"""Discord channels exported as JSON by DiscordChatExporter (Tyrrrz/DiscordChatExporter).

One file is one channel: `guild` {id, name}, `channel` {id, type, category, name}, then
`messages`, then `messageCount` (the shape `JsonMessageWriter.cs` writes). The file is read as a
stream of JSON events (ijson, `jsonstream`), so a large export is never loaded whole.

The chat is the channel: "Guild / #channel" in a server ("Guild / #parent / thread" for a
thread), and in direct messages the name the exporter gives the channel (the recipients' names, or
a group's own name). Its id is the channel's id, so re-exports of the same channel meet.

Times: the exporter writes instants with a UTC offset; they are stored as the local wall-clock time
of the ingest zone (`ParseOptions.timezone`, else this machine's), like every other `ts`, and a
note says which zone that was.

Notices the exporter writes as messages with an author (member joined, pinned, thread started,
recipient added…) become `system` lines naming that author; calls become `call`s. A type not
known here is kept as a system line and counted in a note. JSON has no useful line numbers, so a
record that cannot be read is reported in `ParseReport.unparsed_lines` by its message id (0 when it
has none); a file in which no record can be read fails naming the first one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chatclone.errors import InputError
from chatclone.messages import Kind, Message, chat_id_for
from chatclone.parsers.base import Clock, ParseReport, Source, nothing_readable
from chatclone.parsers.jsonstream import STARTS, Events, json_events, value_at

_SNIFF_GUILD = re.compile(rb'"guild"\s*:\s*\{')
_SNIFF_CHANNEL = re.compile(rb'"channel"\s*:\s*\{')
_SNOWFLAKE = re.compile(r"\d{1,20}")

_HEADER_FIELDS = {
    "guild.id": "guild_id", "guild.name": "guild", "channel.id": "id", "channel.type": "type",
    "channel.category": "category", "channel.name": "name",
}  # fmt: skip
_DIRECT = ("DirectTextChat", "DirectGroupTextChat")
_DIRECT_GUILD_ID = "0"  # the exporter's pseudo-guild "Direct Messages"

_TEXT_TYPES = ("Default", "Reply")
# The exporter's notices (MessageKind): what the author did, when its `content` is empty.
_NOTICES = {
    "RecipientAdd": "added a recipient",
    "RecipientRemove": "removed a recipient",
    "ChannelNameChange": "changed the channel name",
    "ChannelIconChange": "changed the channel icon",
    "ChannelPinnedMessage": "pinned a message",
    "GuildMemberJoin": "joined the server",
    "ThreadCreated": "started a thread",
}


class DiscordParser:
    name = "discord"
    description = "Discord channel exported as JSON by DiscordChatExporter"

    def sniff(self, source: Source) -> bool:
        head = source.head_content()
        if not head.startswith(b"{"):
            return False
        return bool(_SNIFF_GUILD.search(head) and _SNIFF_CHANNEL.search(head))

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        reader = _Reader(source, report)
        with json_events(source, report.progress) as events:
            report.unit = "message id"  # records are not lines: problems are named by id
            yield from reader.read(events)
        if not reader.saw_messages:
            raise InputError(source.display, "no `messages` in this Discord export")
        if reader.records and not reader.kept:
            ident, reason = reader.first_failure or ("", "not understood")
            raise nothing_readable(source, reader.records, "message record", ident, reason)
        report.notes.extend(reader.notes())


@dataclass
class _Channel:
    """What the export says about its channel, and the chat made of it."""

    fields: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    chat_id: str = ""

    def settle(self) -> None:
        f = {k: v for k, v in self.fields.items() if isinstance(v, str | int) and str(v) != ""}
        ident = str(f["id"]) if "id" in f else None
        channel = str(f.get("name") or (f"channel {ident}" if ident else "unnamed channel"))
        direct = f.get("type") in _DIRECT or str(f.get("guild_id")) == _DIRECT_GUILD_ID
        if direct:
            self.name = channel
        else:
            parts = [str(f.get("guild") or "Discord"), f"#{channel}"]
            if "Thread" in str(f.get("type")) and f.get("category"):
                parts[1:] = [f"#{f['category']}", channel]  # a thread's `category` is its parent
            self.name = " / ".join(parts)
        self.chat_id = f"discord:{ident}" if ident else chat_id_for("discord", self.name)

    @property
    def ready(self) -> bool:
        return bool(self.name)


class _Clock(Clock):
    """The exporter's instants (ISO 8601 with an offset) as wall-clock time in the ingest zone."""

    def __init__(self, zone_name: str | None) -> None:
        super().__init__(zone_name)
        self.without_offset = 0  # written without an offset: kept as written

    def iso_wall_time(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        if moment.tzinfo is None:
            self.without_offset += 1
        else:
            try:
                moment = moment.astimezone(self.zone).replace(tzinfo=None)
            except (OverflowError, OSError):
                return None
        return moment.isoformat(timespec="seconds")


class _Reader:
    """ijson events → messages."""

    def __init__(self, source: Source, report: ParseReport) -> None:
        self.source = source
        self.report = report
        self.channel = _Channel()
        self.clock = _Clock(report.options.timezone)
        self.pending: list[Any] = []  # records read before the channel (never, from the exporter)
        self.saw_messages = False
        self.records = 0
        self.kept = 0
        self.first_failure: tuple[str, str] | None = None
        self.unknown_types: Counter[str] = Counter()
        self.message_count: Any = None

    def read(self, events: Events) -> Iterator[Message]:
        for prefix, event, value in events:
            if prefix == "messages.item":
                record = value_at(events, event, value)
                if self.channel.ready:
                    yield from self._message(record)
                else:
                    self.pending.append(record)
            elif prefix in _HEADER_FIELDS and event not in STARTS:
                self.channel.fields[_HEADER_FIELDS[prefix]] = value
            elif prefix == "messages" and event == "start_array":
                self.saw_messages = True
                if "id" in self.channel.fields:  # else the channel comes later: wait for it
                    self.channel.settle()
            elif prefix == "messageCount":
                self.message_count = value
        if not self.channel.ready:
            self.channel.settle()
        pending, self.pending = self.pending, []
        for record in pending:
            yield from self._message(record)

    def notes(self) -> list[str]:
        notes = [f"DiscordChatExporter JSON export of {self.channel.name!r}"]
        notes.append(f"times converted from their UTC offsets to {self.clock.describe()}")
        if self.clock.without_offset:
            notes.append(f"{self.clock.without_offset} time(s) had no UTC offset: kept as written")
        if self.unknown_types:
            listed = ", ".join(f"{t} ({n})" for t, n in sorted(self.unknown_types.items()))
            total = sum(self.unknown_types.values())
            notes.append(f"{total} message(s) of types not known here, kept as system: {listed}")
        count = self.message_count
        if isinstance(count, int) and not isinstance(count, bool) and count != self.records:
            notes.append(f"`messageCount` says {count} but {self.records} record(s) were read")
        return notes

    def _message(self, raw: Any) -> Iterator[Message]:
        self.records += 1
        if not isinstance(raw, dict):
            self._fail(None, "not a JSON object")
            return
        ident = raw.get("id")
        kind = raw.get("type")
        if not isinstance(kind, str) or not kind:
            self._fail(ident, "no message `type`")
            return
        ts = self.clock.iso_wall_time(raw.get("timestamp"))
        if ts is None:
            self._fail(ident, "no readable `timestamp`")
            return
        author = _author(raw.get("author"))
        if author is None:
            self._fail(ident, "no `author` with a name")
            return
        sender, msg_kind, text, attachment = self._content(kind, author, raw)
        reference = raw.get("reference")
        reply = reference.get("messageId") if isinstance(reference, dict) else None
        self.kept += 1
        yield Message(
            chat=self.channel.name,
            chat_id=self.channel.chat_id,
            source="discord",
            ts=ts,
            sender=sender,
            kind=msg_kind,
            text=text,
            edited=raw.get("timestampEdited") is not None and sender is not None,
            reply_to=str(reply) if kind == "Reply" and reply is not None else None,
            source_id=str(ident) if ident is not None else None,
            attachment=attachment,
            origin_file=self.source.display,
            sender_id=_author_id(raw.get("author")) if sender is not None else None,
        )

    def _content(
        self, kind: str, author: str, raw: dict[str, Any]
    ) -> tuple[str | None, Kind, str, str | None]:
        content = raw.get("content")
        content = content if isinstance(content, str) else ""
        if kind in _TEXT_TYPES:
            files = _names(raw.get("attachments"), "fileName") + _names(raw.get("stickers"), "name")
            if files:
                return author, Kind.MEDIA, content, files[0]
            return author, Kind.TEXT, content or _embed_text(raw.get("embeds")), None
        if kind == "Call":
            return author, Kind.CALL, _call_text(raw), None
        if kind not in _NOTICES:
            self.unknown_types[kind] += 1
        phrase = _phrase(content) or _NOTICES.get(kind) or f"({kind})"
        return None, Kind.SYSTEM, f"{author} {phrase}", None

    def _fail(self, ident: Any, reason: str) -> None:
        number = int(ident) if isinstance(ident, str) and _SNOWFLAKE.fullmatch(ident) else 0
        self.report.not_understood(number)
        if self.first_failure is None:
            name = f"message id {number}" if number else f"record {self.records} (without an id)"
            self.first_failure = (name, reason)


def _author(author: Any) -> str | None:
    """The name the exporter shows: `nickname` (the server display name), else `name`."""
    if not isinstance(author, dict):
        return None
    for key in ("nickname", "name"):
        name = author.get(key)
        if isinstance(name, str) and name.strip():
            return name
    return None


def _author_id(author: Any) -> str | None:
    ident = author.get("id") if isinstance(author, dict) else None
    return str(ident) if isinstance(ident, (str, int)) and str(ident) else None


def _names(items: Any, key: str) -> list[str]:
    if not isinstance(items, list):
        return []
    return [str(i[key]) for i in items if isinstance(i, dict) and i.get(key)]


def _embed_text(embeds: Any) -> str:
    """A bot's message that is only an embed: its title and description, as its text."""
    if not isinstance(embeds, list):
        return ""
    parts = []
    for embed in embeds:
        if isinstance(embed, dict):
            parts += [str(embed[k]) for k in ("title", "description") if embed.get(k)]
    return "\n".join(parts)


def _phrase(content: str) -> str:
    """The exporter's notice ("Joined the server.") as a phrase after the author's name."""
    content = content.strip().removesuffix(".")
    return content[:1].lower() + content[1:]


def _call_text(raw: dict[str, Any]) -> str:
    start, end = raw.get("timestamp"), raw.get("callEndedTimestamp")
    if isinstance(start, str) and isinstance(end, str):
        try:
            seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        except (ValueError, TypeError):
            return "call"
        return f"call, {round(seconds)} s" if seconds >= 0.5 else "call"
    return "call"
