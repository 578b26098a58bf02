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
from typing import Any

from chatclone.errors import InputError
from chatclone.messages import KIND_OF, KIND_TEXT, Kind, Message, RowBatch, chat_id_for
from chatclone.parsers.base import ParseReport, Source, head_text, iter_text_blocks, sniff_encoding
from chatclone.parsers.whatsapp import markers
from chatclone.parsers.whatsapp.classify import BIDI, classify_text, is_plain, is_unknown
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
from chatclone.rows import BATCH

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
        reader, encoding = self._reader(source, report)
        yield from reader.read(iter_text_blocks(source, encoding, report.progress))
        _check_read(source, report)

    def parse_rows(self, source: Source, report: ParseReport) -> Iterator[RowBatch]:
        """`parse`'s messages as the store's rows (`PLAIN_ROW`), in batches: for `ingest`, which
        would otherwise turn each `Message` into a row."""
        reader, encoding = self._reader(source, report)
        chats = [(reader.chat_id, reader.chat, "whatsapp")]
        batch: list[tuple[Any, ...]] = []
        for row in reader.rows(iter_text_blocks(source, encoding, report.progress)):
            batch.append(row)
            if len(batch) >= BATCH:
                yield chats, batch
                chats, batch = [], []
        _check_read(source, report)
        yield chats, batch

    def _reader(self, source: Source, report: ParseReport) -> tuple[_Reader, str]:
        """The second pass's reader, set up by the first pass (the survey); and the encoding."""
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
        return reader, encoding

    def _survey(self, source: Source, encoding: str) -> Survey:
        survey = Survey()
        for block in iter_text_blocks(source, encoding):
            survey.read(block)
        survey.finish()
        return survey


def _check_read(source: Source, report: ParseReport) -> None:
    if report.header_lines == 0:
        raise InputError(source.display, "no line could be read as a WhatsApp message", 1)


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
        """`rows` as messages."""
        chat, file, kinds = self.chat, self.file, KIND_OF
        for chat_id, ts, sender, kind, text, edited, attachment, lineno in self.rows(blocks):
            yield Message(
                chat, chat_id, "whatsapp", ts, sender, kinds[kind], text, edited, None, None,
                attachment, file, lineno,
            )  # fmt: skip

    def rows(self, blocks: Iterator[str]) -> Iterator[tuple[Any, ...]]:
        """The messages of blocks of whole lines (`iter_text_blocks`) as the store's rows
        (`PLAIN_ROW`). The header lines of the file's layout are found by splitting each block
        with one expression, so the loop below runs once per message; only the lines between
        headers (continuations, blank lines, headers with an invisible mark) go line by line."""
        report, conv, row = self.report, self.conv, self._row
        headers = self.headers
        # `split` gives, per header, the text before it and then every group of the pattern.
        stride = headers.groups + 1
        at_date, at_time, at_ampm, at_rest = (headers.groupindex[g] for g in _GROUPS)
        # A chat has far fewer distinct dates and times than messages: each is converted once.
        days: dict[str, str | None] = {}
        times: dict[tuple[str, str | None], str | None] = {}
        # The common message is read inline: a sender seen before and known to be a real one, a
        # plain text, and the next line another header. Everything else goes through `_row`.
        quoted, ios, chat_id = self._quoted, self.ios, self.chat_id
        plain_senders = not self.chat_as_sender
        view_once = markers.ANDROID_VIEW_ONCE
        lineno = header_lines = 0
        for block in blocks:
            parts = headers.split("\n" + block)
            last = len(parts) - 1
            for k in range(0, last, stride):
                between = parts[k]
                if between:  # "\n" and whole lines (the header ate the newline before it)
                    self.lineno = lineno
                    yield from self._lines(between[1:] + "\n")
                    lineno = self.lineno
                date_text = parts[k + at_date]
                day = days.get(date_text, "")
                if day == "":
                    day = days[date_text] = conv.date(date_text)
                time_key = (parts[k + at_time], parts[k + at_ampm])
                time = times.get(time_key, "")
                if time == "":
                    time = times[time_key] = conv.time(*time_key)
                rest = parts[k + at_rest]
                if rest[:1] in INVISIBLE:
                    rest = rest.lstrip(LEADING)
                lineno += 1
                if self.current is not None:
                    yield row(*self.current)
                    self.current = None
                if day is None or time is None:
                    report.not_understood(lineno)
                    continue
                ts = f"{day}T{time}"
                header_lines += 1
                if k + stride == last or parts[k + stride]:  # lines may follow: kept for them
                    self.current = (lineno, ts, rest, [])
                    continue
                sender, sep, text = rest.partition(": ")
                if sep and (quoted.get(sender) is False if plain_senders else text[:1] not in BIDI):
                    if is_plain(text) and (ios or text != view_once):
                        yield (chat_id, ts, sender, "text", text, False, None, lineno)
                        continue
                    kind, body, edited, _ = classify_text(text)  # (a text has no attachment)
                    if kind is _TEXT and (ios or body != view_once):
                        yield (chat_id, ts, sender, "text", body, edited, None, lineno)
                        continue
                yield row(lineno, ts, rest, [])
            tail = parts[last]  # "\n" and the block's lines after its last header
            if len(tail) > 1 or (last == 0 and block == ""):  # (a last line may be empty)
                self.lineno = lineno
                yield from self._lines(tail[1:])
                lineno = self.lineno
        self.lineno = lineno
        report.lines += lineno
        report.header_lines += header_lines
        if self.current is not None:
            yield row(*self.current)

    @staticmethod
    def _time(
        conv: Converter | NamedConverter, date_text: str, time_text: str, ampm: str | None
    ) -> str | None:
        day = conv.date(date_text)
        time = conv.time(time_text, ampm)
        return None if day is None or time is None else f"{day}T{time}"

    def _lines(self, text: str) -> Iterator[tuple[Any, ...]]:
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
                        yield self._row(*current)
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
                yield self._row(*self.current)
                self.current = None
            if ts is None:
                report.not_understood(lineno)
                continue
            report.header_lines += 1
            self.current = (lineno, ts, rest, [])

    def _row(self, lineno: int, ts: str, rest: str, more: list[str]) -> tuple[Any, ...]:
        """The store's row (`PLAIN_ROW`) of one message: its header line's number, time and
        text after the time, and its continuation lines."""
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
        classified = classify_text(text) if sep else None
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
            return (self.chat_id, ts, None, "system", rest.lstrip(BIDI), False, None, lineno)
        kind, body, edited, attachment = classified
        if kind is Kind.TEXT and not self.ios and body == markers.ANDROID_VIEW_ONCE:
            kind, body = Kind.MEDIA, ""
        elif kind is _MEDIA and attachment is None and not body and is_unknown(text):
            self._unknown_placeholder(lineno, text)
        return (self.chat_id, ts, sender, KIND_TEXT[kind], body, edited, attachment, lineno)

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
_MEDIA, _TEXT = Kind.MEDIA, Kind.TEXT
_GROUPS = ("date", "time", "ampm", "rest")  # of every layout's header pattern
