"""Facebook Messenger and Instagram messages from Meta's "Download your information" (JSON format).

Both write one folder per conversation, `messages/inbox/<thread>/message_1.json`, `message_2.json`…
(Instagram under `your_instagram_activity/messages/inbox/`, newer Facebook exports under
`your_facebook_activity/messages/`); a long thread is split over several files, message_1 holding
the newest messages. Each file is one JSON object: `participants` [{name}], `messages` [{sender_name,
timestamp_ms, content, photos/videos/audio_files/files/gifs [{uri}], sticker {uri}, share {link},
reactions, call_duration, is_unsent, type}], then `title`, `is_still_participant`, `thread_path`
(`inbox/<thread>`), `magic_words`, `image`. Each file is a source of its own, sniffed by its first
bytes (an object whose `participants` and `messages` start it, with `sender_name` and
`timestamp_ms`); which of the two it is comes from its path (`your_instagram_activity`, or an
export folder or zip named `instagram…`): the JSON is the same.

Meta writes every string as mojibake: the UTF-8 bytes of the text, each escaped as a Latin-1
character (`\\u00c3\\u00a9` for "é"). Every string is mended (`text.encode("latin-1")
.decode("utf-8")`); one that does not mend (already real Unicode) is kept as written and counted.

Mapping: the chat is the thread's `title`; its id is the thread's folder (the last part of
`thread_path`, else the folder the file is in), so the files of one thread, and later exports of
it, land in one chat. `timestamp_ms` becomes wall-clock time in the ingest zone. Unsent messages
become `deleted`; calls `call` ("call, 125 s"); photos, videos, voice notes, files, GIFs and
stickers `media` (the first file named as the attachment, any text kept); a share is text with its
link appended; `Subscribe`/`Unsubscribe` are `system` lines. Instagram (and newer Facebook) write
reactions as messages of their own ("Liked a message", "Reacted 😂 to your message"): these are
not messages and are skipped, counted in a note, as are records with nothing in them. Meta gives
messages no ids, so `source_id` and `reply_to` stay empty.

Order: a file lists its messages newest first. The whole file is read before anything is yielded
(the thread's `title` and `thread_path` come after `messages`; Meta caps a file at 10,000
messages), then its messages are yielded oldest first, so that messages of the same second keep
their order in the store, which sorts by time and then by arrival. A bad record is named by its
position in the file's `messages` list (1 = the first written, the newest).

The export's owner is not named in these files (the account's own data lies elsewhere in the
export, `personal_information/`), so `ParseReport.owner` stays unset.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from chatclone.errors import InputError
from chatclone.messages import Kind, Message, chat_id_for
from chatclone.parsers.base import Clock, ParseReport, Source, nothing_readable
from chatclone.parsers.jsonstream import json_events, value_at

_SNIFF_START = re.compile(rb'\{\s*"(?:participants|messages)"\s*:\s*\[')
_SNIFF_KEYS = (b'"participants"', b'"messages"', b'"sender_name"', b'"timestamp_ms"')
_INSTAGRAM_PATH = re.compile(r"(?:^|/)(?:your_instagram_activity|instagram[^/]*)/", re.IGNORECASE)
_HEADER = ("title", "thread_path")
_MEDIA = ("photos", "videos", "audio_files", "files", "gifs", "sticker")
_SYSTEM_TYPES = {"Subscribe": "joined", "Unsubscribe": "left"}
_KNOWN_TYPES = {"Generic", "Share", "Call", "Subscribe", "Unsubscribe"}
# Reactions written as messages (Instagram, newer Messenger): not something anyone said.
_REACTION = re.compile(
    r"(?:.+ )?(?:[Ll]iked a message|[Rr]eacted .+ to (?:your|a|their|his|her) message)\.?"
)


class MessengerParser:
    name = "messenger"
    description = "Facebook Messenger from Meta's Download your information (message_N.json)"
    instagram = False

    def sniff(self, source: Source) -> bool:
        head = source.head_content()
        if not _SNIFF_START.match(head) or not all(key in head for key in _SNIFF_KEYS):
            return False
        return _is_instagram(source) == self.instagram

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        records: list[Any] = []
        header: dict[str, Any] = {}
        saw_messages = False
        with json_events(source, report.progress) as events:
            report.unit = "record"  # records are not lines: problems are named by position
            for prefix, event, value in events:
                if prefix == "messages.item":
                    records.append(value_at(events, event, value))
                elif prefix == "messages" and event == "start_array":
                    saw_messages = True
                elif prefix in _HEADER and event == "string":
                    header[prefix] = value
        if not saw_messages:
            raise InputError(source.display, "no `messages` in this export file")
        reader = _Reader(source, report, self.name, header)
        messages = [
            m for position, raw in enumerate(records, 1) for m in reader.message(raw, position)
        ]
        yield from reversed(messages)  # newest first in the file: yielded oldest first
        if records and not reader.kept and not reader.skipped:
            position, reason = reader.first_failure or (1, "not understood")
            raise nothing_readable(
                source, len(records), "message record", f"record {position}", reason
            )
        report.notes.extend(reader.notes())


class InstagramParser(MessengerParser):
    name = "instagram"
    description = "Instagram messages from Meta's Download your information (message_N.json)"
    instagram = True


def _is_instagram(source: Source) -> bool:
    """Instagram's export is told by its path (`sources` hints `message_N.json` with the folders
    above it): `your_instagram_activity/`, or an export folder or zip named `instagram-<user>-…`
    (Facebook's are `your_facebook_activity/` and `facebook-<user>-…`)."""
    return bool(_INSTAGRAM_PATH.search(source.name_hint))


@dataclass
class _Mender:
    """Meta's mojibake undone, string by string, counting the strings that were not mojibake."""

    unmended: int = 0

    def __call__(self, value: Any) -> str:
        if not isinstance(value, str):
            return ""
        try:
            return value.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            self.unmended += 1
            return value


@dataclass
class _Reader:
    """A file's records → messages."""

    source: Source
    report: ParseReport
    source_name: str
    header: dict[str, Any]
    mend: _Mender = field(default_factory=_Mender)
    kept: int = 0
    skipped: int = 0
    reactions: int = 0
    empty: int = 0
    first_failure: tuple[int, str] | None = None
    unknown_types: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.clock = Clock(self.report.options.timezone)
        folder = posixpath.basename(str(self.header.get("thread_path") or "").rstrip("/"))
        if not folder:
            folder = posixpath.basename(posixpath.dirname(self.source.name_hint))
        title = self.mend(self.header.get("title")).strip()
        self.chat = title or folder or self.source.name_hint
        self.chat_id = (
            f"{self.source_name}:{folder}" if folder else chat_id_for(self.source_name, self.chat)
        )

    def notes(self) -> list[str]:
        label = "Instagram" if self.source_name == "instagram" else "Facebook Messenger"
        notes = [f"{label} export of {self.chat!r} (Meta's Download your information, JSON)"]
        notes.append(f"times converted from Unix time to {self.clock.describe()}")
        if self.reactions:
            notes.append(f"{self.reactions} reaction(s) written as messages, skipped")
        if self.empty:
            notes.append(f"{self.empty} record(s) with no text, media, link or call, skipped")
        if self.mend.unmended:
            notes.append(
                f"{self.mend.unmended} string(s) were not Meta's Latin-1-escaped UTF-8: "
                "kept as written"
            )
        if self.unknown_types:
            listed = ", ".join(f"{t} ({n})" for t, n in sorted(self.unknown_types.items()))
            notes.append(f"message types not known here, read by their fields: {listed}")
        return notes

    def message(self, raw: Any, position: int) -> Iterator[Message]:
        if not isinstance(raw, dict):
            self._fail(position, "not a JSON object")
            return
        stamp = raw.get("timestamp_ms")
        wall = None
        if isinstance(stamp, int | float) and not isinstance(stamp, bool) and stamp == stamp:
            wall = self.clock.wall_time(int(stamp) // 1000)
        if wall is None:
            self._fail(position, "no readable `timestamp_ms`")
            return
        sender = self.mend(raw.get("sender_name")).strip()
        if not sender:
            self._fail(position, "no `sender_name`")
            return
        shaped = self._shape(raw, sender)
        if shaped is None:
            self.skipped += 1
            return
        who, kind, text, attachment = shaped
        self.kept += 1
        yield Message(
            chat=self.chat,
            chat_id=self.chat_id,
            source=self.source_name,
            ts=wall,
            sender=who,
            kind=kind,
            text=text,
            attachment=attachment,
            origin_file=self.source.display,
        )

    def _shape(
        self, raw: dict[str, Any], sender: str
    ) -> tuple[str | None, Kind, str, str | None] | None:
        """(sender, kind, text, attachment), or None for a record that is not a message."""
        kind = raw.get("type")
        if isinstance(kind, str) and kind not in _KNOWN_TYPES:
            self.unknown_types[kind] += 1
        text = self.mend(raw.get("content"))
        if raw.get("is_unsent") or raw.get("is_unsent_image_by_messenger_kid_parent"):
            return sender, Kind.DELETED, text, None
        if kind in _SYSTEM_TYPES:
            return None, Kind.SYSTEM, text or f"{sender} {_SYSTEM_TYPES[kind]}", None
        if kind == "Call" or "call_duration" in raw:
            duration = raw.get("call_duration")
            seconds = (
                duration if isinstance(duration, int) and not isinstance(duration, bool) else 0
            )
            call = f"call, {seconds} s" if seconds > 0 else "call"
            return sender, Kind.CALL, f"{text} ({call})" if text else call, None
        files = self._files(raw)
        if files:
            return sender, Kind.MEDIA, text, files[0]
        share = raw.get("share")
        link = self.mend(share.get("link")) if isinstance(share, dict) else ""
        if link and link not in text:
            text = f"{text}\n{link}" if text else link
        if not text.strip():
            self.empty += 1
            return None
        if not link and _REACTION.fullmatch(text.strip()):
            self.reactions += 1
            return None
        return sender, Kind.TEXT, text, None

    def _files(self, raw: dict[str, Any]) -> list[str]:
        """The file names of the record's photos, videos, voice notes, files, GIFs or sticker."""
        names = []
        for key in _MEDIA:
            value = raw.get(key)
            items = [value] if isinstance(value, dict) else value
            if not isinstance(items, list):
                continue
            for item in items:
                uri = self.mend(item.get("uri")) if isinstance(item, dict) else ""
                names.append(posixpath.basename(uri) or key)
        return names

    def _fail(self, position: int, reason: str) -> None:
        self.report.not_understood(position)
        if self.first_failure is None:
            self.first_failure = (position, reason)
