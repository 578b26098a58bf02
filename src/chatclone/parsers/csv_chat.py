"""Chats as CSV: exports people make by hand, in a spreadsheet, or with other tools.

The file starts with a header row naming its columns (case-insensitive; spaces, dashes and
underscores alike): a time (`timestamp`, `datetime`, `date`, `time`; `date` and `time` both
present are read together), a sender (`sender`, `author`, `from`, `name`) and a text (`text`,
`message`, `content`, `body`), and optionally the chat (`chat`, `conversation`, `thread`) and whether
the row is the owner's (`is_me`, `from_me`). A file is recognised only by such a header. The
delimiter, comma, semicolon or tab, is sniffed from the first lines (`csv.Sniffer`).

Times: ISO 8601 (`2024-01-05 21:15`, `2024-01-05T21:15:03+01:00`) or Unix time in seconds or
milliseconds. An ISO time with an offset, and Unix time, are instants: shown as wall-clock time in
the ingest zone (`ParseOptions.timezone`); an ISO time without one is kept as written. Other
dates (`05/01/2024 21:15`, `5.1.24 9:15 PM`) are read in the order `ParseOptions.date_order`
gives, else the one the whole file's dates allow (`_DateOrder`); a note says which.

Mapping: the chat is the chat column's value, else the file's name without `.csv`; its id is
derived from that name. A row without a sender is a `system` line. `is_me` rows name the owner
("me"). A row that cannot be read (no time, no text, too few columns) is reported by its line
number; a file in which no row can be read fails naming the first.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

from chatclone.errors import InputError
from chatclone.messages import Kind, Message, chat_id_for
from chatclone.parsers.base import (
    DATE_ORDERS,
    READ_ERRORS,
    Clock,
    ParseReport,
    Source,
    csv_rows,
    head_text,
    nothing_readable,
    sniff_encoding,
)

_COLUMNS = {
    "timestamp": "time", "datetime": "time", "date_time": "time", "date": "date", "time": "clock",
    "sender": "sender", "author": "sender", "from": "sender", "name": "sender",
    "text": "text", "message": "text", "content": "text", "body": "text",
    "chat": "chat", "conversation": "chat", "thread": "chat",
    "is_me": "is_me", "from_me": "is_me",
}  # fmt: skip
_TRUE = {"1", "true", "yes", "y", "x", "me", "t"}
_UNIX = re.compile(r"(\d{9,14})(?:\.\d+)?")
_OTHER = re.compile(
    r"(\d{1,4})[./-](\d{1,2})[./-](\d{1,4}),?\s*(?:(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?"
    r"\s*([AaPp]\.?[Mm]\.?)?)?"
)
_SNIFF_LINES = 20
_SNIFF_CHARS = 16 * 1024
_MAX_HEADER = 1000


@dataclass(frozen=True)
class _Header:
    """Which column holds what, by index."""

    delimiter: str
    columns: dict[str, int]

    @classmethod
    def of(cls, text: str) -> _Header | None:
        lines = text.splitlines()[:_SNIFF_LINES]
        if not lines or len(lines[0]) > _MAX_HEADER or not any(d in lines[0] for d in ",;\t"):
            return None  # not a header: a JSON document, a text export's first line…
        sniffed = _delimiter("\n".join(lines)[:_SNIFF_CHARS])
        for delimiter in dict.fromkeys((sniffed, ",", ";", "\t")):
            header = next(csv.reader([lines[0]], delimiter=delimiter), [])
            columns = _roles(header)
            if columns is not None:
                return cls(delimiter, columns)
        return None


def _roles(header: list[str]) -> dict[str, int] | None:
    """The column of each role the header names; None without a time, a sender and a text."""
    columns: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = re.sub(r"[\s-]+", "_", raw.strip().strip('"').lower())
        role = _COLUMNS.get(name)
        if role is not None and role not in columns:
            columns[role] = index
    if "time" not in columns and "date" in columns:
        columns["time"] = columns.pop("date")  # with `clock`, if any, read after it
    elif "time" not in columns and "clock" in columns:
        columns["time"] = columns.pop("clock")
    else:
        columns.pop("date", None)
        columns.pop("clock", None)
    return columns if {"time", "sender", "text"} <= columns.keys() else None


def _delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:  # too irregular for the sniffer: each is tried on the header
        return ","


class CsvParser:
    name = "csv"
    description = "a CSV of messages with a header row (timestamp, sender, text[, chat, is_me])"

    def sniff(self, source: Source) -> bool:
        text = head_text(source)
        return text is not None and _Header.of(text) is not None

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        text = head_text(source)
        header = _Header.of(text) if text is not None else None
        encoding = sniff_encoding(source.head())
        if header is None or encoding is None:
            raise InputError(source.display, "no header row with time, sender and text columns")
        reader = _Reader(source, report, header)
        order = _DateOrder.of(report.options.date_order, reader.times(encoding))
        reader.order = order.order
        yield from reader.read(encoding)
        if reader.rows and not reader.kept:
            line, reason = reader.first_failure or (2, "not understood")
            raise nothing_readable(source, reader.rows, "row", f"line {line}", reason, line)
        report.notes.extend(reader.notes(order))


@dataclass
class _DateOrder:
    """The order of day, month and year in dates that are neither ISO 8601 nor Unix time: the
    user's, else the one every such date in the file allows (DMY where several do)."""

    order: str | None
    how: str

    @classmethod
    def of(cls, chosen: str | None, values: Iterator[str]) -> _DateOrder:
        if chosen is not None:
            for _ in values:  # read through, so that a damaged file fails here too
                pass
            return cls(chosen, f"set to {chosen}")
        possible = set(DATE_ORDERS)
        seen = 0
        for value in values:
            parts = None if _is_iso_or_unix(value) else _other_parts(value)
            if parts is not None:
                seen += 1
                possible &= {o for o in DATE_ORDERS if _ymd(parts, o) is not None}
        if not seen:
            return cls(None, "")
        for order in DATE_ORDERS:
            if order in possible:
                how = "inferred" if len(possible) == 1 else "ambiguous, assumed"
                return cls(order, f"{how} {order}; set --date-order to choose")
        return cls(None, "no one order fits every date: those that fit none are reported")


@dataclass
class _Reader:
    source: Source
    report: ParseReport
    header: _Header
    order: str | None = None
    rows: int = 0
    kept: int = 0
    first_failure: tuple[int, str] | None = None
    kinds_of_time: set[str] = field(default_factory=set)
    owners: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.clock = Clock(self.report.options.timezone)
        name = PurePosixPath(self.source.name_hint).name
        self.file_chat = re.sub(r"\.(csv|tsv|txt)$", "", name, flags=re.IGNORECASE) or name

    def _rows(self, encoding: str) -> Iterator[tuple[int, list[str]]]:
        """(first line, row) for every row after the header."""
        try:
            yield from csv_rows(self.source, encoding, self.header.delimiter)
        except READ_ERRORS as e:
            raise InputError(self.source.display, f"cannot read: {e}") from None

    def times(self, encoding: str) -> Iterator[str]:
        index = self.header.columns["time"]
        for _, row in self._rows(encoding):
            if len(row) > index:
                yield row[index].strip()

    def read(self, encoding: str) -> Iterator[Message]:
        columns = self.header.columns
        needed = max(columns["time"], columns["text"], columns["sender"]) + 1
        for line, row in self._rows(encoding):
            if not any(cell.strip() for cell in row):
                self.report.blank_lines += 1
                continue
            self.rows += 1
            if len(row) < needed:
                self._fail(line, f"{len(row)} column(s), the header has {len(columns)} or more")
                continue
            message = self._message(line, row)
            if message is not None:
                self.report.header_lines += 1
                self.kept += 1
                yield message

    def _message(self, line: int, row: list[str]) -> Message | None:
        columns = self.header.columns

        def cell(role: str) -> str:
            index = columns.get(role)
            return row[index].strip() if index is not None and index < len(row) else ""

        stamp = cell("time")
        if "clock" in columns and cell("clock"):
            stamp = f"{stamp} {cell('clock')}"
        ts = self._wall_time(stamp)
        if ts is None:
            self._fail(line, f"time not understood: {stamp!r}")
            return None
        text = row[columns["text"]]
        if not text.strip():
            self._fail(line, "no text")
            return None
        sender = cell("sender") or None
        if sender is not None and cell("is_me").lower() in _TRUE:
            self.owners[sender] = self.owners.get(sender, 0) + 1
            if self.report.owner is None:
                self.report.owner = (sender, f"csv:{sender}")
        chat = cell("chat") or self.file_chat
        return Message(
            chat=chat,
            chat_id=chat_id_for("csv", chat),
            source="csv",
            ts=ts,
            sender=sender,
            kind=Kind.TEXT if sender is not None else Kind.SYSTEM,
            text=text.replace("\r\n", "\n"),
            origin_file=self.source.display,
            origin_line=line,
        )

    def _wall_time(self, value: str) -> str | None:
        if not value:
            return None
        unix = _UNIX.fullmatch(value)
        if unix is not None:
            digits = unix.group(1)
            self.kinds_of_time.add("Unix time")
            seconds = int(digits) // 1000 if len(digits) >= 12 else int(digits)
            return self.clock.wall_time(seconds)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return self._other_time(value)
        if moment.tzinfo is not None:
            self.kinds_of_time.add("ISO 8601 with an offset")
            try:
                moment = moment.astimezone(self.clock.zone).replace(tzinfo=None)
            except (OverflowError, OSError):
                return None
        else:
            self.kinds_of_time.add("ISO 8601 as written")
        return moment.isoformat(timespec="seconds")

    def _other_time(self, value: str) -> str | None:
        parts = _other_parts(value)
        if parts is None or self.order is None:
            return None
        date = _ymd(parts, self.order)
        if date is None:
            return None
        _, _, _, hour, minute, second, half = parts
        hours = int(hour or 0)
        if half:
            if not 1 <= hours <= 12:
                return None
            hours = hours % 12 + (12 if half[0] in "Pp" else 0)
        try:
            moment = datetime(*date, hours, int(minute or 0), int(second or 0))
        except ValueError:
            return None
        self.kinds_of_time.add(f"{self.order} dates as written")
        return moment.isoformat(timespec="seconds")

    def _fail(self, line: int, reason: str) -> None:
        self.report.not_understood(line)
        if self.first_failure is None:
            self.first_failure = (line, reason)

    def notes(self, order: _DateOrder) -> list[str]:
        by_index = sorted((i, role) for role, i in self.header.columns.items())
        names = {"time": "date" if "clock" in self.header.columns else "time"}
        names["clock"] = "time of day"
        columns = ", ".join(f"{names.get(role, role)} = column {i + 1}" for i, role in by_index)
        delimiter = {"\t": "tab"}.get(self.header.delimiter, repr(self.header.delimiter))
        notes = [f"CSV ({delimiter}-separated; {columns})"]
        if self.kinds_of_time:
            notes.append(f"times read as {', '.join(sorted(self.kinds_of_time))}")
        if self.kinds_of_time & {"Unix time", "ISO 8601 with an offset"}:
            notes.append(f"instants shown in {self.clock.describe()}")
        if order.how:
            notes.append(f"date order {order.how}")
        if len(self.owners) > 1:
            notes.append(f"`is_me` rows name several people ({', '.join(sorted(self.owners))})")
        return notes


def _is_iso_or_unix(value: str) -> bool:
    if _UNIX.fullmatch(value):
        return True
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _other_parts(value: str) -> tuple[str, ...] | None:
    match = _OTHER.fullmatch(value)
    return match.groups() if match else None


def _ymd(parts: tuple[str, ...], order: str) -> tuple[int, int, int] | None:
    """(year, month, day) of a date's three numbers read in `order`; None if they can't be."""
    values = dict(zip(order, (int(p) for p in parts[:3]), strict=True))
    year, month, day = values["Y"], values["M"], values["D"]
    if (order != "YMD" and len(parts[0]) > 2) or (order == "YMD" and len(parts[2]) > 2):
        return None
    if year < 100:
        year += 2000
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return year, month, day
