"""Property tests for the WhatsApp parser on generated exports: it never crashes, it accounts for
every line, and every well-formed message comes out as written.

Run: .venv/bin/pytest tests/test_whatsapp_properties.py
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chatclone.errors import InputError
from chatclone.messages import Kind, Message
from chatclone.parsers.base import ParseReport, Source
from chatclone.parsers.whatsapp import WhatsAppParser, markers

PARSER = WhatsAppParser()
FILE_NAME = "WhatsApp Chat with Zed.txt"
LRM, RLM, NNBSP, NBSP, BOM = "\u200e", "\u200f", "\u202f", "\u00a0", "\ufeff"
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- export formats ------------------------------------------------------------------------------


def _h24(d: datetime) -> str:
    return f"{d:%H:%M}"


def _h24s(d: datetime) -> str:
    return f"{d:%H:%M:%S}"


def _h12(marks: tuple[str, str], seconds: bool, d: datetime) -> str:
    secs = f":{d:%S}" if seconds else ""
    return f"{d.hour % 12 or 12}:{d:%M}{secs}{NNBSP}{marks[d.hour >= 12]}"


def _mdy(d: datetime) -> str:
    return f"{d.month}/{d.day}/{d:%y}"


def _dmy_short(d: datetime) -> str:
    return f"{d.day}/{d.month}/{d:%y}"


def _buddhist(d: datetime) -> str:
    return f"{d.month}/{d.day}/{d.year + 543} BE"


def _japanese_era(d: datetime) -> str:
    era = f"R{d.year - 2018}" if d >= datetime(2019, 5, 1) else f"H{d.year - 1988}"
    return f"{d.month}/{d.day}/{era}"


def _arabic(d: datetime) -> str:
    return f"{RLM}{d.day}{RLM}/{d.month}{RLM}/{d.year}"


@dataclass(frozen=True)
class Format:
    name: str
    ios: bool
    date: Callable[[datetime], str]
    time: Callable[[datetime], str]
    sep: str  # between the date and the time
    shape: str = (
        ""  # "" (Android ` - ` or iOS `[…]`), "legacy" (iOS `…: `), "time-first" (`[time, date]`)
    )

    def stamp(self, date_text: str, time_text: str) -> str:
        if self.shape == "time-first":
            return f"[{time_text}, {date_text}] "
        stamp = f"{date_text}{self.sep}{time_text}"
        if self.shape == "legacy":
            return f"{stamp}: "
        return f"[{stamp}] " if self.ios else f"{stamp} - "

    def header(self, d: datetime, sender: str) -> str:
        return f"{self.stamp(self.date(d), self.time(d))}{sender}: "

    def iso(self, d: datetime) -> str:
        return f"{d:%Y-%m-%dT%H:%M:%S}" if self.ios else f"{d:%Y-%m-%dT%H:%M}"


EN, ES = ("AM", "PM"), (f"a.{NBSP}m.", f"p.{NBSP}m.")
FORMATS = [
    Format("android en-GB", False, lambda d: f"{d:%d/%m/%Y}", _h24, ", "),
    Format("android en-US", False, _mdy, partial(_h12, EN, False), ", "),
    Format("android es", False, _dmy_short, partial(_h12, ES, False), ", "),
    Format("android de", False, lambda d: f"{d:%d.%m.%y}", _h24, ", "),
    Format("android fr", False, lambda d: f"{d:%d/%m/%Y}", _h24, " à "),
    Format("android pt-BR", False, lambda d: f"{d:%d/%m/%Y}", _h24, " "),
    Format("android nl", False, lambda d: f"{d:%d-%m-%Y}", _h24, " "),
    Format("android year-first", False, lambda d: f"{d:%Y-%m-%d}", _h24, " "),
    Format("ios en-GB", True, lambda d: f"{d:%d/%m/%Y}", _h24s, ", "),
    Format("ios en-US", True, _mdy, partial(_h12, EN, True), ", "),
    Format("ios de", True, lambda d: f"{d:%d.%m.%y}", _h24s, ", "),
    Format("ios before 2017", True, _mdy, partial(_h12, EN, True), ", ", "legacy"),
    Format("ios vi (time first)", True, _mdy, _h24s, ", ", "time-first"),
    Format("ios th (Buddhist era)", True, _buddhist, _h24s, ", "),
    Format("ios ja (era years)", True, _japanese_era, _h24s, ", "),
    Format("ios ar", True, _arabic, _h24s, "\u060c "),
]
formats = st.sampled_from(FORMATS)


def broken_time(fmt: Format, d: datetime, how: int) -> str:
    """A time no clock shows, written the way `fmt` writes times."""
    if how == 0:
        return fmt.time(d).replace(f"{d:%M}", "75", 1)  # minute 75
    if "M" in fmt.time(d) or "m." in fmt.time(d):
        return fmt.time(d).replace(f"{d.hour % 12 or 12}:", "13:", 1)  # 13 o'clock PM
    return fmt.time(d).replace(f"{d:%H}:", "25:", 1)


# --- building blocks -----------------------------------------------------------------------------

names = st.lists(
    st.text(st.characters(categories=["Lu", "Ll", "Lo"]), min_size=1, max_size=8),
    min_size=1,
    max_size=3,
).map(" ".join)

# Text a person might type: any printable character except the few that make a marker (`<…>`,
# `(file attached)`) or a line break; U+200E and U+202F may appear inside.
_TEXT_CHARS = st.characters(
    exclude_categories=["Cs", "Cc", "Co", "Cn", "Zl", "Zp"],
    exclude_characters="<>()\ufeff\u200f\x85",
)


def _plain_line(line: str) -> bool:
    # A line starting with a digit, `[` or a bidi mark could be (or hide) a header.
    return not line or not (line[0].isdigit() or line[0] in f"[{LRM}")


plain_lines = st.text(_TEXT_CHARS, max_size=30).filter(_plain_line)


@st.composite
def message_texts(draw: st.DrawFn) -> str:
    first = draw(st.text(_TEXT_CHARS, max_size=40).filter(lambda t: not t.startswith(LRM)))
    more = draw(st.lists(plain_lines, max_size=3))
    if more and not more[-1].strip():  # trailing blank lines are never part of a message
        more[-1] += "x"
    text = "\n".join([first, *more])
    assume(_not_a_marker(text))
    return text


def _not_a_marker(text: str) -> bool:
    # Hypothesis also tries strings it finds in the parser's code, such as "VIDEO OMITIDO".
    n = markers.normalize(text)
    return not (
        n in markers.MEDIA_OMITTED
        or n in markers.DELETED
        or n == markers.ANDROID_VIEW_ONCE
        or markers.CALL.match(n)
        or markers.normalize(text.lower().strip()) in markers.CALL_EXACT
        or markers.normalize(text.lower().strip()) in markers.MEDIA_EXACT
        or markers.normalize(text.lower().strip()) in markers.DELETED_EXACT
        or markers.is_unknown_placeholder(text)
        or markers.FOURSQUARE.search(text)
        or markers.LOCATION.match(text)
        or markers.POLL.match(text)
        or markers.DOCUMENT_OMITTED.fullmatch(text)
    )


@st.composite
def timestamps(draw: st.DrawFn, n: int) -> list[datetime]:
    """`n` times in order. The first day is after the 12th, so the date order can be inferred."""
    start = datetime(
        draw(st.integers(2010, 2030)),
        draw(st.integers(1, 12)),
        draw(st.integers(13, 28)),
        draw(st.integers(0, 23)),
        draw(st.integers(0, 59)),
        draw(st.integers(0, 59)),
    )
    steps = draw(st.lists(st.integers(0, 3 * 24 * 3600), min_size=n - 1, max_size=n - 1))
    times = [start]
    for s in steps:
        times.append(times[-1] + timedelta(seconds=s))
    return times


encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16"])


def encode(lines: list[str], newline: str, encoding: str, final_newline: bool) -> bytes:
    return (newline.join(lines) + (newline if final_newline else "")).encode(encoding)


def physical_lines(lines: list[str], final_newline: bool) -> int:
    return len(lines) - (1 if lines and lines[-1] == "" and not final_newline else 0)


def run(data: bytes) -> tuple[list[Message], ParseReport]:
    source = Source(FILE_NAME, partial(io.BytesIO, data), len(data), FILE_NAME)
    report = ParseReport()
    return list(PARSER.parse(source, report)), report


def assert_every_line_accounted_for(report: ParseReport, expected_lines: int) -> None:
    assert report.lines == expected_lines
    assert (
        report.header_lines + report.continuation_lines + report.blank_lines + report.unparsed
        == report.lines
    )


# --- (a) and (b): anything at all ----------------------------------------------------------------


# Anything, even a header-like start; only line breaks and NUL (which makes a file binary) are
# left out.
garbage = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\n\r\x00"))


@st.composite
def noisy_exports(draw: st.DrawFn) -> tuple[list[str], int, str]:
    """Lines of a chosen format mixed with garbage; returns them and how many headers are valid."""
    fmt = draw(formats)
    n = draw(st.integers(0, 8))
    times = draw(timestamps(max(n, 1)))
    kinds = st.sampled_from(["valid", "text", "blank", "garbage", "looks-like", "lrm", "spaces"])
    lines: list[str] = []
    valid = 0
    for kind in draw(st.lists(kinds, max_size=25)):
        d = times[min(valid, len(times) - 1)]
        if kind == "valid" and valid < n:
            lines.append(fmt.header(d, draw(names)) + draw(st.text(_TEXT_CHARS, max_size=20)))
            valid += 1
        elif kind == "text":
            lines.append(draw(plain_lines))
        elif kind == "blank":
            lines.append("")
        elif kind == "spaces":
            lines.append(draw(st.sampled_from([" ", "\t", NBSP, "  \t "])))
        elif kind == "garbage":
            lines.append(draw(garbage))
        elif kind == "looks-like":
            date_text = draw(st.sampled_from([fmt.date(d), "45/67/2024", "2024-45-67", "99.99.99"]))
            time_text = broken_time(fmt, d, draw(st.integers(0, 1)))
            if draw(st.booleans()):
                time_text = fmt.time(d).split(NNBSP)[0] + f"{NNBSP}XM"
            lines.append(fmt.stamp(date_text, time_text) + "Ana: x")
        elif kind == "lrm":
            lines.append(LRM + fmt.header(d, draw(names)) + LRM + "image omitted")
            valid += 1
    return lines, valid, fmt.name


@SETTINGS
@given(noisy_exports(), st.sampled_from(["\n", "\r\n"]), encodings, st.booleans())
def test_never_crashes_and_accounts_for_every_line(
    export: tuple[list[str], int, str], newline: str, encoding: str, final_newline: bool
) -> None:
    lines, valid, _ = export
    assume(lines)
    data = encode(lines, newline, encoding, final_newline)
    try:
        messages, report = run(data)
    except InputError:
        assert valid == 0, "an export with a valid header was refused"
        return
    assert_every_line_accounted_for(report, physical_lines(lines, final_newline))
    assert report.header_lines == len(messages) >= valid
    assert len(report.unparsed_lines) == min(report.unparsed, 10)


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(data: bytes) -> None:
    PARSER.sniff(Source(FILE_NAME, partial(io.BytesIO, data), len(data), FILE_NAME))
    try:
        messages, report = run(data)
    except InputError:
        return
    assert report.header_lines == len(messages) > 0


# --- (c): well-formed messages come out exactly ---------------------------------------------------


# (sender, timestamp, text, line) of a message as it must come out
Expected = tuple[str, str, str, int]


INVISIBLE_MARKS = st.sampled_from([LRM, RLM, BOM, "\u061c"])


@st.composite
def with_marks(draw: st.DrawFn, stamp: str) -> str:
    """`stamp` with one to three invisible marks put anywhere in it."""
    chars = list(stamp)
    for _ in range(draw(st.integers(1, 3))):
        chars.insert(draw(st.integers(0, len(chars) - 1)), draw(INVISIBLE_MARKS))
    return "".join(chars)


@st.composite
def clean_exports(
    draw: st.DrawFn, marks: bool = False
) -> tuple[Format, list[str], list[Expected], int]:
    """An export of well-formed messages, with blank lines between some and broken headers
    (an impossible time on a date the export already has) followed by a line or two. With
    `marks`, some headers have invisible marks (U+200E, U+200F, U+FEFF, U+061C) inside them."""
    fmt = draw(formats)
    n = draw(st.integers(1, 12))
    times = draw(timestamps(n))
    lines = [""] * draw(st.integers(0, 2))
    expected: list[Expected] = []
    unparsed = 0
    for d in times:
        sender, text = draw(names), draw(message_texts())
        lrm = LRM if draw(st.integers(0, 4)) == 0 else ""
        expected.append((sender, fmt.iso(d), text, len(lines) + 1))
        first, *more = text.split("\n")
        stamp = fmt.stamp(fmt.date(d), fmt.time(d))
        if marks and draw(st.booleans()):
            stamp = draw(with_marks(stamp))
        lines.append(f"{lrm}{stamp}{sender}: {first}")
        lines.extend(more)
        lines.extend([""] * draw(st.integers(0, 2)))
        if draw(st.integers(0, 5)) == 0:
            broken = fmt.stamp(fmt.date(d), broken_time(fmt, d, draw(st.integers(0, 1))))
            tail = draw(st.lists(plain_lines.filter(str.strip), max_size=2))
            lines.extend([broken + f"{sender}: gone", *tail])
            unparsed += 1 + len(tail)
    return fmt, lines, expected, unparsed


@SETTINGS
@given(clean_exports(), st.sampled_from(["\n", "\r\n"]), encodings, st.booleans())
def test_well_formed_messages_come_out_as_written(
    export: tuple[Format, list[str], list[Expected], int],
    newline: str,
    encoding: str,
    final_newline: bool,
) -> None:
    fmt, lines, expected, unparsed = export
    messages, report = run(encode(lines, newline, encoding, final_newline))
    got = [(m.sender, m.ts, m.text, m.origin_line) for m in messages]
    assert got == expected, fmt.name
    assert all(m.kind is Kind.TEXT and not m.edited for m in messages)
    assert report.unparsed == unparsed
    physical = lines[: physical_lines(lines, final_newline)]
    assert_every_line_accounted_for(report, len(physical))
    blank = sum(1 for line in physical if not line.strip())
    inside = sum(text.count("\n") for _, _, text, _ in expected)
    assert report.continuation_lines == inside
    assert report.blank_lines == blank - sum(
        1 for _, _, text, _ in expected for line in text.split("\n")[1:] if not line.strip()
    )


# --- (d): a header is a header, whatever invisible marks it carries --------------------------------


@SETTINGS
@given(clean_exports(marks=True), st.sampled_from(["\n", "\r\n"]), encodings)
def test_a_header_with_invisible_marks_never_becomes_a_continuation_line(
    export: tuple[Format, list[str], list[Expected], int], newline: str, encoding: str
) -> None:
    """A line that parses as a header under the file's format once its invisible marks are
    removed starts its own message: marks (a BOM left mid-file by concatenated exports, U+200E and
    U+200F from iOS and Arabic locales) never glue it onto the message before it."""
    fmt, lines, expected, unparsed = export
    messages, report = run(encode(lines, newline, encoding, True))
    got = [(m.sender, m.ts, m.text, m.origin_line) for m in messages]
    assert got == expected, fmt.name
    assert report.header_lines == len(expected)
    assert report.continuation_lines == sum(text.count("\n") for _, _, text, _ in expected)
    assert report.unparsed == unparsed
