"""ChatLab's standard format: the open interchange format that WeChat, QQ, LINE… converters write.

Spec: "ChatLab 标准化格式规范 v0.0.2" (hellodigua/ChatLab, `docs/cn/chatlab-format.md`). Two forms:

- JSON: `{"chatlab": {version, exportedAt…}, "meta": {name, platform, type, groupId?, ownerId?},
  "members": [{platformId, accountName, groupNickname?…}], "messages": [{sender, accountName,
  groupNickname?, timestamp, type, content, platformMessageId?, replyToMessageId?}]}`, read as a
  stream of JSON events (ijson), so only the message being read is held in memory.
- JSONL: one object a line, told apart by `_type`: a `header` line first (`chatlab` and `meta`),
  then `member` and `message` lines; lines starting with `#` are comments.

Who is who: a sender's display name is their member entry's group nickname, else its account
name, else the platform id; a sender without a member entry is named by their first message the
same way, so one person keeps one name throughout the file. `meta.ownerId` is the person who
exported: `ParseReport.owner`, from which "me" is inferred.

Times are Unix seconds, shown as local wall-clock time in the ingest zone
(`ParseOptions.timezone`, else this machine's), and a note says which.

A record that cannot be understood (not JSON, no usable timestamp or type, no sender…) is counted
in `ParseReport.unparsed_lines` by its line (JSONL) or its 1-based position in `messages` (JSON);
a file in which no message can be read fails naming the first failure, and JSON that breaks fails
with the line where it breaks (`jsonstream`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from chatclone.errors import InputError
from chatclone.messages import Kind, Message, chat_id_for
from chatclone.parsers.base import (
    Clock,
    ParseReport,
    Source,
    iter_text_lines,
    nothing_readable,
    sniff_encoding,
)
from chatclone.parsers.jsonstream import build_value, json_events, value_at

_SNIFF_HEADER = re.compile(rb'"chatlab"\s*:\s*\{')
_SNIFF_JSONL = re.compile(rb'"_type"\s*:\s*"header"')
_DIGITS = re.compile(r"\d{1,12}")

# The spec's message types: the name it gives each, and the kind it becomes here.
_TYPES: dict[int, tuple[str, Kind]] = {
    0: ("TEXT", Kind.TEXT),
    1: ("IMAGE", Kind.MEDIA),
    2: ("VOICE", Kind.MEDIA),
    3: ("VIDEO", Kind.MEDIA),
    4: ("FILE", Kind.MEDIA),
    5: ("EMOJI", Kind.MEDIA),  # sticker
    7: ("LINK", Kind.TEXT),  # a link or card: its title and address, as a text would have them
    8: ("LOCATION", Kind.LOCATION),
    23: ("CALL", Kind.CALL),
    24: ("SHARE", Kind.MEDIA),  # music, mini program…
    25: ("REPLY", Kind.TEXT),  # a quoting reply: the reply's own words
    26: ("FORWARD", Kind.MEDIA),  # forwarded records: not the sender's own words
    27: ("CONTACT", Kind.CONTACT),
    80: ("SYSTEM", Kind.SYSTEM),
    81: ("RECALL", Kind.DELETED),
}
# Types chatclone has no kind for: kept as media (the text too), and counted in a note.
_KINDLESS = {20: "RED_PACKET", 21: "TRANSFER", 22: "POKE", 99: "OTHER"}


class ChatLabParser:
    name = "chatlab"
    description = "ChatLab standard format (JSON or JSONL; WeChat, QQ, LINE… converters)"

    def sniff(self, source: Source) -> bool:
        body = _body(source)
        return body.startswith(b"{") and bool(_SNIFF_HEADER.search(body))

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        reader = _Reader(source, report)
        first_line = _body(source).split(b"\n", 1)[0]
        if _SNIFF_JSONL.search(first_line):
            yield from _read_jsonl(reader)
        else:
            yield from _read_json(reader)
        yield from reader.finish()


def _body(source: Source) -> bytes:
    """The file's start without a byte-order mark, leading blank lines and `#` comment lines."""
    body = source.head_content()
    while body.startswith(b"#"):
        body = body.partition(b"\n")[2].lstrip()
    return body


def _read_json(reader: _Reader) -> Iterator[Message]:
    report = reader.report
    report.unit = "record"  # records are not lines: problems are named by position in `messages`
    index = 0
    with json_events(reader.source, report.progress) as events:
        for prefix, event, value in events:
            if prefix == "messages.item":
                index += 1
                record = value_at(events, event, value)
                yield from reader.message(record, index)
            elif prefix == "members.item":
                record = value_at(events, event, value)
                reader.member(record)
            elif prefix == "messages" and event == "start_array":
                reader.messages_seen = True
            elif prefix in ("chatlab", "meta") and event == "start_map":
                header = build_value(events, event)
                if prefix == "chatlab":
                    reader.version = str(header.get("version") or "?")
                else:
                    yield from reader.meta(header)
    if not reader.messages_seen:
        raise InputError(reader.source.display, "no `messages` in this ChatLab export")


def _read_jsonl(reader: _Reader) -> Iterator[Message]:
    source, report = reader.source, reader.report
    reader.messages_seen = True
    encoding = sniff_encoding(source.head()) or "utf-8"
    header_seen = False
    for lineno, line in enumerate(iter_text_lines(source, encoding, report.progress), 1):
        report.lines += 1
        text = line.strip()
        if not text:
            report.blank_lines += 1
            continue
        if text.startswith("#"):
            continue
        try:
            record = json.loads(text)
        except ValueError:
            record = None  # `null` itself is no record either
        kind = record.get("_type") if isinstance(record, dict) else None
        if not header_seen:
            if kind != "header":
                raise InputError(
                    source.display, "the first record is not a ChatLab header (`_type`)", lineno
                )
            header_seen = True
            assert isinstance(record, dict)
            chatlab = record.get("chatlab")
            reader.version = (
                str(chatlab.get("version") or "?") if isinstance(chatlab, dict) else "?"
            )
            meta = record.get("meta")
            yield from reader.meta(meta if isinstance(meta, dict) else {})
        elif kind == "message":
            yield from reader.message(record, lineno, lineno)
        elif kind == "member":
            reader.member(record)
        elif record is None:
            reader.fail(lineno, "not valid JSON")
        elif not isinstance(record, dict):
            reader.fail(lineno, "not a JSON object")
        elif kind == "header":
            reader.fail(lineno, "a second header")
        else:
            reader.fail(lineno, f"unknown record type (`_type`) {kind!r}")


class _Reader:
    """Records → messages, for either form."""

    def __init__(self, source: Source, report: ParseReport) -> None:
        self.source = source
        self.report = report
        self.clock = Clock(report.options.timezone)
        self.version = "?"
        self.messages_seen = False
        self.chat: tuple[str, str] | None = None  # (name, id) once `meta` is read
        self.pending: list[tuple[Any, int, int | None]] = []  # messages read before `meta`
        self.platform = ""
        self.chat_type = ""
        self.owner_id: str | None = None
        self.names: dict[str, str] = {}  # platform id → display name
        self.kept = 0
        self.first_failure: tuple[int, str] | None = None
        self.bad_members = 0
        self.kindless: Counter[str] = Counter()

    def meta(self, meta: dict[str, Any]) -> Iterator[Message]:
        if self.chat is not None:
            return
        self.platform = str(meta.get("platform") or "")
        self.chat_type = str(meta.get("type") or "")
        name = meta.get("name")
        name = name.strip() if isinstance(name, str) and name.strip() else self._fallback_name()
        group_id = _ident(meta.get("groupId"))
        if group_id is not None:
            chat_id = f"chatlab:{self.platform}:{group_id}"
        else:
            chat_id = chat_id_for("chatlab", f"{self.platform}:{name}")
        self.chat = (name, chat_id)
        owner = _ident(meta.get("ownerId"))
        if owner is not None:
            self.owner_id = owner
            if owner in self.names:
                self._set_owner(self.names[owner])
        pending, self.pending = self.pending, []
        for record, position, line in pending:
            yield from self.message(record, position, line)

    def _fallback_name(self) -> str:
        stem = self.source.name_hint.rsplit("/", 1)[-1].split(".", 1)[0]
        return stem or "ChatLab chat"

    def member(self, record: Any) -> None:
        pid = _ident(record.get("platformId")) if isinstance(record, dict) else None
        if pid is None:
            self.bad_members += 1  # names then come from the messages themselves: nothing is lost
            return
        self._name(pid, record)

    def _name(self, pid: str, record: dict[str, Any]) -> str:
        """The display name of `pid`: fixed by its member entry or by its first message."""
        name = self.names.get(pid)
        if name is None:
            name = _text_field(record.get("groupNickname")) or _text_field(
                record.get("accountName")
            )
            name = name or pid
            self.names[pid] = name
            if pid == self.owner_id:
                self._set_owner(name)
        return name

    def _set_owner(self, name: str) -> None:
        assert self.owner_id is not None
        user_id = f"{self.platform}:{self.owner_id}" if self.platform else self.owner_id
        self.report.owner = (name, user_id)

    def message(self, record: Any, position: int, line: int | None = None) -> Iterator[Message]:
        if self.chat is None:
            self.pending.append((record, position, line))
            return
        message = self._message(record, position, line)
        if message is not None:
            yield message

    def _message(self, raw: Any, position: int, line: int | None) -> Message | None:
        if not isinstance(raw, dict):
            self.fail(position, "not a JSON object")
            return None
        code = _number(raw.get("type"))
        if code is None:
            self.fail(position, "no numeric `type`")
            return None
        seconds = _seconds(raw.get("timestamp"))
        ts = self.clock.wall_time(seconds) if seconds is not None else None
        if ts is None:
            self.fail(position, "no readable `timestamp` (Unix seconds)")
            return None
        content = raw.get("content")
        if content is not None and not isinstance(content, str):
            self.fail(position, "`content` is neither text nor null")
            return None
        text = content or ""
        name, kind = _TYPES.get(code, (_KINDLESS.get(code, f"type {code}"), Kind.MEDIA))
        if code not in _TYPES:
            self.kindless[name] += 1
        sender: str | None = None
        if kind is Kind.SYSTEM:
            pass
        elif (pid := _ident(raw.get("sender")) or _text_field(raw.get("accountName"))) is None:
            self.fail(position, "no `sender`")
            return None
        else:
            sender = self._name(pid, raw)
        if kind is Kind.DELETED:
            text = ""  # the recall notice, as WhatsApp's "This message was deleted" is dropped
        assert self.chat is not None
        self.kept += 1
        return Message(
            chat=self.chat[0],
            chat_id=self.chat[1],
            source="chatlab",
            ts=ts,
            sender=sender,
            kind=kind,
            text=text,
            reply_to=_ident(raw.get("replyToMessageId")),
            source_id=_ident(raw.get("platformMessageId")),
            origin_file=self.source.display,
            origin_line=line,
            sender_id=_ident(raw.get("sender")) if sender is not None else None,
        )

    def fail(self, position: int, reason: str) -> None:
        self.report.not_understood(position)
        if self.first_failure is None:
            self.first_failure = (position, reason)

    def finish(self) -> Iterator[Message]:
        """After the last record: settle a chat whose `meta` never came (named after the file),
        check that something could be read, and write the notes."""
        if self.chat is None:
            yield from self.meta({})
        if self.first_failure is not None and not self.kept:
            where, reason = self.first_failure
            unit = self.report.unit
            failed = self.report.unparsed
            raise nothing_readable(self.source, failed, "record", f"{unit} {where}", reason)
        self._notes()

    def _notes(self) -> None:
        notes = self.report.notes
        kind = f"{self.chat_type} chat" if self.chat_type else "chat"
        place = f" from {self.platform}" if self.platform else ""
        notes.append(f"ChatLab {self.version} export: a {kind}{place}")
        if self.kept:
            notes.append(f"times (Unix seconds) are shown in {self.clock.describe()}")
        if self.owner_id is None:
            notes.append('no `meta.ownerId`: who is "me" is left to chatclone\'s inference')
        if self.kindless:
            listed = ", ".join(f"{t} ({n})" for t, n in sorted(self.kindless.items()))
            total = sum(self.kindless.values())
            notes.append(
                f"{total} message(s) of types chatclone has no kind for, kept as media: {listed}"
            )
        if self.bad_members:
            notes.append(f"{self.bad_members} member record(s) without a `platformId`, skipped")


def _ident(value: Any) -> str | None:
    """An id as text: ids are strings in the spec, numbers in some converters."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text or None


def _text_field(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _seconds(value: Any) -> int | None:
    """A timestamp's whole seconds (a fraction, which some converters write, is dropped)."""
    if isinstance(value, float) and value >= 0 and value < 1e12:
        return int(value)
    return _number(value)


def _number(value: Any) -> int | None:
    """A whole, non-negative number: an int, an integral float, or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value >= 0 and value.is_integer() else None
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return None
