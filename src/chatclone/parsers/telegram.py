"""Telegram Desktop JSON exports: one chat's `result.json`, or the whole-account export.

The file is read as a stream of JSON events (ijson), so a multi-gigabyte account export is never
loaded whole: only the message being read is held in memory, plus, in the rare file that lists a
chat's messages before its name and id (or a personal chat without a name, until the other person's
first message names them), that one chat's messages.

A chat is an object with `name`, `type`, `id` and `messages`; it is either the whole file or an
item of the account export's `chats.list` / `left_chats.list`. The account export's
`personal_information` says who "me" is (`ParseReport.owner`).

Times: `date` is the wall-clock time of the machine that exported, kept as written. A record with
only `date_unixtime` (trimmed or converted exports) is an instant, shown in the ingest time zone
(`ParseOptions.timezone`, else this machine's) in the same form, and a note says how many were.

Service messages: every `action` Telegram Desktop writes (`export_output_json.cpp`,
`SerializeMessage`, 2018 to 2025) becomes a `system` line, or a `call` for calls; an action not
listed here is kept as a system line too, and counted in a note.

JSON has no useful line numbers, so a record that cannot be understood (an unknown message type, a
message without a date) is reported in `ParseReport.unparsed_lines` by its message id (0 when it
has none); a file that is not valid JSON fails with the line where the JSON breaks (`jsonstream`),
and one in which no record at all can be read fails naming the first one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chatclone.errors import InputError
from chatclone.messages import Kind, Message, chat_id_for
from chatclone.parsers.base import Clock, ParseReport, Source, nothing_readable
from chatclone.parsers.jsonstream import STARTS, Events, build_value, json_events, value_at
from chatclone.parsers.telegram_actions import (
    CALLS,
    DELETED_ACCOUNT,
    KNOWN_ACTIONS,
    Fields,
    call_text,
    flatten_text,
    is_name,
    system_text,
)

# Where chats live: the whole single-chat file, or the items of the account export's chat lists.
_CHAT_PLACES = ("", "chats.list.item", "left_chats.list.item")
_CHAT_FIELDS = ("name", "type", "id")
_CHAT_TYPES = (
    "personal_chat", "bot_chat", "private_group", "private_supergroup", "public_supergroup",
    "private_channel", "public_channel", "saved_messages", "replies", "verification_codes",
)  # fmt: skip
_ONE_TO_ONE = ("personal_chat", "bot_chat")  # the chat's id is the other person's user id

_SNIFF_ACCOUNT = re.compile(
    rb'"personal_information"\s*:\s*\{|"(?:left_)?chats"\s*:\s*\{\s*"(?:about|list)"\s*:'
)
_SNIFF_MESSAGES = re.compile(rb'"messages"\s*:\s*\[')
_SNIFF_CHAT = re.compile(
    rb'"type"\s*:\s*"(?:'
    + "|".join(_CHAT_TYPES).encode()
    + rb')"|"date_unixtime"\s*:|"from_id"\s*:'
)
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?")
_UNIXTIME = re.compile(r"\d{1,11}")

_UNNAMED = {
    "saved_messages": "Saved Messages",
    "replies": "Replies",
    "verification_codes": "Verification Codes",
}


class TelegramParser:
    name = "telegram"
    description = "Telegram Desktop JSON export (a chat's result.json, or the whole-account export)"

    def sniff(self, source: Source) -> bool:
        head = source.head_content()
        if not head.startswith(b"{"):
            return False
        if _SNIFF_ACCOUNT.search(head):
            return True
        return bool(_SNIFF_MESSAGES.search(head) and _SNIFF_CHAT.search(head))

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        reader = _Reader(source, report)
        with json_events(source, report.progress) as events:
            report.unit = "message id"  # records are not lines: problems are named by id
            yield from reader.read(events)
        if not reader.chats_seen:
            raise InputError(source.display, "no chat in this Telegram export (no `messages`)")
        if reader.records and not reader.kept:
            ident, reason = reader.first_failure or (0, "not understood")
            raise nothing_readable(
                source, reader.records, "message record", _record_name(ident), reason
            )
        kind = "account export" if reader.account else "single-chat export"
        report.notes.append(f"Telegram Desktop {kind}; {reader.chats_seen} chat(s)")
        report.notes.extend(reader.notes())


def _record_name(ident: int) -> str:
    return f"message id {ident}" if ident else "a record without an id"


@dataclass
class _Chat:
    """A chat being read: what the export has said about it so far."""

    position: int = 0  # 1 for the file's first chat: names a chat with neither name nor id
    fields: dict[str, Any] = field(default_factory=dict)
    pending: list[Any] = field(default_factory=list)  # messages read before the chat's name
    ready: bool = False  # name and id are known
    peer: str | None = None  # a nameless one-to-one chat: the other person's `from_id`
    name: str = ""
    chat_id: str = ""

    def start_messages(self) -> None:
        """The messages begin. Telegram writes name, type and id before them; a one-to-one chat
        without a name waits for the other person's first message to be named after them."""
        name, kind, ident = (self.fields.get(k) for k in _CHAT_FIELDS)
        if is_name(name) or kind not in _ONE_TO_ONE or not _has_id(ident):
            self.settle()
        else:
            self.peer = f"user{ident}"

    def settle(self, peer_name: str | None = None) -> None:
        """Fix the chat's name and id. Telegram writes no name for its own chats (saved
        messages…), and a null one where the other person's account is gone."""
        given, kind, ident = (self.fields.get(k) for k in _CHAT_FIELDS)
        name = str(given) if is_name(given) else peer_name or self._fallback_name(kind, ident)
        self.name = name
        self.ready = True
        self.chat_id = f"telegram:{ident}" if _has_id(ident) else chat_id_for("telegram", name)

    def _fallback_name(self, kind: Any, ident: Any) -> str:
        if isinstance(kind, str) and kind in _UNNAMED:
            return _UNNAMED[kind]
        if kind in _ONE_TO_ONE and "name" in self.fields and self.fields["name"] is None:
            return DELETED_ACCOUNT
        return f"Telegram chat {ident}" if _has_id(ident) else f"Telegram chat #{self.position}"

    def peer_name(self, record: Any) -> str | None:
        """The other person's name if `record` is theirs; "" if it is theirs but nameless."""
        if self.peer is None or not isinstance(record, dict):
            return None
        for name_key, id_key in (("from", "from_id"), ("actor", "actor_id")):
            if record.get(id_key) == self.peer:
                name = record.get(name_key)
                return name if is_name(name) else ""
        return None


def _has_id(ident: Any) -> bool:
    return isinstance(ident, int | str) and not isinstance(ident, bool) and str(ident) != ""


class _Reader:
    """ijson events → messages, chat by chat."""

    def __init__(self, source: Source, report: ParseReport) -> None:
        self.source = source
        self.report = report
        self.chats: dict[str, _Chat] = {}
        self.chats_seen = 0
        self.account = False
        self.owner_id: str | None = None
        self.owner_names: Counter[str] = Counter()
        self.records = 0  # message records read, understood or not
        self.kept = 0  # messages made of them
        self.first_failure: tuple[int, str] | None = None
        self.unixtime_only = 0  # dated by `date_unixtime` alone
        self.unknown_actions: Counter[str] = Counter()
        self.clock: Clock | None = None
        self.message_places = {_join(_join(p, "messages"), "item"): p for p in _CHAT_PLACES}
        self.messages_arrays = {_join(p, "messages"): p for p in _CHAT_PLACES}
        self.chat_fields = {_join(p, k): (p, k) for p in _CHAT_PLACES for k in _CHAT_FIELDS}
        # Everything else outside messages (contacts, sessions…) is skipped at once.
        self.watched = {
            *self.message_places, *self.messages_arrays, *self.chat_fields, *_CHAT_PLACES,
            "personal_information",
        }  # fmt: skip

    def read(self, events: Events) -> Iterator[Message]:
        watched, message_places = self.watched, self.message_places
        for prefix, event, value in events:
            if prefix not in watched:
                continue
            if prefix in message_places:
                # A message (or a stray value where one should be), read whole.
                record = value_at(events, event, value)
                yield from self._record(self.chats[message_places[prefix]], record)
            elif prefix == "personal_information":
                if event == "start_map":
                    self._personal_information(build_value(events, event))
            else:
                yield from self._chat_event(prefix, event, value)

    def notes(self) -> list[str]:
        notes = []
        if self.unixtime_only and self.clock is not None:
            notes.append(
                f"{self.unixtime_only} message(s) had no `date`, only `date_unixtime`: "
                f"their times are shown in {self.clock.describe()}"
            )
        if self.unknown_actions:
            listed = ", ".join(f"{a} ({n})" for a, n in sorted(self.unknown_actions.items()))
            total = sum(self.unknown_actions.values())
            notes.append(f"{total} service message(s) with actions not known here, kept: {listed}")
        return notes

    def _chat_event(self, prefix: str, event: str, value: Any) -> Iterator[Message]:
        if event == "start_map" and prefix in _CHAT_PLACES:
            self.chats[prefix] = _Chat()
        elif event == "end_map" and prefix in _CHAT_PLACES:
            yield from self._end_chat(self.chats.pop(prefix))
        elif event == "start_array" and prefix in self.messages_arrays:
            self.chats_seen += 1
            chat = self.chats[self.messages_arrays[prefix]]
            chat.position = self.chats_seen
            # A file that writes its messages before the chat's fields has them held back
            # until the chat ends.
            if chat.fields:
                chat.start_messages()
        elif prefix in self.chat_fields and event not in STARTS:
            place, key = self.chat_fields[prefix]
            self.chats[place].fields[key] = value
            self.account = self.account or bool(place)

    def _record(self, chat: _Chat, record: Any) -> Iterator[Message]:
        if not chat.ready:
            peer_name = chat.peer_name(record)
            if peer_name is None:
                chat.pending.append(record)
                return
            chat.settle(peer_name)
            yield from self._flush(chat)
        message = self._message(chat, record)
        if message is not None:
            yield message

    def _end_chat(self, chat: _Chat) -> Iterator[Message]:
        if chat.ready:
            return
        names = (chat.peer_name(r) for r in chat.pending)
        chat.settle(next((n for n in names if n is not None), None))
        yield from self._flush(chat)

    def _flush(self, chat: _Chat) -> Iterator[Message]:
        pending, chat.pending = chat.pending, []
        for record in pending:
            message = self._message(chat, record)
            if message is not None:
                yield message

    def _personal_information(self, me: dict[str, Any]) -> None:
        self.account = True
        if me.get("user_id") is None:
            return
        self.owner_id = f"user{me['user_id']}"
        full = " ".join(str(me.get(k) or "") for k in ("first_name", "last_name")).strip()
        self.report.owner = (full or str(me.get("username") or self.owner_id), self.owner_id)

    def _message(self, chat: _Chat, raw: Any) -> Message | None:
        self.records += 1
        if not isinstance(raw, dict):
            self._fail(0, "not a JSON object")
            return None
        ident = raw.get("id")
        kind = raw.get("type")
        if kind not in _RECORD_TYPES:
            self._fail(ident, f"unknown record type {kind!r}")
            return None
        ts = self._timestamp(raw)
        if ts is None:
            self._fail(ident, "no readable `date` or `date_unixtime`")
            return None
        content = _RECORD_TYPES[kind](raw)
        if content is None:
            self._fail(ident, "a service message without an `action`")
            return None
        sender, msg_kind, text, attachment = content
        if kind == "service" and raw.get("action") not in KNOWN_ACTIONS and "action" in raw:
            self.unknown_actions[str(raw["action"])] += 1
        own = self.owner_id is not None and raw.get("from_id") == self.owner_id
        if own and sender is not None and kind == "message":
            self._saw_owner_as(sender)
        reply = raw.get("reply_to_message_id")
        self.kept += 1
        return Message(
            chat=chat.name,
            chat_id=chat.chat_id,
            source="telegram",
            ts=ts,
            sender=sender,
            kind=msg_kind,
            text=text,
            edited="edited" in raw or "edited_unixtime" in raw,
            reply_to=str(reply) if reply is not None else None,
            source_id=str(ident) if ident is not None else None,
            attachment=attachment,
            origin_file=self.source.display,
            sender_id=_ident_of(raw) if sender is not None else None,
        )

    def _fail(self, ident: Any, reason: str) -> None:
        number = ident if isinstance(ident, int) and not isinstance(ident, bool) else 0
        self.report.not_understood(number)
        if self.first_failure is None:
            self.first_failure = (number, reason)

    def _timestamp(self, raw: dict[str, Any]) -> str | None:
        """`date` as written; else `date_unixtime` (a string of digits, or a number in converted
        exports) in the ingest zone, so both read as local wall-clock time."""
        ts = raw.get("date")
        if isinstance(ts, str) and _TIMESTAMP.fullmatch(ts):
            return ts
        unix = raw.get("date_unixtime")
        if isinstance(unix, str) and _UNIXTIME.fullmatch(unix):
            seconds = int(unix)
        elif isinstance(unix, int) and not isinstance(unix, bool) and unix >= 0:
            seconds = unix
        else:
            return None
        if self.clock is None:
            self.clock = Clock(self.report.options.timezone)
        wall = self.clock.wall_time(seconds)
        if wall is not None:
            self.unixtime_only += 1
        return wall

    def _saw_owner_as(self, name: str) -> None:
        """The owner's name is the one their own messages carry, which may differ from their
        profile's first and last name; the most frequent one wins."""
        self.owner_names[name] += 1
        best, _ = self.owner_names.most_common(1)[0]
        if self.owner_id is not None and (self.report.owner or ("",))[0] != best:
            self.report.owner = (best, self.owner_id)


# What a record says: (sender, kind, text, attachment); None if it cannot be understood.
_Content = tuple[str | None, Kind, str, str | None]


def _ident_of(raw: dict[str, Any]) -> str | None:
    """The sender's (or a service message's actor's) Telegram id: `user123`, `channel456`."""
    for key in ("from_id", "actor_id"):
        ident = raw.get(key)
        if isinstance(ident, str) and ident:
            return ident
    return None


def _person(name: Any, ident: Any) -> str:
    """A sender's display name: `from`, else its id; null for deleted accounts."""
    if isinstance(name, str) and name:
        return name
    if isinstance(ident, str) and ident:
        return ident
    return DELETED_ACCOUNT


def _file(path: Any) -> str | None:
    """A media file's path in the export; None where it was left out, which Telegram writes as
    "(File not included. Change data exporting settings to download.)" and similar."""
    if not isinstance(path, str) or not path or path.startswith("("):
        return None
    return path


def _text_message(raw: dict[str, Any]) -> _Content:
    sender = _person(raw.get("from"), raw.get("from_id"))
    text = flatten_text(raw["text"] if "text" in raw else raw.get("text_entities"))
    if isinstance(poll := raw.get("poll"), dict):
        return sender, Kind.POLL, _poll_text(poll), None
    if isinstance(where := raw.get("location_information"), dict):
        return sender, Kind.LOCATION, text or _location_text(raw, where), None
    if isinstance(contact := raw.get("contact_information"), dict):
        name = " ".join(str(contact.get(k) or "") for k in ("first_name", "last_name")).strip()
        # The phone number is left out on purpose: it is private, and nobody wrote it.
        return sender, Kind.CONTACT, name, _file(raw.get("contact_vcard"))
    for key in ("photo", "file"):
        if key in raw:
            return sender, Kind.MEDIA, text, _file(raw[key])
    if "media_type" in raw:
        return sender, Kind.MEDIA, text, None
    return sender, Kind.TEXT, text, None


def _poll_text(poll: dict[str, Any]) -> str:
    answers = poll.get("answers")
    lines = [flatten_text(poll.get("question"))]
    if isinstance(answers, list):
        lines += [f"- {flatten_text(a.get('text'))}" for a in answers if isinstance(a, dict)]
    return "\n".join(lines)


def _location_text(raw: dict[str, Any], where: dict[str, Any]) -> str:
    place = ", ".join(str(raw[k]) for k in ("place_name", "address") if raw.get(k))
    return place or f"{where.get('latitude')}, {where.get('longitude')}"


# --- service messages ----------------------------------------------------------------------------


def _service_message(raw: dict[str, Any]) -> _Content | None:
    actor = _actor(raw)
    action = raw.get("action")
    if not isinstance(action, str) or not action:
        # A bot's or the server's own words ("custom action"): written as is, with no `action`.
        info = raw.get("information_text")
        if isinstance(info, str) and info:
            return None, Kind.SYSTEM, info, None
        return None
    if action in CALLS:
        return actor, Kind.CALL, call_text(action, raw), None
    return None, Kind.SYSTEM, system_text(action, actor, Fields(raw, actor)), None


def _actor(raw: dict[str, Any]) -> str | None:
    """Who did it: `actor`, else `actor_id`; None where the export names nobody (an action of
    the server or a bot, or a trimmed export), rather than blaming a deleted account."""
    name, ident = raw.get("actor"), raw.get("actor_id")
    if is_name(name):
        return str(name)
    return ident if isinstance(ident, str) and ident else None


_RECORD_TYPES: dict[str, Callable[[dict[str, Any]], _Content | None]] = {
    "message": _text_message,
    "service": _service_message,
}


def _join(place: str, key: str) -> str:
    return f"{place}.{key}" if place else key
