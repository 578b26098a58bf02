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
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from chatclone.errors import InputError
from chatclone.messages import Kind, Message, chat_id_for
from chatclone.parsers.base import ParseReport, Source, head_text, iter_text_lines, sniff_encoding
from chatclone.parsers.whatsapp import markers
from chatclone.parsers.whatsapp.dates import (
    Converter,
    NamedConverter,
    NamedDateFormat,
    WhatsAppDateFormat,
)
from chatclone.parsers.whatsapp.layouts import (
    DIGITS,
    INVISIBLE,
    LAYOUTS,
    LEADING,
    MARKED,
    MARKED_SPAN,
    MONTHS,
    NUMBERED,
    Header,
    Layout,
    looks_like_header,
    match_header,
)

BIDI = "\u200e\u200f"
SNIFF_LINES = 200
# "report.pdf • 3 pages", "verslag.pdf • \u200e3 pagina's", "見積書.pdf • \u200eページ数: 2"
_PAGES = re.compile(r"\s*•[^•]*$")
_QUOTES = re.compile('["“”«»„]')
# The file names "Export chat" writes, in several languages: the chat's name follows.
_CHAT_NAME = re.compile(
    r"^(?:WhatsApp Chat with|WhatsApp Chat mit|WhatsApp[- ]chat met|Chat de WhatsApp con|"
    r"Chat WhatsApp con|Chat di WhatsApp con|Discussion WhatsApp avec|Conversa do WhatsApp com|"
    r"Conversa no WhatsApp com|WhatsApp Chat -|WhatsApp Chat)\s+(?P<name>.+)$",
    re.I,
)
_MONTH_STARTS = frozenset(name[:3] for name in MONTHS)
_OTHER_STARTS = "[" + INVISIBLE


def chat_name_from(file_name: str) -> str:
    """`WhatsApp Chat with Mum.txt` → `Mum`; a file without the usual prefix keeps its stem."""
    stem = Path(file_name).stem
    m = _CHAT_NAME.match(stem)
    return (m["name"] if m else stem).strip() or stem


@dataclass
class _Survey:
    """What the first pass learns about the whole file."""

    formats: dict[str, WhatsAppDateFormat | NamedDateFormat] = field(
        default_factory=lambda: {
            layout.name: NamedDateFormat() if layout.named else WhatsAppDateFormat()
            for layout in LAYOUTS
        }
    )
    # iOS: per sender, [messages, messages that look like system lines (U+200E, no marker)]
    ios_senders: dict[str, list[int]] = field(default_factory=dict)

    @property
    def layout(self) -> Layout:
        # The layout with the most headers; on a tie, the first in `LAYOUTS`.
        return max(LAYOUTS, key=lambda layout: self.formats[layout.name].headers)

    def observe(self, header: Header) -> None:
        self.formats[header.layout.name].observe(header.date, header.ampm)
        if header.layout.chat_as_sender:
            _survey_ios_sender(self.ios_senders, header.rest)

    def system_senders(self) -> set[str]:
        """iOS gives system lines the chat's name as sender: a sender all of whose lines are
        system-looking (a leading U+200E and no media, deletion or call marker) is that name."""
        return {s for s, (n, sys_like) in self.ios_senders.items() if n == sys_like}


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
        reader.system_senders = survey.system_senders() | {chat}
        yield from reader.read(iter_text_lines(source, encoding, report.progress))
        if report.header_lines == 0:
            raise InputError(source.display, "no line could be read as a WhatsApp message", 1)

    def _survey(self, source: Source, encoding: str) -> _Survey:
        survey = _Survey()
        android = survey.formats["android"]
        android_header = NUMBERED[0].header
        for line in iter_text_lines(source, encoding):
            # The common case first, inline: an Android header.
            if line[:1] in DIGITS:
                m = android_header.match(line)
                if m is not None:
                    android.observe(m["date"], m["ampm"])
                    continue
            elif line[:1] not in _OTHER_STARTS and line[:3].casefold() not in _MONTH_STARTS:
                continue  # text: no layout starts with a letter other than a month's
            header = match_header(line)
            if header is not None:
                survey.observe(header)
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


def _survey_ios_sender(senders: dict[str, list[int]], rest: str) -> None:
    sender, sep, text = rest.partition(": ")
    if not sep:
        return
    counts = senders.get(sender)
    if counts is None:
        counts = senders[sender] = [0, 0]
    counts[0] += 1
    if text and text[0] in BIDI and _classify(text)[0] is Kind.TEXT:
        counts[1] += 1


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
        self.system_senders: set[str] = set()
        self._placeholders = 0  # `<…>` messages in an unknown language, see _unknown_placeholder
        self._placeholder_note = 0
        self._placeholder_first = ""
        self._quoted: dict[str, bool] = {}  # per sender: has a quote, so is a split system line

    def read(self, lines: Iterator[str]) -> Iterator[Message]:
        report, layout, conv = self.report, self.layout, self.conv
        header = layout.header
        looks_like = layout.looks_like or header
        start = layout.starts
        only = (layout,)
        # The message being read: header line number, timestamp, rest of the header line, and
        # its continuation lines.
        current: tuple[int, str, str, list[str]] | None = None
        lineno = 0
        for lineno, line in enumerate(lines, 1):
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
                if looks_like.match(bare) or (marked and looks_like_header(line, layout)):
                    # Never glue a broken header onto the message before it. The lines after
                    # it belong to the broken message and are reported with it.
                    if current is not None:
                        yield self._message(*current)
                        current = None
                    report.not_understood(lineno)
                elif current is not None:
                    current[3].append(line)
                    report.continuation_lines += 1
                elif not line.strip():
                    report.blank_lines += 1
                else:
                    report.not_understood(lineno)
                continue
            day = conv.date(date_text)
            time = conv.time(time_text, ampm)
            if current is not None:
                yield self._message(*current)
                current = None
            if day is None or time is None:
                report.not_understood(lineno)
                continue
            report.header_lines += 1
            current = (lineno, f"{day}T{time}", rest, [])
        report.lines += lineno
        if current is not None:
            yield self._message(*current)

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
        classified = _classify(text) if sep else None
        if classified is None or self._is_system(sender, text, classified[0]):
            if sep and self.chat_as_sender:
                rest = text  # the "sender" was the chat's name
            elif more:
                rest = "\n".join([rest, *more])
            body = rest.lstrip(BIDI)
            return self._build(lineno, ts, None, Kind.SYSTEM, body, False, None)
        kind, body, edited, attachment = classified
        if kind is Kind.TEXT and not self.ios and body == markers.ANDROID_VIEW_ONCE:
            kind, body = Kind.MEDIA, ""
        elif kind is _MEDIA and attachment is None and not body and _is_unknown(text):
            self._unknown_placeholder(lineno, text)
        return self._build(lineno, ts, sender, kind, body, edited, attachment)

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

    def _build(
        self,
        lineno: int,
        ts: str,
        sender: str | None,
        kind: Kind,
        text: str,
        edited: bool,
        attachment: str | None,
    ) -> Message:
        return Message(
            chat=self.chat,
            chat_id=self.chat_id,
            source="whatsapp",
            ts=ts,
            sender=sender,
            kind=kind,
            text=text,
            edited=edited,
            attachment=attachment,
            origin_file=self.source.display,
            origin_line=lineno,
        )


def _classify(text: str) -> tuple[Kind, str, bool, str | None]:
    """(kind, text without markers, edited?, attachment name) for a message's text.

    This runs for every message, so cheap checks (a dict lookup, a first character, a substring)
    guard every regex.
    """
    edited = False
    if text.endswith(">"):
        m = markers.EDITED_SUFFIX.search(text)
        if m is not None:
            text, edited = text[: m.start()], True
    marked = text[:1] in BIDI
    if marked:
        text = text.lstrip(BIDI)
    first = text[:1]
    if len(text) <= 120:  # every marker is short
        low = _normalized(text)
        if low in markers.MEDIA_EXACT:
            return _MEDIA, "", edited, None
        if low in markers.DELETED_EXACT:
            return _DELETED, "", edited, None
        if low in markers.CALL_EXACT:
            return _CALL, text, edited, None
        if marked or low.startswith(markers.CALL_PREFIXES):
            call = markers.CALL.match(low)
            if call is not None and (call.end() == len(low) or low[call.end()] in ",."):
                return _CALL, text, edited, None
        if low.endswith(markers.DOCUMENT_ENDINGS):
            m = markers.DOCUMENT_OMITTED.fullmatch(text)
            if m is not None:
                name = _PAGES.sub("", m["name"]).strip(" \u200e\u200f")
                return _MEDIA, "", edited, name
    if "<" in text and ">" in text and (m := markers.ATTACHED.fullmatch(text)) is not None:
        name = m["name"] or m["name_first"]
        return _MEDIA, m["caption"].strip(), edited, name.strip()
    if first == "<" and text[-1:] == ">" and markers.is_unknown_placeholder(text):
        return _MEDIA, "", edited, None  # counted by the reader, see `_Reader._message`
    if first == "<" and "\n" in text:
        # Android: "<Media omitted>" with the caption on the next line.
        head, _, caption = text.partition("\n")
        if _normalized(head) in markers.MEDIA_EXACT:
            caption = caption.strip()
            if markers.DOCUMENT_NAME.fullmatch(caption):  # a document's name, not a caption
                return _MEDIA, "", edited, caption
            return _MEDIA, caption, edited, None
    if "(" in text and ")" in text and (m := markers.FILE_ATTACHED.fullmatch(text)) is not None:
        return _MEDIA, m["caption"].strip(), edited, m["name"].strip()
    if "://" in text and _is_location(text):
        return _LOCATION, text, edited, None
    if "\n" in text and markers.POLL.match(text):
        return _POLL, text, edited, None
    return _TEXT, text, edited, None


def _is_unknown(text: str) -> bool:
    return text.lstrip(BIDI)[:1] == "<" and markers.is_unknown_placeholder(text)


def _is_location(text: str) -> bool:
    if markers.LOCATION.match(text):
        return True
    return "foursquare.com/" in text and markers.FOURSQUARE.fullmatch(text.rstrip()) is not None


def _normalized(text: str) -> str:
    low = text.lower().strip()
    # Most texts have nothing to normalize; finding that out is far cheaper than doing it.
    if markers.NEEDS_NORMALIZING.search(low) is not None:
        low = markers.normalize(low)
    return low


# Enum attribute lookups are slow in a loop that runs per message.
_TEXT, _MEDIA, _DELETED, _CALL = Kind.TEXT, Kind.MEDIA, Kind.DELETED, Kind.CALL
_LOCATION, _POLL = Kind.LOCATION, Kind.POLL
