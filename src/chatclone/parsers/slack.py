"""Slack workspace exports (Workspace settings → Import/Export Data → Export).

The export is a folder or zip: `users.json` (the members), `channels.json` (public channels) and,
in an export of all conversations, `groups.json` (private channels), `dms.json` and `mpims.json`
(direct and group direct messages), then one folder per conversation holding one file per day,
`<channel>/<YYYY-MM-DD>.json`: a JSON list of message objects (`type: "message"`, `user`, `text`,
`ts`, and `subtype`, `thread_ts`, `user_profile`, `files`, `edited`… where they apply).

The registry sniffs one file at a time, so each day file is a source of its own: it is recognised
by its name (`sources` hints it as `<channel>/<YYYY-MM-DD>.json`) and its first record, and it
finds the export's `users.json` and conversation lists next to its folder through
`Source.sibling` (read once per export, then kept). Without them a day file still parses: people
are named by the `user_profile` Slack writes into their messages, else by their user id.

Mapping: the chat is the conversation (`#general`; a DM or group DM by its members' names), its id
the conversation's id where the lists give one. A person is named by their display name, else their
real name, from `users.json` (one name for all their history), else from the message's
`user_profile`. `ts` is the message's id (unique in its channel) and its time, shown as wall-clock
time in the ingest zone. Thread replies answer `thread_ts`. Files make a message `media`, its text
kept. Slack's markup is undone: `<@U1>` becomes `@Name`, `<#C1|general>` `#general`,
`<https://x|label>` its label, `<!here>` `@here`, and `&amp; &lt; &gt;` their characters.
Events (`channel_join`, `channel_topic`, …) become `system` lines; so do bot posts
(`bot_message`), written "Bot: text", so that integrations never count as people.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from chatclone.errors import InputError
from chatclone.messages import Kind, Message, chat_id_for
from chatclone.parsers.base import READ_ERRORS, Clock, ParseReport, Source, nothing_readable
from chatclone.parsers.jsonstream import json_events, value_at

_DAY_HINT = re.compile(r"(?:.*/)?([^/]+)/\d{4}-\d{2}-\d{2}\.json")
_SNIFF_TYPE = re.compile(rb'"type"\s*:\s*"message"')
_SNIFF_TS = re.compile(rb'"ts"\s*:\s*"\d+(?:\.\d+)?"')
_TS = re.compile(r"(\d{1,12})(?:\.(\d{1,6}))?")
_MARKUP = re.compile(r"<([^<>]*)>")
_LISTS = ("channels.json", "groups.json", "dms.json", "mpims.json")

# Subtypes that are a person's own message (Slack's `subtype` list, `docs.slack.dev`).
_PERSON_SUBTYPES = {None, "thread_broadcast", "reply_broadcast", "me_message", "file_share"}
# Events Slack phrases as text starting with the actor's mention; kept as system lines.
_EVENTS = {
    "channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_name",
    "channel_archive", "channel_unarchive", "group_join", "group_leave", "group_topic",
    "group_purpose", "group_name", "group_archive", "group_unarchive", "pinned_item",
    "unpinned_item", "channel_convert_to_private", "channel_convert_to_public", "bot_add",
    "bot_remove", "file_comment", "file_mention", "sh_room_created", "huddle_thread",
    "channel_posting_permissions", "reminder_add",
}  # fmt: skip
_DELETED = {"tombstone", "message_deleted"}


class SlackParser:
    name = "slack"
    description = "Slack workspace export (a folder or zip of <channel>/<YYYY-MM-DD>.json)"

    def __init__(self) -> None:
        self._workspace: tuple[tuple[str, int] | None, _Workspace] | None = None

    def sniff(self, source: Source) -> bool:
        if not _DAY_HINT.fullmatch(source.name_hint):
            return False
        head = source.head().lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head.startswith(b"["):
            return False
        first = head[1:].lstrip()
        if not first.startswith(b"{"):
            return False
        record = first[: first.find(b"}") + 1 or len(first)]  # up to the first nested object
        return bool(_SNIFF_TYPE.search(record) and _SNIFF_TS.search(record))

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        workspace = self._workspace_of(source)
        match = _DAY_HINT.fullmatch(source.name_hint)
        folder = match.group(1) if match else source.name_hint
        reader = _Reader(source, report, workspace, workspace.chat(folder))
        with json_events(source, report.progress) as events:
            report.unit = "record"  # records are not lines: problems are named by position
            for prefix, event, value in events:
                if prefix == "item":
                    record = value_at(events, event, value)
                    yield from reader.message(record)
        if reader.records and not reader.kept:
            position, reason = reader.first_failure or (1, "not understood")
            raise nothing_readable(
                source, reader.records, "message record", f"record {position}", reason
            )
        report.notes.extend(reader.notes())

    def _workspace_of(self, source: Source) -> _Workspace:
        """The export's people and conversations, read once for all the day files of an export."""
        users = source.sibling("../users.json") if source.sibling else None
        users = users or (source.sibling("../org_users.json") if source.sibling else None)
        key = (users.display, users.size) if users else None
        if self._workspace is not None and self._workspace[0] == key and key is not None:
            return self._workspace[1]
        workspace = _Workspace()
        workspace.read_users(users)
        for name in _LISTS:
            workspace.read_list(source.sibling(f"../{name}") if source.sibling else None)
        self._workspace = (key, workspace)
        return workspace


@dataclass
class _Chat:
    name: str
    chat_id: str


@dataclass
class _Workspace:
    """What `users.json` and the conversation lists say: names by user id, chats by folder."""

    names: dict[str, str] = field(default_factory=dict)
    chats: dict[str, tuple[str, str, list[str], bool]] = field(default_factory=dict)
    channel_names: dict[str, str] = field(default_factory=dict)  # by id, for `<#C1>`
    problems: list[str] = field(default_factory=list)
    read: list[str] = field(default_factory=list)

    def read_users(self, source: Source | None) -> None:
        for user in self._load(source):
            profile = user.get("profile")
            profile = profile if isinstance(profile, dict) else {}
            name = _first_name(profile, ("display_name", "real_name")) or _first_name(
                user, ("real_name", "name")
            )
            if isinstance(user.get("id"), str) and name:
                self.names[user["id"]] = name

    def read_list(self, source: Source | None) -> None:
        for conversation in self._load(source):
            ident, name = conversation.get("id"), conversation.get("name")
            if not isinstance(ident, str):
                continue
            members = conversation.get("members")
            members = (
                [m for m in members if isinstance(m, str)] if isinstance(members, list) else []
            )
            channel = source is not None and source.name_hint in ("channels.json", "groups.json")
            folder = name if isinstance(name, str) and name else ident  # DMs: the folder is the id
            self.chats[folder] = (ident, folder, members, channel)
            if channel:
                self.channel_names[ident] = folder

    def chat(self, folder: str) -> _Chat:
        if folder not in self.chats:
            return _Chat(f"#{folder}", chat_id_for("slack", folder))
        ident, name, members, channel = self.chats[folder]
        if not channel and members:  # a DM or group DM: named by its members
            name = ", ".join(self.names.get(m, m) for m in members)
        return _Chat(f"#{name}" if channel else name, f"slack:{ident}")

    def _load(self, source: Source | None) -> list[dict[str, Any]]:
        if source is None:
            return []
        try:
            with source.open() as f:
                data = json.loads(f.read().decode("utf-8-sig"))
        except (*READ_ERRORS, InputError, ValueError) as e:
            self.problems.append(f"{source.display} could not be read ({type(e).__name__})")
            return []
        if not isinstance(data, list):
            self.problems.append(f"{source.display} is not a JSON list")
            return []
        self.read.append(source.name_hint)
        return [item for item in data if isinstance(item, dict)]


class _Reader:
    """A day file's records → messages."""

    def __init__(
        self, source: Source, report: ParseReport, workspace: _Workspace, chat: _Chat
    ) -> None:
        self.source = source
        self.report = report
        self.workspace = workspace
        self.chat = chat
        self.clock = Clock(report.options.timezone)
        self.records = 0
        self.kept = 0
        self.first_failure: tuple[int, str] | None = None
        self.unknown_subtypes: Counter[str] = Counter()
        self.unnamed: set[str] = set()

    def notes(self) -> list[str]:
        read = ", ".join(self.workspace.read) or "none found: names from the messages"
        notes = [f"Slack export of {self.chat.name!r} (workspace files: {read})"]
        notes.append(f"times converted from Unix time to {self.clock.describe()}")
        notes += self.workspace.problems
        if self.unnamed:
            notes.append(f"{len(self.unnamed)} user id(s) without a name, kept as the id")
        if self.unknown_subtypes:
            listed = ", ".join(f"{t} ({n})" for t, n in sorted(self.unknown_subtypes.items()))
            total = sum(self.unknown_subtypes.values())
            notes.append(f"{total} message(s) of subtypes not known here, kept as system: {listed}")
        return notes

    def message(self, raw: Any) -> Iterator[Message]:
        self.records += 1
        if not isinstance(raw, dict):
            self._fail("not a JSON object")
            return
        ts = raw.get("ts")
        match = _TS.fullmatch(ts) if isinstance(ts, str) else None
        wall = self.clock.wall_time(int(match.group(1))) if match else None
        if wall is None:
            self._fail("no readable `ts`")
            return
        subtype = raw.get("subtype")
        text = raw.get("text")
        text = text if isinstance(text, str) else ""
        files = _file_names(raw.get("files"))
        person = self._person(raw)
        if subtype in _PERSON_SUBTYPES:
            if person is None:
                self._fail("no `user`")
                return
            sender: str | None = person
            kind = Kind.MEDIA if raw.get("files") else Kind.TEXT
            text = self._render(text)
        elif subtype in _DELETED:
            sender, kind, text = None, Kind.DELETED, self._render(text, plain=True)
        else:
            sender, kind = None, Kind.SYSTEM
            text = self._system_text(subtype, raw, person, text)
        thread = raw.get("thread_ts")
        self.kept += 1
        yield Message(
            chat=self.chat.name,
            chat_id=self.chat.chat_id,
            source="slack",
            ts=wall,
            sender=sender,
            kind=kind,
            text=text,
            edited=isinstance(raw.get("edited"), dict) and sender is not None,
            reply_to=thread if isinstance(thread, str) and thread != ts else None,
            source_id=ts,
            attachment=files[0] if files and kind is Kind.MEDIA else None,
            origin_file=self.source.display,
            sender_id=raw["user"] if sender is not None else None,
        )

    def _person(self, raw: dict[str, Any]) -> str | None:
        """users.json's name for the author (one name for all their history), else the
        `user_profile` written into the message, else the user id."""
        user = raw.get("user")
        if not isinstance(user, str) or not user:
            return None
        if user in self.workspace.names:
            return self.workspace.names[user]
        profile = raw.get("user_profile")
        if isinstance(profile, dict):
            name = _first_name(profile, ("display_name", "real_name", "name"))
            if name:
                return name
        self.unnamed.add(user)
        return user

    def _system_text(self, subtype: Any, raw: dict[str, Any], person: str | None, text: str) -> str:
        if subtype == "bot_message":
            bot = raw.get("bot_profile")
            name = _first_name(raw, ("username",)) or (
                _first_name(bot, ("name",)) if isinstance(bot, dict) else None
            )
            body = self._render(text) or _attachment_text(raw.get("attachments"))
            return f"{name or person or 'bot'}: {body}"
        if subtype not in _EVENTS:
            self.unknown_subtypes[str(subtype)] += 1
        rendered = self._render(text, plain=True)
        return rendered or f"{person or 'someone'} ({subtype})"

    def _render(self, text: str, plain: bool = False) -> str:
        """Slack's markup undone; `plain`: mentions without their `@` (an event's actor)."""
        at = "" if plain else "@"

        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            target, _, label = inner.partition("|")
            if target.startswith("@"):
                user = target[1:]
                return at + (self.workspace.names.get(user) or label or user)
            if target.startswith("#"):
                channel = target[1:]
                return "#" + (label or self.workspace.channel_names.get(channel) or channel)
            if target.startswith("!"):
                special = target[1:].split("^", 1)[0]
                if special in ("here", "channel", "everyone"):
                    return f"@{special}"
                return label or f"@{special}"
            return label or target

        text = _MARKUP.sub(replace, text)
        return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")

    def _fail(self, reason: str) -> None:
        self.report.not_understood(self.records)
        if self.first_failure is None:
            self.first_failure = (self.records, reason)


def _first_name(fields: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = fields.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _file_names(files: Any) -> list[str]:
    if not isinstance(files, list):
        return []
    names = [_first_name(f, ("name", "title")) for f in files if isinstance(f, dict)]
    return [n for n in names if n]


def _attachment_text(attachments: Any) -> str:
    """A bot post that is only attachments: their fallback text (Slack's plain-text version)."""
    if not isinstance(attachments, list):
        return ""
    parts = [
        _first_name(a, ("fallback", "text", "title")) for a in attachments if isinstance(a, dict)
    ]
    return "\n".join(p for p in parts if p)
