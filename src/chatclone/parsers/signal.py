"""Signal Desktop chats exported by signal-export (`sigexport`, carderne/signal-export).

sigexport writes one folder per chat, named after the contact or group (letters and digits only),
holding `chat.md`, `index.html`, `media/` and `data.json`. `data.json` is JSON Lines: one object a
line, `{"date", "sender", "body", "quote", "sticker", "reactions", "attachments", "deleted", "call",
"missed"}` (its `Message.dict_str`, appended line by line). The chat's name is its folder's name
(`Source.name_hint` is `<folder>/data.json`); its id is derived from that name.

What the tool writes, and what is made of it here:

- `sender` is "Me" for the person who exported, else the contact's name ("No-Sender" where the
  tool could not tell). "Me" is kept as the sender and reported as the owner ("Me", "signal:me"),
  from which "me" is picked; the export does not hold the owner's own name.
- `body` has backticks removed and two spaces appended by the tool (for Markdown line breaks).
  Exactly those two spaces are removed; anything before them, the user's own spaces included, is
  kept. The backticks cannot be restored.
- `date` is the exporting machine's local wall-clock time without a UTC offset
  (`2024-01-05T19:00:00.123000`): kept as written, to the second, like every other `ts`. A date
  with an offset (or Unix milliseconds) is shown in the ingest zone (`ParseOptions.timezone`).
- `attachments` (`{name, path}` under `media/`) and a `sticker` make a `media` message that keeps
  its text; the first attachment's name is `Message.attachment`.
- `quote` is the quoted text only, with no id: no reply link can be made, and it is not part of
  the reply's text (counted in a note).
- `reactions` are not messages (counted in a note). `deleted` is a `deleted` message without text;
  `call`, or a body that is exactly the tool's description of a call ("Incoming voice call
  (accepted, 2m 5s)", "Missed video call"…), is a `call`.
- Group updates and other records with nothing in them (no text, attachment or sticker) are not
  messages: skipped and counted in a note.

A line that cannot be understood (not JSON, no readable `date`, no `sender`…) is counted in
`ParseReport.unparsed_lines` by its line; a file in which no line can be read fails naming the
first failure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from chatclone.messages import Kind, Message, chat_id_for
from chatclone.parsers.base import Clock, ParseReport, Source, iter_text_lines, nothing_readable

OWNER = ("Me", "signal:me")  # sigexport writes "Me" for the person who exported
_MARKDOWN_BREAK = "  "  # what sigexport appends to every body
_UNKNOWN_SENDER = "No-Sender"
# The first record's start: `{"date": …, "sender": …` as `json.dumps` writes sigexport's dict.
_SNIFF = re.compile(rb'\{"date": ("[^"\n]*"|\d+), "sender": ')
_SNIFF_KEYS = (b'"body": ', b'"quote": ', b'"attachments": ')
# How sigexport describes a call in `body` (its `_format_call`): the whole body, nothing else.
_CALL = re.compile(
    r"(Incoming|Outgoing) (voice |video )?call( \((accepted(, (\d+m )?\d+s)?|[a-z ]+)\))?"
    r"|Missed (voice |video )?call"
)


class SignalParser:
    name = "signal"
    description = "Signal Desktop chat exported by signal-export (sigexport's data.json)"

    def sniff(self, source: Source) -> bool:
        head = source.head_content()
        first = head.split(b"\n", 1)[0]
        return bool(_SNIFF.match(first)) and all(key in first for key in _SNIFF_KEYS)

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        reader = _Reader(source, report)
        for lineno, line in enumerate(iter_text_lines(source, "utf-8", report.progress), 1):
            report.lines += 1
            if not line.strip():
                report.blank_lines += 1
                continue
            message = reader.record(line, lineno)
            if message is not None:
                yield message
        reader.finish()


class _Reader:
    def __init__(self, source: Source, report: ParseReport) -> None:
        self.source = source
        self.report = report
        self.clock = Clock(report.options.timezone)
        folder = source.name_hint.rsplit("/", 2)[-2] if "/" in source.name_hint else ""
        self.chat = folder.strip() or "Signal chat"
        self.chat_id = chat_id_for("signal", self.chat)
        self.kept = 0
        self.first_failure: tuple[int, str] | None = None
        self.empty = 0
        self.quotes = 0
        self.reactions = 0
        self.unknown_senders = 0
        self.converted = 0
        self.naive = 0

    def record(self, line: str, lineno: int) -> Message | None:
        try:
            raw = json.loads(line)
        except ValueError:
            return self.fail(lineno, "not valid JSON")
        if not isinstance(raw, dict):
            return self.fail(lineno, "not a JSON object")
        ts = self._time(raw.get("date"))
        if ts is None:
            return self.fail(lineno, "no readable `date`")
        body = raw.get("body")
        if body is not None and not isinstance(body, str):
            return self.fail(lineno, "`body` is not text")
        text = (body or "").removesuffix(_MARKDOWN_BREAK)
        files = _attachment_names(raw.get("attachments"))
        sticker = bool(raw.get("sticker"))
        deleted = raw.get("deleted") is True
        call = raw.get("call") is True or bool(_CALL.fullmatch(text))
        sender = raw.get("sender")
        if not (text.strip() or files or sticker or deleted or call):
            self.empty += 1  # a group update, or a message whose content the tool could not read
            return None
        if not isinstance(sender, str) or not sender.strip():
            return self.fail(lineno, "no `sender`")
        if sender == OWNER[0]:
            self.report.owner = OWNER
        elif sender == _UNKNOWN_SENDER:
            self.unknown_senders += 1
        self.quotes += bool(raw.get("quote"))
        reactions = raw.get("reactions")
        self.reactions += len(reactions) if isinstance(reactions, list) else 0
        kind = Kind.TEXT
        if deleted:
            kind, text = Kind.DELETED, ""
        elif call:
            kind = Kind.CALL
        elif files or sticker:
            kind = Kind.MEDIA
        self.kept += 1
        return Message(
            chat=self.chat,
            chat_id=self.chat_id,
            source="signal",
            ts=ts,
            sender=sender,
            kind=kind,
            text=text,
            attachment=files[0] if files and kind is Kind.MEDIA else None,
            origin_file=self.source.display,
            origin_line=lineno,
        )

    def _time(self, value: Any) -> str | None:
        """`date` as a wall-clock ISO time: as written without an offset, else in the ingest zone."""
        if isinstance(value, int) and not isinstance(value, bool):
            self.converted += 1
            return self.clock.wall_time(value // 1000)  # Unix milliseconds, as Signal keeps them
        if not isinstance(value, str):
            return None
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        if moment.tzinfo is None:
            self.naive += 1
            return moment.isoformat(timespec="seconds")
        self.converted += 1
        return self.clock.wall_time(int(moment.timestamp()))

    def fail(self, lineno: int, reason: str) -> Message | None:
        """Count `lineno` as not understood; None, the message it does not make."""
        self.report.not_understood(lineno)
        if self.first_failure is None:
            self.first_failure = (lineno, reason)
        return None

    def finish(self) -> None:
        if self.first_failure is not None and not self.kept:
            where, reason = self.first_failure
            raise nothing_readable(
                self.source, self.report.unparsed, "record", f"line {where}", reason
            )
        notes = self.report.notes
        notes.append(f"signal-export chat '{self.chat}' (named after its folder)")
        if self.naive:
            notes.append("times are the exporting machine's local times, kept as written")
        if self.converted:
            notes.append(f"{self.converted} time(s) with a zone shown in {self.clock.describe()}")
        if self.report.owner is None:
            notes.append('no message from "Me": who is "me" is left to chatclone\'s inference')
        if self.empty:
            notes.append(f"{self.empty} empty record(s) (group updates…) skipped: not messages")
        if self.unknown_senders:
            notes.append(f"{self.unknown_senders} message(s) from a sender the tool could not name")
        if self.quotes:
            notes.append(
                f"{self.quotes} message(s) quote an earlier one; the export has no id to link"
            )
        if self.reactions:
            notes.append(f"{self.reactions} reaction(s) skipped: not messages")


def _attachment_names(value: Any) -> list[str]:
    """The names of the attachments sigexport copied into `media/`."""
    if not isinstance(value, list):
        return []
    names = []
    for item in value:
        if isinstance(item, dict):
            name = item.get("name") or str(item.get("path") or "").rsplit("/", 1)[-1]
            if isinstance(name, str) and name.strip():
                names.append(name.strip())
    return names
