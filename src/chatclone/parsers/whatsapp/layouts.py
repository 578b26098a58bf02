"""The shapes of WhatsApp header lines (`LAYOUTS`) and matching a line against them.

Android writes `date, time - Sender: text`, iOS `[date, time] Sender: text`; older versions and
some locales write other shapes (iOS before 2017 without brackets, Vietnamese iOS with the time
first, Android 2013-2014 with month names). Invisible marks (U+200E/U+200F, U+FEFF) may sit
anywhere in a header and never stop it from being one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The separators WhatsApp puts between date, time and AM/PM in various locales: plain spaces,
# no-break spaces and narrow no-break spaces (U+202F, newer iOS and Android versions).
SPACE = "[ \u00a0\u202f]"
# Marks that are invisible but present in some exports: U+200E/U+200F around iOS headers and, in
# Arabic, after every number of the date; U+061C (Arabic letter mark); U+FEFF (a BOM left
# mid-file when exports are concatenated, or right after `[`).
INVISIBLE = "\u200e\u200f\u061c\ufeff"
_MARK = f"[{INVISIBLE}]?"
# A date of three numbers (any script's digits: Arabic iOS writes ٢٧‏/٣‏/٢٠٢٢, with U+200F where
# `_MARK` allows one; marks elsewhere take the slower path in `parser.match_header`), the last one
# possibly a Japanese era year (`R4`, `H31`), possibly followed by `BE` (the Buddhist calendar).
DATE = (
    rf"(?P<date>{_MARK}\d{{1,4}}{_MARK}(?P<sep>[./-])\d{{1,2}}{_MARK}(?P=sep)"
    rf"(?:\d{{1,4}}|[RH]\d{{1,2}})(?:{SPACE}BE)?)\.?"
)
TIME = r"(?P<time>\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)"
# Any short word after the time is taken as an AM/PM marker and classified below, so that an
# unknown locale's marker makes a line "not understood" instead of silently a wrong hour.
_AMPM_CHARS = r"[^\s\d\]\-–,:]"
AMPM = (
    rf"(?:{SPACE}*(?P<ampm>[^\W\d_]{_AMPM_CHARS}{{0,5}}"
    rf"(?:{SPACE}[^\W\d_]{_AMPM_CHARS}{{0,3}})?))?"
)
DATE_TIME_SEP = (
    rf"(?:[,\u060c]{SPACE}?|{SPACE}(?:à{SPACE}|um{SPACE}|klo{SPACE})?|,{SPACE}(?:à|um|klo){SPACE})"
)

# Month names of the 2013-2014 Android layouts (`Jan 5, 2014, 9:15 PM`, `19:23, 28 Aug 2013`),
# in the languages whose markers are known (en, es, de, fr, pt, it, nl).
_MONTH_NAMES = {
    1: "jan january janeiro januar janvier janv enero ene gennaio gen januari",
    2: "feb february fevereiro fev februar février févr febrero febbraio februari",
    3: "mar march março marzo märz mrz mars maart",
    4: "apr april abril abr avril aprile",
    5: "may mai maio mayo maggio mag mei",
    6: "jun june junho juni juin junio giugno giu",
    7: "jul july julho juli juillet juil julio luglio lug",
    8: "aug august agosto ago août augustus",
    9: "sep sept september setembro set septembre septiembre settembre",
    10: "oct october outubro out oktober octobre octubre ottobre ott okt",
    11: "nov november novembro novembre noviembre",
    12: "dec december dezembro dez dezember décembre déc diciembre dic dicembre",
}
MONTHS = {name: number for number, names in _MONTH_NAMES.items() for name in names.split()}
_MONTH = "(?i:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
NAMED_DATE = (
    rf"(?P<date>(?:{_MONTH}{SPACE}\d{{1,2}}|\d{{1,2}}\.?{SPACE}{_MONTH})(?:,?{SPACE}\d{{4}})?)"
)

_REST = r"(?P<rest>.*)"
_DASH = rf"{SPACE}?[-–]{SPACE}"
ANDROID_HEADER = re.compile(rf"{DATE}{DATE_TIME_SEP}{TIME}{AMPM}{_DASH}{_REST}", re.S)
IOS_HEADER = re.compile(rf"\[{DATE}{DATE_TIME_SEP}{TIME}{AMPM}\]{SPACE}?{_REST}", re.S)
# Vietnamese iOS: `[14:56:01, 3/18/22] Thanh: …`
IOS_TIME_FIRST_HEADER = re.compile(
    rf"\[{_MARK}{TIME}{AMPM}[,\u060c]?{SPACE}{DATE}\]{SPACE}?{_REST}", re.S
)
# iOS before about 2017: no brackets, a colon after the time (`7/1/16, 4:56:55 PM: Ana: hi`).
IOS_LEGACY_HEADER = re.compile(rf"{DATE}{DATE_TIME_SEP}{TIME}{AMPM}:{SPACE}{_REST}", re.S)
# Android 2013-2014: `Jan 5, 2014, 9:15 PM - Ana: hi`, `18 Mar 12:14 - Ana: hi`; the year only on
# the dates of years before the export's.
MONTH_NAME_HEADER = re.compile(
    rf"{NAMED_DATE}(?:,{SPACE}?|{SPACE}){TIME}{AMPM}{_DASH}{_REST}", re.S
)
# … and with the time first: `19:23, 28 Aug 2013 - Ana: hi`, `15:42, 5 Jan - Ana: hi`.
TIME_FIRST_HEADER = re.compile(rf"{TIME}{AMPM},?{SPACE}{NAMED_DATE}{_DASH}{_REST}", re.S)

# A line that starts like a header (a date, a time, then `]` or ` - `) whether or not it parses:
# such a line is never glued onto the previous message; if it can't be parsed it is reported.
# A date and time alone ("14/03/2024 19:00 rehearsal") is ordinary text in a message.
_LOOSE_DATE = r"\d{1,4}[./-]\d{1,2}[./-](?:\d{1,4}|[RH]\d{1,2})(?: ?BE)?\.?"
_LOOSE_TIME = r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?"
LOOKS_LIKE_HEADER = re.compile(
    rf"\[?{_LOOSE_DATE},?{SPACE}(?:\S{{1,3}}{SPACE})?{_LOOSE_TIME}[^\d\]\-–\n]{{0,16}}"
    rf"(?:\]|[-–]{SPACE})"
)
LOOKS_LIKE_LEGACY = re.compile(
    rf"{_LOOSE_DATE},?{SPACE}(?:\S{{1,3}}{SPACE})?{_LOOSE_TIME}[^\d\]\-–\n:]{{0,16}}:{SPACE}"
)
LOOKS_LIKE_TIME_FIRST = re.compile(rf"\[{_LOOSE_TIME}[^\d\]\n]{{0,16}},{SPACE}{_LOOSE_DATE}\]")


@dataclass(frozen=True)
class Layout:
    """One shape of header line."""

    name: str  # as the report names it
    header: re.Pattern[str]
    looks_like: re.Pattern[str] | None  # broken headers of this shape (None: the header only)
    ios: bool  # written by WhatsApp for iOS
    chat_as_sender: bool  # system lines carry the chat's name as "sender" (iOS since 2017)
    starts: str | None  # the characters a header can start with (None: any)
    named: bool = False  # dates with month names (no order to infer, the year may be missing)


# Digits in the scripts WhatsApp writes them in: Latin, Arabic-Indic, Eastern Arabic-Indic.
DIGITS = "0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹"
ANDROID = Layout("android", ANDROID_HEADER, LOOKS_LIKE_HEADER, False, False, DIGITS)
IOS = Layout("ios", IOS_HEADER, LOOKS_LIKE_HEADER, True, True, "[")
IOS_TIME_FIRST = Layout(
    "ios time-first", IOS_TIME_FIRST_HEADER, LOOKS_LIKE_TIME_FIRST, True, True, "["
)
IOS_LEGACY = Layout("ios before 2017", IOS_LEGACY_HEADER, LOOKS_LIKE_LEGACY, True, False, DIGITS)
MONTH_NAMES = Layout("android month-name", MONTH_NAME_HEADER, None, False, False, None, named=True)
TIME_FIRST = Layout("android time-first", TIME_FIRST_HEADER, None, False, False, DIGITS, named=True)
# Which layouts a line may be, by its first character; tried in this order.
BRACKETED = (IOS, IOS_TIME_FIRST)
NUMBERED = (ANDROID, IOS_LEGACY, TIME_FIRST, MONTH_NAMES)  # `5 Jan 2014, 21:15 - …`
LAYOUTS = (ANDROID, IOS, IOS_TIME_FIRST, IOS_LEGACY, MONTH_NAMES, TIME_FIRST)

# Where a header hides an invisible mark past its first character (`[\ufeff13/01/24, …`,
# `13/01/2024,\u200e 10:00 - …`), the line is matched again without its marks.
MARKED = re.compile(f"[{INVISIBLE}]")
MARKED_SPAN = 80
# Marks (and the space after them) between a header's stamp and the sender are no part of it.
LEADING = INVISIBLE + " \u00a0\u202f"


@dataclass
class Header:
    """A header line's parts, `rest` as written (marks inside the text kept)."""

    layout: Layout
    date: str
    time: str
    ampm: str | None
    rest: str


def _candidates(first: str) -> tuple[Layout, ...]:
    if first == "[":
        return BRACKETED
    if first in DIGITS:
        return NUMBERED
    return (MONTH_NAMES,)


def match_header(line: str, layouts: tuple[Layout, ...] | None = None) -> Header | None:
    """The header at the start of `line` under `layouts` (by default every layout the line's first
    character allows), with invisible marks anywhere in the header ignored."""
    if line[:1] in INVISIBLE:
        line = line.lstrip(INVISIBLE)
    for layout in layouts or _candidates(line[:1]):
        m = layout.header.match(line)
        if m is not None:
            rest = m["rest"]
            if rest[:1] in INVISIBLE:
                rest = rest.lstrip(LEADING)
            return Header(layout, m["date"], m["time"], m["ampm"], rest)
    if MARKED.search(line, 0, MARKED_SPAN) is None:
        return None
    cleaned = MARKED.sub("", line[:MARKED_SPAN]) + line[MARKED_SPAN:]
    for layout in layouts or _candidates(cleaned[:1]):
        m = layout.header.match(cleaned)
        if m is not None:
            rest = line[_original_offset(line, m.start("rest")) :]
            return Header(layout, m["date"], m["time"], m["ampm"], rest)
    return None


def _original_offset(line: str, cleaned_offset: int) -> int:
    """Where the character at `cleaned_offset` of `line` without its marks is in `line` (past any
    marks before it)."""
    seen = 0
    for i, char in enumerate(line):
        if char in INVISIBLE:
            continue
        if seen == cleaned_offset:
            return i
        seen += 1
    return len(line)


def block_header(layout: Layout) -> re.Pattern[str]:
    """`layout.header` for finding the header lines in a block of many lines: it matches a newline
    and then exactly a line that `layout.header` matches on its own when it starts with one of
    `layout.starts`, `rest` up to the line's end. Search `"\\n" + block`: a pattern that starts
    with a fixed character is searched for that character first, many times faster than `^`
    tried at every position."""
    pattern = layout.header.pattern
    if pattern.count(_REST) != 1:
        raise ValueError(f"{layout.name}: header pattern must end in {_REST}")
    first = f"(?=[{re.escape(layout.starts)}])" if layout.starts else ""
    return re.compile("\n" + first + pattern.replace(_REST, r"(?P<rest>[^\n]*)"))


def anonymous(pattern: str, tag: str) -> str:
    """A copy of `pattern` without named groups (back-references renamed by `tag`), to embed in
    a larger pattern or a lookahead."""
    pattern = pattern.replace("(?P<sep>", f"(?P<sep{tag}>").replace("(?P=sep)", f"(?P=sep{tag})")
    return re.sub(r"\(\?P<(?!sep)\w+>", "(?:", pattern)


def looks_like_header(line: str, layout: Layout) -> bool:
    """A broken header of `layout` once the invisible marks in `line` are removed."""
    if layout.looks_like is None:
        return False
    return layout.looks_like.match(MARKED.sub("", line[:MARKED_SPAN])) is not None
