"""WhatsApp `.txt` exports, Android (`date, time - Sender: text`) and iOS (`[date, time] Sender: text`).

Two passes over the file: the first surveys every header to infer the layout, the date order and
the clock (`WhatsAppDateFormat`) and, on iOS, which "sender" is really the chat's own name used for
system lines; the second reads the messages. Every line is accounted for in the `ParseReport`: it
starts a message, continues one, is blank outside any message, or is reported as not understood.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chatclone.errors import InputError
from chatclone.messages import Kind, Message, chat_id_for
from chatclone.parsers.base import ParseReport, Source, head_text, iter_text_lines, sniff_encoding
from chatclone.parsers.whatsapp import markers
from chatclone.parsers.whatsapp.dates import (
    ANDROID_HEADER,
    IOS_HEADER,
    LOOKS_LIKE_HEADER,
    Converter,
    WhatsAppDateFormat,
)

BIDI = "\u200e\u200f"
SNIFF_LINES = 200
# "report.pdf • 3 pages", "verslag.pdf • \u200e3 pagina's"
_PAGES = re.compile(r"\s*•\s*[\u200e\u200f]?\d+\s*\S+$")
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


@dataclass
class _Survey:
    """What the first pass learns about the whole file."""

    android: WhatsAppDateFormat = field(default_factory=WhatsAppDateFormat)
    ios: WhatsAppDateFormat = field(default_factory=WhatsAppDateFormat)
    # iOS: per sender, [messages, messages that look like system lines (U+200E, no marker)]
    ios_senders: dict[str, list[int]] = field(default_factory=dict)

    @property
    def layout(self) -> str:
        return "ios" if self.ios.headers > self.android.headers else "android"

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
        for line in text.splitlines()[:SNIFF_LINES]:
            line = line.lstrip(BIDI)
            if ANDROID_HEADER.match(line) or IOS_HEADER.match(line):
                return True
        return False

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        encoding = sniff_encoding(source.head())
        if encoding is None:
            raise InputError(source.display, "binary data, not a text chat export")
        survey = self._survey(source, encoding)
        layout = survey.layout
        fmt = survey.ios if layout == "ios" else survey.android
        if fmt.headers == 0:
            raise InputError(source.display, "no WhatsApp message header found", 1)
        fmt.decide()
        clock = "12-hour" if fmt.twelve_hour > fmt.headers / 2 else "24-hour"
        report.notes.append(f"WhatsApp {layout} layout; dates {fmt.order} ({fmt.reason}); {clock}")
        chat = chat_name_from(source.name_hint)
        reader = _Reader(source, report, layout, Converter(fmt.order), chat)
        reader.system_senders = survey.system_senders() | {chat}
        yield from reader.read(iter_text_lines(source, encoding, report.progress))
        if report.header_lines == 0:
            raise InputError(source.display, "no line could be read as a WhatsApp message", 1)

    def _survey(self, source: Source, encoding: str) -> _Survey:
        survey = _Survey()
        for line in iter_text_lines(source, encoding):
            if line[:1] in BIDI:
                line = line.lstrip(BIDI)
            first = line[:1]
            if first == "[":
                m = IOS_HEADER.match(line)
                if m:
                    survey.ios.observe(m["date"], m["ampm"])
                    _survey_ios_sender(survey.ios_senders, m["rest"])
            elif first.isdigit():
                m = ANDROID_HEADER.match(line)
                if m:
                    survey.android.observe(m["date"], m["ampm"])
        return survey


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
        self, source: Source, report: ParseReport, layout: str, conv: Converter, chat: str
    ) -> None:
        self.source = source
        self.report = report
        self.ios = layout == "ios"
        self.header = IOS_HEADER if self.ios else ANDROID_HEADER
        self.conv = conv
        self.chat = chat
        self.chat_id = chat_id_for("whatsapp", chat)
        self.system_senders: set[str] = set()
        self._quoted: dict[str, bool] = {}  # per sender: has a quote, so is a split system line

    def read(self, lines: Iterator[str]) -> Iterator[Message]:
        report = self.report
        start = "[" if self.ios else "0123456789"
        header, looks_like_header, conv = self.header, LOOKS_LIKE_HEADER, self.conv
        # The message being read: header line number, timestamp, rest of the header line, and
        # its continuation lines.
        current: tuple[int, str, str, list[str]] | None = None
        lineno = 0
        for lineno, line in enumerate(lines, 1):
            bare = line.lstrip(BIDI) if line[:1] in BIDI else line
            m = header.match(bare) if bare[:1] in start else None
            if m is not None:
                day = conv.date(m["date"])
                time = conv.time(m["time"], m["ampm"])
                if current is not None:
                    yield self._message(*current)
                    current = None
                if day is None or time is None:
                    report.not_understood(lineno)
                    continue
                report.header_lines += 1
                current = (lineno, f"{day}T{time}", m["rest"], [])
            elif looks_like_header.match(bare):
                # Never glue a broken header onto the message before it. The lines after it
                # belong to the broken message and are reported with it.
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
        if not sep and rest.endswith(":") and not self.ios:
            sender, text, sep = rest[:-1], "", ":"
        if more:
            text = "\n".join([text, *more]) if sep else "\n".join([rest, *more])
        classified = _classify(text) if sep else None
        if classified is None or self._is_system(sender, text, classified[0]):
            if sep and self.ios:
                rest = text  # the "sender" was the chat's name
            elif more:
                rest = "\n".join([rest, *more])
            body = rest.lstrip(BIDI)
            return self._build(lineno, ts, None, Kind.SYSTEM, body, False, None)
        kind, body, edited, attachment = classified
        if kind is Kind.TEXT and not self.ios and body == markers.ANDROID_VIEW_ONCE:
            kind, body = Kind.MEDIA, ""
        return self._build(lineno, ts, sender, kind, body, edited, attachment)

    def _is_system(self, sender: str, text: str, kind: Kind) -> bool:
        if not self.ios:
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
    if len(text) <= 120:  # every marker is short
        low = text.lower().strip()
        # Most texts have nothing to normalize; finding that out is far cheaper than doing it.
        if markers.NEEDS_NORMALIZING.search(low) is not None:
            low = markers.normalize(low)
        if low in markers.MEDIA_EXACT:
            return _MEDIA, "", edited, None
        if low in markers.DELETED_EXACT:
            return _DELETED, "", edited, None
        if marked or low.startswith(markers.CALL_PREFIXES):
            call = markers.CALL.match(low)
            if call is not None and (call.end() == len(low) or low[call.end()] in ",."):
                return _CALL, text, edited, None
        if low.endswith(_DOCUMENT_ENDINGS):
            m = markers.DOCUMENT_OMITTED.fullmatch(text)
            if m is not None:
                name = _PAGES.sub("", m["name"]).strip(" \u200e")
                return _MEDIA, "", edited, name
    first = text[:1]
    if first == "<" and (m := markers.ATTACHED.fullmatch(text)) is not None:
        return _MEDIA, m["caption"].strip(), edited, m["name"].strip()
    if "(" in text and ")" in text and (m := markers.FILE_ATTACHED.fullmatch(text)) is not None:
        return _MEDIA, m["caption"].strip(), edited, m["name"].strip()
    if first in "lLuUsSpP" and markers.LOCATION.match(text):
        return _LOCATION, text, edited, None
    if "\n" in text and markers.POLL.match(text):
        return _POLL, text, edited, None
    return _TEXT, text, edited, None


# Enum attribute lookups are slow in a loop that runs per message.
_TEXT, _MEDIA, _DELETED, _CALL = Kind.TEXT, Kind.MEDIA, Kind.DELETED, Kind.CALL
_LOCATION, _POLL = Kind.LOCATION, Kind.POLL
_DOCUMENT_ENDINGS = (
    "omitted", "omitido", "weggelassen", "manquant", "omis", "revelado", "omesso", "weggelaten",
)  # fmt: skip
