"""WhatsApp `.txt` exports: Android (`date, time - Sender: text`), iOS (`[date, time] Sender: text`)
and the older and rarer layouts in `dates.LAYOUTS`.

Two passes over the file: the first surveys every header to infer the layout, the date order and
the clock (`WhatsAppDateFormat`) and, on iOS, which "sender" is really the chat's own name used for
system lines; the second reads the messages. Every line is accounted for in the `ParseReport`: it
starts a message, continues one, is blank outside any message, or is reported as not understood.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import cast

from chatclone.errors import InputError
from chatclone.messages import Kind, Message, chat_id_for
from chatclone.parsers.base import ParseReport, Source, head_text, iter_text_blocks, sniff_encoding
from chatclone.parsers.whatsapp import markers
from chatclone.parsers.whatsapp.classify import BIDI, classify, is_unknown
from chatclone.parsers.whatsapp.dates import (
    Converter,
    NamedConverter,
    NamedDateFormat,
    WhatsAppDateFormat,
)
from chatclone.parsers.whatsapp.layouts import (
    ANDROID,
    INVISIBLE,
    LEADING,
    MARKED,
    MARKED_SPAN,
    Layout,
    block_header,
    looks_like_header,
    match_header,
)
from chatclone.parsers.whatsapp.survey import PLAIN_ANDROID, Survey

SNIFF_LINES = 200
# "report.pdf • 3 pages", "verslag.pdf • \u200e3 pagina's", "見積書.pdf • \u200eページ数: 2"
_QUOTES = re.compile('["“”«»„]')
# The file names "Export chat" writes, in several languages: the chat's name follows.
_CHAT_NAME = re.compile(
    r"^(?:WhatsApp Chat with|WhatsApp Chat mit|WhatsApp[- ]chat met|Chat de WhatsApp con|"
    r"Chat WhatsApp con|Chat di WhatsApp con|Discussion WhatsApp avec|Conversa do WhatsApp com|"
    r"Conversa no WhatsApp com|WhatsApp Chat -|WhatsApp Chat)\s+(?P<name>.+)$",
    re.I,
)


def chat_name_from(file_name: str) -> str:
    """`WhatsApp Chat with Mum.txt` → `Mum`; a file without the usual prefix keeps its stem."""
    stem = Path(file_name).stem
    m = _CHAT_NAME.match(stem)
    return (m["name"] if m else stem).strip() or stem


class WhatsAppParser:
    name = "whatsapp"
    description = "WhatsApp chat export (.txt, or the .zip that Export chat writes)"

    def sniff(self, source: Source) -> bool:
        text = head_text(source)
        if text is None:
            return False
        return any(match_header(line) for line in text.splitlines()[:SNIFF_LINES])

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        encoding = sniff_encoding(source.head())
        if encoding is None:
            raise InputError(source.display, "binary data, not a text chat export")
        survey = self._survey(source, encoding)
        layout = survey.layout
        fmt = survey.formats[layout.name]
        if fmt.headers == 0:
            raise InputError(source.display, "no WhatsApp message header found", 1)
        report.notes.append(_decide(fmt, layout, report.options.date_order, source))
        chat = chat_name_from(source.name_hint)
        if isinstance(fmt, NamedDateFormat):
            conv: Converter | NamedConverter = NamedConverter(fmt.assumed_year)
        else:
            conv = Converter(fmt.order)
        reader = _Reader(source, report, layout, conv, chat)
        if layout is ANDROID and survey.unplain_android == 0:
            reader.headers = PLAIN_ANDROID
        reader.system_senders = survey.system_senders() | {chat}
        yield from reader.read(iter_text_blocks(source, encoding, report.progress))
        if report.header_lines == 0:
            raise InputError(source.display, "no line could be read as a WhatsApp message", 1)

    def _survey(self, source: Source, encoding: str) -> Survey:
        survey = Survey()
        for block in iter_text_blocks(source, encoding):
            survey.read(block)
        survey.finish()
        return survey


def _decide(
    fmt: WhatsAppDateFormat | NamedDateFormat, layout: Layout, told: str | None, source: Source
) -> str:
    """Settle the file's date format and say how, for the report."""
    clock = "12-hour" if fmt.twelve_hour > fmt.headers / 2 else "24-hour"
    if isinstance(fmt, NamedDateFormat):
        fmt.decide(told, _file_year(source))
        return f"WhatsApp {layout.name} layout; dates with {fmt.reason}; {clock}"
    inferred = fmt.decide()
    why = fmt.reason
    if told is not None and told != inferred:
        fmt.decide(told)
        why = f"{fmt.reason}; inferred would have been {inferred}: {why}"
    elif told is not None:
        fmt.decide(told)
        why = f"{fmt.reason}, as inferred: {why}"
    calendar = fmt.calendar_note()
    calendar = f"; {calendar}" if calendar else ""
    return f"WhatsApp {layout.name} layout; dates {fmt.order} ({why}){calendar}; {clock}"


def _file_year(source: Source) -> int | None:
    """The year the export file was last written, where it is a file on disk."""
    try:
        return date.fromtimestamp(os.stat(source.display).st_mtime).year
    except (OSError, ValueError, OverflowError):
        return None


class _Reader:
    """The second pass: lines → messages."""

    def __init__(
        self,
        source: Source,
        report: ParseReport,
        layout: Layout,
        conv: Converter | NamedConverter,
        chat: str,
    ) -> None:
        self.source = source
        self.report = report
        self.layout = layout
        self.ios = layout.ios
        self.chat_as_sender = layout.chat_as_sender
        self.conv = conv
        self.chat = chat
        self.chat_id = chat_id_for("whatsapp", chat)
        self.file = source.display
        self.system_senders: set[str] = set()
        self._placeholders = 0  # `<…>` messages in an unknown language, see _unknown_placeholder
        self._placeholder_note = 0
        self._placeholder_first = ""
        self._quoted: dict[str, bool] = {}  # per sender: has a quote, so is a split system line
        # The message being read: header line number, timestamp, rest of the header line, and
        # its continuation lines.
        self.current: tuple[int, str, str, list[str]] | None = None
        self.lineno = 0
        # What finds header lines in a block: the layout's `block_header`, or a cheaper pattern
        # where every header of the file fits it.
        self.headers = block_header(layout)

    def read(self, blocks: Iterator[str]) -> Iterator[Message]:
        """Messages from blocks of whole lines (`iter_text_blocks`). The header lines of the
        file's layout are found by one expression per block; only the lines between them
        (continuations, blank lines, headers with an invisible mark) go line by line."""
        report, conv = self.report, self.conv
        headers = self.headers
        # Caches: a chat has far fewer distinct dates and times than messages.
        days: dict[str, str | None] = {}
        times: dict[tuple[str, str | None], str | None] = {}
        for block in blocks:
            block = "\n" + block
            pos = 1  # where the next line not yet read starts
            for m in headers.finditer(block):
                line_at, rest_at = m.start() + 1, m.start("rest")
                if line_at != pos:
                    yield from self._lines(block[pos:line_at])
                date_text = m["date"]
                day = days.get(date_text, "")
                if day == "":
                    day = days[date_text] = conv.date(date_text)
                time_key = cast(tuple[str, str | None], m.group("time", "ampm"))
                time = times.get(time_key, "")
                if time == "":
                    time = times[time_key] = conv.time(*time_key)
                ts = None if day is None or time is None else f"{day}T{time}"
                rest = block[rest_at : m.end()]
                if rest[:1] in INVISIBLE:
                    rest = rest.lstrip(LEADING)
                pos = m.end() + 1
                self.lineno += 1
                if self.current is not None:
                    yield self._message(*self.current)
                    self.current = None
                if ts is None:
                    report.not_understood(self.lineno)
                    continue
                report.header_lines += 1
                self.current = (self.lineno, ts, rest, [])
            if pos < len(block) or block == "\n":  # (a last line may be empty)
                yield from self._lines(block[pos:])
        report.lines += self.lineno
        if self.current is not None:
            yield self._message(*self.current)

    @staticmethod
    def _time(
        conv: Converter | NamedConverter, date_text: str, time_text: str, ampm: str | None
    ) -> str | None:
        day = conv.date(date_text)
        time = conv.time(time_text, ampm)
        return None if day is None or time is None else f"{day}T{time}"

    def _lines(self, text: str) -> Iterator[Message]:
        """Lines taken one at a time: `text` is whole lines, each ending with a newline but
        perhaps the file's last."""
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        report, layout, conv = self.report, self.layout, self.conv
        header = layout.header
        looks_like = layout.looks_like or header
        start = layout.starts
        only = (layout,)
        for line in lines:
            self.lineno += 1
            lineno = self.lineno
            bare = line.lstrip(INVISIBLE) if line[:1] in INVISIBLE else line
            m = header.match(bare) if start is None or bare[:1] in start else None
            if m is not None:
                date_text, time_text, ampm, rest = m["date"], m["time"], m["ampm"], m["rest"]
                if rest[:1] in INVISIBLE:
                    rest = rest.lstrip(LEADING)
            elif (marked := MARKED.search(line, 0, MARKED_SPAN) is not None) and (
                found := match_header(line, only)
            ):
                # An invisible mark inside the header is never a reason to glue it on.
                date_text, time_text, ampm, rest = found.date, found.time, found.ampm, found.rest
            else:
                current = self.current
                if looks_like.match(bare) or (marked and looks_like_header(line, layout)):
                    # Never glue a broken header onto the message before it. The lines after
                    # it belong to the broken message and are reported with it.
                    if current is not None:
                        yield self._message(*current)
                        self.current = None
                    report.not_understood(lineno)
                elif current is not None:
                    current[3].append(line)
                    report.continuation_lines += 1
                elif not line.strip():
                    report.blank_lines += 1
                else:
                    report.not_understood(lineno)
                continue
            ts = self._time(conv, date_text, time_text, ampm)
            if self.current is not None:
                yield self._message(*self.current)
                self.current = None
            if ts is None:
                report.not_understood(lineno)
                continue
            report.header_lines += 1
            self.current = (lineno, ts, rest, [])

    def _message(self, lineno: int, ts: str, rest: str, more: list[str]) -> Message:
        while more and not more[-1].strip():  # blank lines after the last message
            more.pop()
            self.report.continuation_lines -= 1
            self.report.blank_lines += 1
        sender: str | None
        sender, sep, text = rest.partition(": ")
        if not sep and rest.endswith(":"):  # an empty body keeps its sender
            sender, text, sep = rest[:-1], "", ":"
        if more:
            text = "\n".join([text, *more]) if sep else "\n".join([rest, *more])
        classified = classify(text) if sep else None
        if classified is None or (
            # (the common case inline: a sender already seen, on Android)
            quoted
            if not self.chat_as_sender and (quoted := self._quoted.get(sender)) is not None
            else self._is_system(sender, text, classified[0])
        ):
            if sep and self.chat_as_sender:
                rest = text  # the "sender" was the chat's name
            elif more:
                rest = "\n".join([rest, *more])
            body = rest.lstrip(BIDI)
            return Message(
                self.chat, self.chat_id, "whatsapp", ts, None, _SYSTEM, body, False, None, None,
                None, self.file, lineno,
            )  # fmt: skip
        kind, body, edited, attachment = classified
        if kind is Kind.TEXT and not self.ios and body == markers.ANDROID_VIEW_ONCE:
            kind, body = Kind.MEDIA, ""
        elif kind is _MEDIA and attachment is None and not body and is_unknown(text):
            self._unknown_placeholder(lineno, text)
        return Message(
            self.chat, self.chat_id, "whatsapp", ts, sender, kind, body, edited, None, None,
            attachment, self.file, lineno,
        )  # fmt: skip

    def _unknown_placeholder(self, lineno: int, text: str) -> None:
        """Count a `<…>` message in a language without known markers in one note, kept current:
        it is stored as media (never trained on) and the user can check the guess."""
        notes = self.report.notes
        if self._placeholders == 0:
            self._placeholder_note = len(notes)
            self._placeholder_first = f"line {lineno}: {text.strip(BIDI + ' ')}"
            notes.append("")
        self._placeholders += 1
        notes[self._placeholder_note] = (
            f"{self._placeholders} message(s) shaped like a media placeholder in a language "
            f"without known markers, stored as media (first: {self._placeholder_first})"
        )

    def _is_system(self, sender: str, text: str, kind: Kind) -> bool:
        if not self.chat_as_sender:
            # `Ana changed the subject from "a: b" to "c"` splits at the colon inside the quote,
            # leaving an odd number of quote marks in the "sender"; a contact saved as
            # `Tom "Tommy" Baker` has an even number and is a real sender.
            quoted = self._quoted.get(sender)
            if quoted is None:
                quoted = self._quoted[sender] = len(_QUOTES.findall(sender)) % 2 == 1
            return quoted
        if not text or text[0] not in BIDI:
            return False
        # Media, deletions and calls always have a real sender, even one named like the chat: in
        # a one-to-one chat the contact's name is both the chat's and the system lines' "sender".
        if kind is not Kind.TEXT:
            return False
        return sender in self.system_senders or bool(markers.SYSTEM.match(markers.normalize(text)))


# Enum attribute lookups are slow in a loop that runs per message.
_MEDIA, _SYSTEM = Kind.MEDIA, Kind.SYSTEM
