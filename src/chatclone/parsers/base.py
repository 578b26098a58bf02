"""The small interface every parser implements, and the `Source` it reads from."""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import IO, Protocol

from chatclone.errors import ChatcloneError, InputError
from chatclone.messages import Message

SNIFF_BYTES = 64 * 1024
TEXT_BLOCK = 1024 * 1024
# What reading a damaged file or zip member raises; always reported as an `InputError`.
READ_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error, OSError)
MAX_REPORTED_LINES = 10


@dataclass
class Source:
    """One file to parse: a file on disk or a member of a zip archive.

    `display` is what error messages name (`export.zip:_chat.txt`); `name_hint` is the file name a
    parser may take the chat's name from (for `_chat.txt` inside a zip, the zip's name).
    """

    display: str
    opener: Callable[[], IO[bytes]]
    size: int
    name_hint: str
    _head: bytes | None = field(default=None, repr=False)
    sibling: Callable[[str], Source | None] | None = field(default=None, repr=False)
    """Finds a file near this one in the same folder or zip by a relative path (`../users.json`),
    for formats split over several files (Slack); None where there is none. The path may hold glob
    wildcards (`../../Users/User */user_info.json`, Google Chat): then the first match by name."""

    def open(self) -> IO[bytes]:
        return self.opener()

    def head_content(self) -> bytes:
        """The first bytes without a UTF-8 byte-order mark and leading whitespace: what a JSON
        format's sniff looks at."""
        return self.head().removeprefix(codecs.BOM_UTF8).lstrip()

    def head(self) -> bytes:
        """The first bytes of the file, for sniffing (read once, cached)."""
        if self._head is None:
            try:
                with self.open() as f:
                    self._head = f.read(SNIFF_BYTES)
            except READ_ERRORS as e:
                raise InputError(
                    self.display, f"cannot read (truncated or corrupt?): {e}"
                ) from None
        return self._head


DATE_ORDERS = ("DMY", "MDY", "YMD")


@dataclass(frozen=True)
class ParseOptions:
    """What the user told ingest about the exports (flags and the [ingest] settings)."""

    date_order: str | None = None
    """"DMY", "MDY" or "YMD": overrides the inferred order of a text export's dates."""
    timezone: str | None = None
    """An IANA zone for exports that carry only instants (Telegram's `date_unixtime`); None:
    this machine's zone."""


@dataclass
class ParseReport:
    """What a parser noticed besides messages: counts, problems, and facts about the export."""

    lines: int = 0  # text exports: every physical line read
    header_lines: int = 0  # lines that start a message
    continuation_lines: int = 0  # lines appended to the message before them
    blank_lines: int = 0  # blank lines outside any message (start of file, trailing)
    unparsed: int = 0  # lines (or records) that could not be understood
    unparsed_lines: list[int] = field(default_factory=list)  # the first few of them
    unit: str = "line"  # what `unparsed_lines` counts: "line" (text), "message id" (JSON)
    notes: list[str] = field(default_factory=list)  # e.g. how the date format was inferred
    owner: tuple[str, str] | None = None  # (display name, user id) of an account export's owner
    progress: Callable[[int], None] | None = None  # called with the byte position now and then
    options: ParseOptions = field(default_factory=ParseOptions)  # what the user asked for

    def not_understood(self, line: int) -> None:
        self.unparsed += 1
        if len(self.unparsed_lines) < MAX_REPORTED_LINES:
            self.unparsed_lines.append(line)


class Clock:
    """Turns Unix-time instants into local wall-clock ISO times (`2024-01-05T19:00:00`), the form
    text exports write, in the ingest zone (`ParseOptions.timezone`; None: this machine's)."""

    def __init__(self, zone_name: str | None) -> None:
        self.zone_name = zone_name
        self.zone: tzinfo | None = None
        if zone_name is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                self.zone = ZoneInfo(zone_name)
            except (ZoneInfoNotFoundError, ValueError):
                raise ChatcloneError(
                    f"'{zone_name}' is not a time zone; give an IANA name such as Europe/Berlin"
                ) from None

    def wall_time(self, seconds: int) -> str | None:
        """The wall-clock time of `seconds` since the epoch; None if it is out of range."""
        try:
            moment = datetime.fromtimestamp(seconds, self.zone)  # None: this machine's zone
        except (OverflowError, OSError, ValueError):
            return None
        return moment.replace(tzinfo=None).isoformat(timespec="seconds")

    def describe(self) -> str:
        if self.zone_name is not None:
            return self.zone_name
        names = "/".join(dict.fromkeys(time.tzname))  # "CET/CEST": the same all year round
        return f"this machine's zone ({names}; set [ingest] timezone to choose)"


def nothing_readable(
    source: Source, count: int, what: str, first: str, reason: str, line: int | None = None
) -> InputError:
    """The error for a file none of whose `count` records (`what`: "record", "row"…) could be
    read: storing "0 added" would hide that the whole file was lost. Names the first failure
    (`first`: where it is, such as "line 3" or "message id 7") and why."""
    problem = f"none of its {count} {what}(s) could be read; the first, {first}: {reason}"
    return InputError(source.display, problem, line)


class Parser(Protocol):
    """A messenger's export format.

    A parser may also offer `parse_rows(source, report)`, the same messages as the store's row
    batches (`messages.RowBatch`): `ingest` then uses it and skips making a `Message` per message
    (WhatsApp's parser does; `reading._rows`)."""

    name: str  # short id, e.g. "whatsapp"
    description: str  # one line for `--help` and errors

    def sniff(self, source: Source) -> bool:
        """True if this parser recognises the file (looking at its first bytes only)."""
        ...

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        """Yield every message in the file; count what could not be understood in `report`.

        Raises `InputError` for a file that cannot be read at all (bad encoding, truncated…).
        """
        ...


def sniff_encoding(head: bytes) -> str | None:
    """The text encoding of a file from its first bytes, or None if it looks binary.

    WhatsApp writes UTF-8, sometimes with a BOM; some Windows tools re-save it as UTF-16.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        sample = head[:4096]
        even, odd = sample[0::2], sample[1::2]
        if odd and odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.1 * len(even):
            return "utf-16-le"
        if even and even.count(0) > 0.4 * len(even) and odd.count(0) < 0.1 * len(odd):
            return "utf-16-be"
        return None
    return "utf-8"


def iter_text_lines(
    source: Source, encoding: str, progress: Callable[[int], None] | None = None
) -> Iterator[str]:
    """Yield the file's lines without their line endings.

    Undecodable bytes fail with the line number they are on. `progress` gets the byte position
    after each block.
    """
    if encoding.startswith("utf-16"):
        with source.open() as f:
            yield from _iter_utf16_lines(source, f, encoding, progress)
        return
    for block in iter_text_blocks(source, encoding, progress):
        lines = block.split("\n")
        if block.endswith("\n"):
            lines.pop()  # the empty string after the block's last newline
        yield from lines


def iter_text_blocks(
    source: Source, encoding: str, progress: Callable[[int], None] | None = None
) -> Iterator[str]:
    """Yield the file's text in blocks of whole lines (about `TEXT_BLOCK` bytes), each ending
    with a newline except perhaps the file's last, whose text after its last newline (even empty)
    is a line: for parsers that find their records with one regular expression over a block
    instead of a Python loop over every line.

    Line endings are `\n` (`\r\n` is translated); the lines are exactly `iter_text_lines`' lines.
    """
    if encoding.startswith("utf-16"):  # rare: WhatsApp writes UTF-8
        with source.open() as f:
            lines = list(_iter_utf16_lines(source, f, encoding, progress))
        if lines:
            yield "\n".join(lines) + "\n"
        return
    with source.open() as f:
        yield from _iter_utf8_blocks(source, f, progress)


def _iter_utf8_blocks(
    source: Source, f: IO[bytes], progress: Callable[[int], None] | None
) -> Iterator[str]:
    # Decoding a megabyte at a time is several times faster than line by line; on a decoding
    # error the line number is counted from the error's offset in the block.
    lines_before = 0
    rest = b""
    first = True
    while True:
        block = f.read(TEXT_BLOCK)
        if not block:
            break
        block = rest + block
        cut = block.rfind(b"\n") + 1
        if cut == 0:
            rest = block
            continue
        data, rest = block[:cut], block[cut:]
        text = _decode_utf8(source, data, lines_before)
        if first:
            text, first = text.removeprefix("\ufeff"), False
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines_before += text.count("\n")
        yield text
        if progress is not None:
            progress(f.tell())
    if rest:
        text = _decode_utf8(source, rest, lines_before)
        yield (text.removeprefix("\ufeff") if first else text).rstrip("\r")


def _decode_utf8(source: Source, data: bytes, lines_before: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = lines_before + data.count(b"\n", 0, e.start) + 1
        raise InputError(
            source.display,
            f"not valid UTF-8 text (undecodable byte 0x{data[e.start]:02x}); "
            "is this really a chat export?",
            line,
        ) from None


def _iter_utf16_lines(
    source: Source, f: IO[bytes], encoding: str, progress: Callable[[int], None] | None
) -> Iterator[str]:
    text = io.TextIOWrapper(f, encoding=encoding, newline=None)
    lineno = 0
    try:
        for line in text:
            lineno += 1
            if lineno == 1:
                line = line.removeprefix("\ufeff")
            elif progress is not None and not lineno & 0x3FFF:
                progress(f.tell())
            yield line.rstrip("\r\n")
    except UnicodeDecodeError:
        raise InputError(
            source.display, f"not valid {encoding} text (undecodable bytes)", lineno + 1
        ) from None
    finally:
        with contextlib.suppress(ValueError):  # (`f` already closed by its owner)
            text.detach()  # the caller closes `f`; a wrapper left to the collector warns


def head_text(source: Source) -> str | None:
    """The sniffable start of a text file, decoded leniently; None if it looks binary."""
    head = source.head()
    encoding = sniff_encoding(head)
    if encoding is None:
        return None
    if encoding.startswith("utf-16") and len(head) % 2:
        head = head[:-1]
    return head.decode(encoding, errors="replace").lstrip("\ufeff")


def csv_rows(
    source: Source, encoding: str, delimiter: str = ","
) -> Iterator[tuple[int, list[str]]]:
    """(the line it starts on, row) for every row of a CSV file after its header line, with a
    file that is not text in `encoding`, or not CSV, as an `InputError`."""
    try:
        with source.open() as raw:
            rows = csv.reader(
                io.TextIOWrapper(raw, encoding=encoding, newline=""), delimiter=delimiter
            )
            last = 0
            for row in rows:
                first, last = last + 1, rows.line_num
                if first > 1:
                    yield first, row
    except UnicodeDecodeError:
        raise InputError(source.display, f"not valid {_shown(encoding)} text") from None
    except csv.Error as e:
        raise InputError(source.display, f"not readable as CSV: {e}") from None


def _shown(encoding: str) -> str:
    return "UTF-8" if encoding.replace("_", "-").lower() in ("utf-8", "utf-8-sig") else encoding
