"""Google Chat conversations from Google Takeout (takeout.google.com → Google Chat).

The export is a folder or zip: `Google Chat/Groups/<DM or Space id>/messages.json` per
conversation, `{"messages": [{creator: {name, email, user_type}, created_date, text,
attached_files, annotations, topic_id, message_id, updated_date, message_state…}]}`, with a
`group_info.json` beside it (`name` for a Space, `members` [{name, email}]) and the attached files;
`Google Chat/Users/User <id>/user_info.json` (`user`: {name, email}) names the account's owner.

Each `messages.json` is a source of its own: `sources` hints it as `<group folder>/messages.json`,
and it reaches `group_info.json` and `user_info.json` through `Source.sibling` (the user folder by
a wildcard, its id being unknown). Without them it still parses: the chat is then named by its
folder.

Mapping: the chat is the conversation, named by the Space's `name`, else by the members other than
the owner (a DM: the other person); its id is `googlechat:<group folder>`. A person is named by
`creator.name`, else their email. `created_date` is English text such as "Friday, January 5, 2024
at 9:15:03 PM UTC" (with a narrow no-break space before PM); it is read as an instant in the zone
it names and shown as wall-clock time in the ingest zone. Attached files make a message `media`,
its text kept; `message_state: DELETED` makes it `deleted`; an `updated_date` marks it edited. A
reply in a threaded Space answers its thread's first message (`<group>/<topic>/<topic>`). Bots
(`user_type` other than Human) become `system` lines "Bot: text", so they never count as people.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from chatclone.errors import InputError
from chatclone.messages import Kind, Message
from chatclone.parsers.base import READ_ERRORS, Clock, ParseReport, Source, nothing_readable
from chatclone.parsers.jsonstream import json_events, value_at

_HINT = re.compile(r"(?:.*/)?([^/]+)/messages\.json")
_SNIFF_MESSAGES = re.compile(rb'^\{\s*"messages"\s*:\s*\[\s*\{')
_SNIFF_CREATOR = re.compile(rb'"creator"\s*:\s*\{')
_SNIFF_DATE = re.compile(rb'"created_date"\s*:\s*"')
_USER_INFO = "../../Users/User */user_info.json"

_DATE = re.compile(
    r"(?:[A-Za-z]+,\s*)?([A-Za-z]+)\s+(\d{1,2}),\s*(\d{4})\s+(?:at\s+)?"
    r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp]\.?[Mm]\.?)?\s*(.*)"
)
_MONTHS = {
    name: number
    for number, names in enumerate(
        (("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
         ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
         ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")),
        1,
    )
    for name in names
}  # fmt: skip
_OFFSET = re.compile(r"(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?")
# Abbreviations Takeout writes for the account's zone; ambiguous ones (IST, CST in China…) are
# taken in their most common (US/European) sense.
_ZONES = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2, "EET": 2,
    "EEST": 3, "MSK": 3, "IST": 5.5, "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11, "NZST": 12,
    "NZDT": 13, "HST": -10, "AKST": -9, "AKDT": -8, "PST": -8, "PDT": -7, "MST": -7, "MDT": -6,
    "CST": -6, "CDT": -5, "EST": -5, "EDT": -4, "AST": -4, "ADT": -3,
}  # fmt: skip
_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " ", "\u2009": " "})


class GoogleChatParser:
    name = "googlechat"
    description = "Google Chat from Google Takeout (Google Chat/Groups/<id>/messages.json)"

    def sniff(self, source: Source) -> bool:
        if not _HINT.fullmatch(source.name_hint):
            return False
        head = source.head().removeprefix(b"\xef\xbb\xbf").lstrip()
        match = _SNIFF_MESSAGES.match(head)
        if match is None:
            return False
        first = head[match.end() - 1 : match.end() + 4096]
        return bool(_SNIFF_CREATOR.search(first) and _SNIFF_DATE.search(first))

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        match = _HINT.fullmatch(source.name_hint)
        folder = match.group(1) if match else source.name_hint
        group = _Group.read(source, folder)
        if group.owner is not None:
            report.owner = group.owner
        reader = _Reader(source, report, group)
        with json_events(source, report.progress) as events:
            report.unit = "record"  # records are not lines: problems are named by position
            for prefix, event, value in events:
                if prefix == "messages.item":
                    record = value_at(events, event, value)
                    yield from reader.message(record)
        if reader.records and not reader.kept:
            position, reason = reader.first_failure or (1, "not understood")
            raise nothing_readable(
                source, reader.records, "message record", f"record {position}", reason
            )
        report.notes.extend(reader.notes())


@dataclass
class _Group:
    """The conversation as `group_info.json` and `user_info.json` describe it."""

    folder: str
    name: str = ""
    owner: tuple[str, str] | None = None  # (name, email)
    files_read: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, source: Source, folder: str) -> _Group:
        group = cls(folder)
        info = group._load(source.sibling("group_info.json") if source.sibling else None)
        user = group._load(source.sibling(_USER_INFO) if source.sibling else None)
        me = user.get("user")
        me = me if isinstance(me, dict) else {}
        email = _text(me.get("email"))
        name = _text(me.get("name")) or email
        if name:
            group.owner = (name, email or name)
        members = info.get("members")
        members = members if isinstance(members, list) else []
        others = [
            _text(m.get("name")) or _text(m.get("email"))
            for m in members
            if isinstance(m, dict) and not (email and _text(m.get("email")) == email)
        ]
        group.name = _text(info.get("name")) or ", ".join(o for o in others if o) or folder
        return group

    def _load(self, source: Source | None) -> dict[str, Any]:
        if source is None:
            return {}
        try:
            with source.open() as f:
                data = json.loads(f.read().decode("utf-8-sig"))
        except (*READ_ERRORS, InputError, ValueError) as e:
            self.problems.append(f"{source.display} could not be read ({type(e).__name__})")
            return {}
        if not isinstance(data, dict):
            self.problems.append(f"{source.display} is not a JSON object")
            return {}
        self.files_read.append(source.name_hint)
        return data


class _Reader:
    """`messages.json` records → messages."""

    def __init__(self, source: Source, report: ParseReport, group: _Group) -> None:
        self.source = source
        self.report = report
        self.group = group
        self.chat_id = f"googlechat:{group.folder}"
        self.clock = Clock(report.options.timezone)
        self.records = 0
        self.kept = 0
        self.first_failure: tuple[int, str] | None = None
        self.zones: Counter[str] = Counter()

    def notes(self) -> list[str]:
        read = ", ".join(self.group.files_read) or "none found: the chat is named by its folder"
        notes = [f"Google Chat export of {self.group.name!r} (Takeout files: {read})"]
        zones = ", ".join(sorted(self.zones))
        notes.append(f"times written in {zones or 'no zone'}, shown in {self.clock.describe()}")
        return notes + self.group.problems

    def message(self, raw: Any) -> Iterator[Message]:
        self.records += 1
        if not isinstance(raw, dict):
            self._fail("not a JSON object")
            return
        creator = raw.get("creator")
        creator = creator if isinstance(creator, dict) else {}
        person = _text(creator.get("name")) or _text(creator.get("email"))
        if person is None:
            self._fail("no `creator`")
            return
        wall, problem = self._wall_time(raw.get("created_date"))
        if wall is None:
            self._fail(problem)
            return
        text = _text(raw.get("text"), strip=False) or ""
        files = _file_names(raw.get("attached_files"))
        sender: str | None = person
        if raw.get("message_state") == "DELETED":
            kind = Kind.DELETED
        elif str(creator.get("user_type") or "Human") != "Human":
            sender, kind, text = None, Kind.SYSTEM, f"{person}: {text}"
        else:
            kind = Kind.MEDIA if files else Kind.TEXT
        ident = _text(raw.get("message_id"))
        self.kept += 1
        yield Message(
            chat=self.group.name,
            chat_id=self.chat_id,
            source="googlechat",
            ts=wall,
            sender=sender,
            kind=kind,
            text=text,
            edited=bool(raw.get("updated_date")) and kind is not Kind.DELETED,
            reply_to=_thread_root(ident, _text(raw.get("topic_id"))),
            source_id=ident,
            attachment=files[0] if files and kind is Kind.MEDIA else None,
            origin_file=self.source.display,
            sender_id=_text(creator.get("email")) if sender is not None else None,
        )

    def _wall_time(self, value: Any) -> tuple[str | None, str]:
        if not isinstance(value, str):
            return None, "no `created_date`"
        moment, zone = parse_created_date(value)
        if moment is None:
            return None, f"`created_date` not understood: {value!r}"
        wall = self.clock.wall_time(int(moment.timestamp()))
        if wall is None:
            return None, f"`created_date` out of range: {value!r}"
        self.zones[zone] += 1
        return wall, ""

    def _fail(self, reason: str) -> None:
        self.report.not_understood(self.records)
        if self.first_failure is None:
            self.first_failure = (self.records, reason)


def parse_created_date(value: str) -> tuple[datetime | None, str]:
    """Takeout's `created_date` ("Friday, January 5, 2024 at 9:15:03 PM UTC") as an aware
    datetime, and the zone as written; (None, "") if it is not understood."""
    match = _DATE.fullmatch(value.translate(_SPACES).strip())
    if match is None:
        return None, ""
    month_name, day, year, hour, minute, second, half, zone_text = match.groups()
    month = _MONTHS.get(month_name.lower())
    zone = _zone(zone_text.strip())
    hours = int(hour)
    if half:
        if not 1 <= hours <= 12:
            return None, ""
        hours = hours % 12 + (12 if half[0] in "Pp" else 0)
    if month is None or zone is None:
        return None, ""
    try:
        moment = datetime(int(year), month, int(day), hours, int(minute), int(second or 0))
    except ValueError:
        return None, ""
    return moment.replace(tzinfo=zone), zone_text.strip() or "UTC"


def _zone(text: str) -> timezone | None:
    """A zone as Takeout writes it: an abbreviation ("UTC", "PST") or an offset ("GMT+05:30");
    none written: UTC."""
    if not text:
        return UTC
    if text.upper() in _ZONES:
        return timezone(timedelta(hours=_ZONES[text.upper()]))
    match = _OFFSET.fullmatch(text)
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if offset >= timedelta(hours=24):
        return None
    return timezone(-offset if sign == "-" else offset)


def _thread_root(ident: str | None, topic: str | None) -> str | None:
    """A threaded reply's id is `<group>/<topic>/<own>`; its thread starts with
    `<group>/<topic>/<topic>`."""
    if ident is None or topic is None:
        return None
    parts = ident.split("/")
    if len(parts) != 3 or parts[1] != topic or parts[2] == topic:
        return None
    return f"{parts[0]}/{topic}/{topic}"


def _text(value: Any, strip: bool = True) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip() if strip else value
    return None


def _file_names(files: Any) -> list[str]:
    if not isinstance(files, list):
        return []
    names = [
        _text(f.get("export_name")) or _text(f.get("original_name"))
        for f in files
        if isinstance(f, dict)
    ]
    return [n for n in names if n]
