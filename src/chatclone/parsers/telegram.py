"""Telegram Desktop JSON exports: one chat's `result.json`, or the whole-account export.

The file is read as a stream of JSON events (ijson), so a multi-gigabyte account export is never
loaded whole: only the message being read is held in memory, plus, in the rare file that lists a
chat's messages before its name and id, that one chat's messages.

A chat is an object with `name`, `type`, `id` and `messages`; it is either the whole file or an
item of the account export's `chats.list` / `left_chats.list`. The account export's
`personal_information` says who "me" is (`ParseReport.owner`).

JSON has no useful line numbers, so a record that cannot be understood (an unknown message type, a
message without a date) is reported in `ParseReport.unparsed_lines` by its message id (0 when it
has none); a file that is not valid JSON fails with the line where the JSON breaks (`jsonstream`).
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chatclone.errors import InputError
from chatclone.messages import Kind, Message, chat_id_for
from chatclone.parsers.base import ParseReport, Source
from chatclone.parsers.jsonstream import STARTS, Events, build_value, json_events

DELETED_ACCOUNT = "Deleted Account"  # how Telegram itself shows a sender whose account is gone

# Where chats live: the whole single-chat file, or the items of the account export's chat lists.
_CHAT_PLACES = ("", "chats.list.item", "left_chats.list.item")
_CHAT_FIELDS = ("name", "type", "id")
_CHAT_TYPES = (
    "personal_chat", "bot_chat", "private_group", "private_supergroup", "public_supergroup",
    "private_channel", "public_channel", "saved_messages", "replies", "verification_codes",
)  # fmt: skip

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

# Group events, by the `action` of a service message. `{actor}` did it; `{title}` and `{members}`
# come from the message. Actions not listed read "Alice: set chat theme".
_SYSTEM_TEXTS = {
    "create_group": "{actor} created group “{title}”",
    "create_channel": "{actor} created channel “{title}”",
    "migrate_to_supergroup": "{actor} converted this group to a supergroup",
    "migrate_from_group": "{actor} converted group “{title}” to a supergroup",
    "edit_group_title": "{actor} changed the group name to “{title}”",
    "edit_group_photo": "{actor} changed the group photo",
    "delete_group_photo": "{actor} removed the group photo",
    "invite_members": "{actor} added {members}",
    "remove_members": "{actor} removed {members}",
    "join_group_by_link": "{actor} joined the group via an invite link",
    "join_group_by_request": "{actor} joined the group",
    "pin_message": "{actor} pinned a message",
    "clear_history": "{actor} cleared the history",
    "screenshot_taken": "{actor} took a screenshot",
    "contact_signup": "{actor} joined Telegram",
    "invite_to_group_call": "{actor} invited {members} to the video chat",
    "group_call_scheduled": "{actor} scheduled a video chat",
    "set_messages_ttl": "{actor} changed the auto-delete timer",
}
_UNNAMED = {
    "saved_messages": "Saved Messages",
    "replies": "Replies",
    "verification_codes": "Verification Codes",
    "personal_chat": DELETED_ACCOUNT,
    "bot_chat": DELETED_ACCOUNT,
}
_CALLS = {"phone_call": "call", "group_call": "group call"}


class TelegramParser:
    name = "telegram"
    description = "Telegram Desktop JSON export (a chat's result.json, or the whole-account export)"

    def sniff(self, source: Source) -> bool:
        head = source.head().removeprefix(codecs.BOM_UTF8).lstrip()
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
        kind = "account export" if reader.account else "single-chat export"
        report.notes.append(f"Telegram Desktop {kind}; {reader.chats_seen} chat(s)")


@dataclass
class _Chat:
    """A chat being read: what the export has said about it so far."""

    fields: dict[str, Any] = field(default_factory=dict)
    pending: list[Any] = field(default_factory=list)  # messages read before the chat's fields
    ready: bool = False  # name and id are known
    name: str = ""
    chat_id: str = ""

    def settle(self) -> None:
        """Fix the chat's name and id from the fields read. Telegram writes no name for its own
        chats (saved messages…) and a null one for a deleted account."""
        name, kind, ident = (self.fields.get(k) for k in _CHAT_FIELDS)
        if not isinstance(name, str) or not name.strip():
            name = _UNNAMED.get(str(kind), f"Telegram chat {ident}")
        self.name = name
        self.ready = True
        has_id = isinstance(ident, int | str) and not isinstance(ident, bool)
        self.chat_id = f"telegram:{ident}" if has_id else chat_id_for("telegram", name)


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
                record = build_value(events, event) if event in STARTS else value
                yield from self._record(self.chats[message_places[prefix]], record)
            elif prefix == "personal_information":
                if event == "start_map":
                    self._personal_information(build_value(events, event))
            else:
                yield from self._chat_event(prefix, event, value)

    def _chat_event(self, prefix: str, event: str, value: Any) -> Iterator[Message]:
        if event == "start_map" and prefix in _CHAT_PLACES:
            self.chats[prefix] = _Chat()
        elif event == "end_map" and prefix in _CHAT_PLACES:
            yield from self._end_chat(self.chats.pop(prefix))
        elif event == "start_array" and prefix in self.messages_arrays:
            self.chats_seen += 1
            chat = self.chats[self.messages_arrays[prefix]]
            # Telegram writes name, type and id before the messages; a file that does not has
            # its messages held back until the chat ends.
            if chat.fields:
                chat.settle()
        elif prefix in self.chat_fields and event not in STARTS:
            place, key = self.chat_fields[prefix]
            self.chats[place].fields[key] = value
            self.account = self.account or bool(place)

    def _record(self, chat: _Chat, record: Any) -> Iterator[Message]:
        if not chat.ready:
            chat.pending.append(record)
            return
        message = self._message(chat, record)
        if message is not None:
            yield message

    def _end_chat(self, chat: _Chat) -> Iterator[Message]:
        if not chat.pending:
            return
        chat.settle()
        for record in chat.pending:
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
        if not isinstance(raw, dict):
            self.report.not_understood(0)
            return None
        ident = raw.get("id")
        ts = raw.get("date")
        kind = raw.get("type")
        if not isinstance(ts, str) or not _TIMESTAMP.fullmatch(ts) or kind not in _RECORD_TYPES:
            self.report.not_understood(ident if isinstance(ident, int) else 0)
            return None
        content = _RECORD_TYPES[kind](raw)
        if content is None:
            self.report.not_understood(ident if isinstance(ident, int) else 0)
            return None
        sender, msg_kind, text, attachment = content
        own = self.owner_id is not None and raw.get("from_id") == self.owner_id
        if own and sender is not None and kind == "message":
            self._saw_owner_as(sender)
        reply = raw.get("reply_to_message_id")
        return Message(
            chat=chat.name,
            chat_id=chat.chat_id,
            source="telegram",
            ts=ts,
            sender=sender,
            kind=msg_kind,
            text=text,
            edited="edited" in raw,
            reply_to=str(reply) if reply is not None else None,
            source_id=str(ident) if ident is not None else None,
            attachment=attachment,
            origin_file=self.source.display,
        )

    def _saw_owner_as(self, name: str) -> None:
        """The owner's name is the one their own messages carry, which may differ from their
        profile's first and last name; the most frequent one wins."""
        self.owner_names[name] += 1
        best, _ = self.owner_names.most_common(1)[0]
        if self.owner_id is not None and (self.report.owner or ("",))[0] != best:
            self.report.owner = (best, self.owner_id)


# What a record says: (sender, kind, text, attachment); None if it cannot be understood.
_Content = tuple[str | None, Kind, str, str | None]


def _person(name: Any, ident: Any) -> str:
    """A sender's display name: `from` (`actor`), else its id; null for deleted accounts."""
    if isinstance(name, str) and name:
        return name
    if isinstance(ident, str) and ident:
        return ident
    return DELETED_ACCOUNT


def flatten_text(text: Any) -> str:
    """A message's text as plain text: a string as is, or a list of plain strings and entities
    (`{"type": "bold", "text": "…"}`, links, mentions…) joined; formatting is dropped."""
    if isinstance(text, str):
        return text
    if not isinstance(text, list):
        return ""
    parts = []
    for part in text:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append(part["text"])
    return "".join(parts)


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


def _service_message(raw: dict[str, Any]) -> _Content | None:
    action = raw.get("action")
    if not isinstance(action, str) or not action:
        return None
    actor = _person(raw.get("actor"), raw.get("actor_id"))
    if action in _CALLS:
        return actor, Kind.CALL, _call_text(_CALLS[action], raw), None
    return None, Kind.SYSTEM, _system_text(action, actor, raw), None


def _call_text(call: str, raw: dict[str, Any]) -> str:
    reason = raw.get("discard_reason")
    seconds = raw.get("duration_seconds")
    if reason == "missed":
        return f"missed {call}"
    if reason == "busy":
        return f"declined {call}"
    return f"{call}, {seconds} s" if isinstance(seconds, int | float) and seconds else call


def _system_text(action: str, actor: str, raw: dict[str, Any]) -> str:
    members = raw.get("members")
    names = [m if isinstance(m, str) and m else DELETED_ACCOUNT for m in members or []]
    if names == [actor] and action in ("invite_members", "remove_members"):
        return f"{actor} {'joined' if action == 'invite_members' else 'left'} the group"
    template = _SYSTEM_TEXTS.get(action)
    if template is None:
        return f"{actor}: {action.replace('_', ' ')}"
    title = raw.get("title")
    return template.format(
        actor=actor, title=title if isinstance(title, str) else "", members=", ".join(names)
    )


_RECORD_TYPES: dict[str, Callable[[dict[str, Any]], _Content | None]] = {
    "message": _text_message,
    "service": _service_message,
}


def _join(place: str, key: str) -> str:
    return f"{place}.{key}" if place else key
