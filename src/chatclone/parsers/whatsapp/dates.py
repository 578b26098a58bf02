"""Inferring a WhatsApp export's date order and calendar from the whole file, never line by line,
and turning header dates and times into ISO 8601.

A line such as `03/04/24, 7:05 p. m. - Ana: hola` is ambiguous on its own: day or month first?
Looking at every header in the file settles it (`WhatsAppDateFormat.decide` lists the rules in the
order they are tried, each with how sure it is).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from chatclone.parsers.whatsapp.layouts import INVISIBLE, MONTHS

_AM_WORDS = {"am", "a", "vorm", "午前", "上午", "ص", "πμ", "дп", "fm", "de", "sa", "오전"}
_PM_WORDS = {"pm", "p", "nachm", "午後", "下午", "م", "μμ", "пп", "em", "du", "ch", "오후"}
_ENGLISH_AMPM = {"AM", "PM", "am", "pm"}


_NOT_IN_AMPM = re.compile(f"[.\\s\u00a0\u202f{INVISIBLE}]")


def ampm_of(marker: str) -> str | None:
    """'AM', 'PM' or None for a marker such as 'p. m.', 'PM', 'a.m.' or 'nachm.'."""
    word = _NOT_IN_AMPM.sub("", marker).casefold()
    if word in _AM_WORDS:
        return "AM"
    if word in _PM_WORDS:
        return "PM"
    return None


_STRIP_MARKS = str.maketrans("", "", INVISIBLE)
_SPLIT = re.compile(r"[./-]")


@dataclass(frozen=True)
class DateParts:
    """A numeric date's fields as written, with its year already in the Gregorian calendar."""

    first: int
    second: int
    year: int  # of the third field; for a year-first date, of the first
    year_first: bool  # the first field has four digits
    padded: bool  # a day or month written with a leading zero (`07/01/17`)
    calendar: str | None  # "buddhist", "japanese" or None (Gregorian)


def split_date(text: str) -> DateParts | None:
    """The fields of a date such as `7/1/17`, `١٨‏/٣‏/٢٠٢٢`, `3/18/2565 BE` or `3/18/R4`; None for
    one that is no date under any reading."""
    text = text.translate(_STRIP_MARKS).rstrip(".")
    calendar = None
    if text.endswith("BE"):
        text, calendar = text[:-2].rstrip(" \u00a0\u202f"), "buddhist"
    parts = _SPLIT.split(text)
    if len(parts) != 3:
        return None
    a_text, b_text, c_text = parts
    year_first = len(a_text) == 4
    if c_text[:1] in "RH":
        if year_first or not c_text[1:].isdigit():
            return None
        # Heisei began in 1989 (H1), Reiwa on 1 May 2019 (R1).
        year = (1988 if c_text[0] == "H" else 2018) + int(c_text[1:])
        calendar = "japanese"
        a, b = int(a_text), int(b_text)
    else:
        a, b, c = int(a_text), int(b_text), int(c_text)
        year = a if year_first else c
        if year < 100:
            year += 2000  # WhatsApp began in 2009: a two-digit year is this century
        elif year >= 2400:  # no Gregorian year yet; the Buddhist era is 543 years ahead
            year, calendar = year - 543, "buddhist"
        if year_first:
            a, b = b, c
    padded = (len(a_text) == 2 and a_text[0] == "0") or (len(b_text) == 2 and b_text[0] == "0")
    return DateParts(a, b, year, year_first, padded, calendar)


_CALENDAR_NOTES = {
    "buddhist": "years in the Buddhist era, 543 ahead (2565 BE = 2022)",
    "japanese": "years in Japanese eras (H1 = 1989, R1 = 2019, R4 = 2022)",
}


@dataclass
class WhatsAppDateFormat:
    """Collects every header's date and time, then decides the format for the whole file."""

    max_first: int = 0
    max_second: int = 0
    first_has_four_digits: int = 0
    dates: int = 0  # distinct dates that are a date under some reading
    headers: int = 0
    twelve_hour: int = 0
    english_ampm: int = 0
    padded: int = 0  # distinct dates with a leading zero
    two_digit_years: int = 0
    # How often each field changes from one new date to the next: the day changes on almost every
    # new date, the month once in a month.
    first_changes: int = 0
    second_changes: int = 0
    calendars: set[str] = field(default_factory=set)
    # Count of steps backwards in time under each reading, to settle fully ambiguous files.
    _backwards: dict[str, int] = field(default_factory=lambda: {"DMY": 0, "MDY": 0})
    _previous: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    _last: DateParts | None = None
    _seen: set[str] = field(default_factory=set)
    order: str = "DMY"
    reason: str = ""

    def observe(self, date_text: str, ampm: str | None, count: int = 1) -> None:
        """Take in `count` headers with this date and AM/PM marker."""
        self.headers += count
        if ampm:
            self.twelve_hour += count
            if ampm in _ENGLISH_AMPM:
                self.english_ampm += count
        if date_text in self._seen:  # the same day again tells nothing new
            return
        self._seen.add(date_text)
        parts = split_date(date_text)
        if parts is None:
            return
        a, b, year = parts.first, parts.second, parts.year
        if parts.calendar:
            self.calendars.add(parts.calendar)
        # A date that is no date under any reading (`45/67/2024`) is not counted: its line will
        # be reported, and it must not sway the format of the rest of the file.
        if parts.year_first:
            if a <= 12 and b <= 31:
                self.dates += 1
                self.first_has_four_digits += 1
            return
        if not (a <= 31 and b <= 12) and not (a <= 12 and b <= 31):
            return
        self.dates += 1
        self.padded += parts.padded
        self.two_digit_years += len(_SPLIT.split(date_text.translate(_STRIP_MARKS))[-1]) <= 2
        self.max_first = max(self.max_first, a)
        self.max_second = max(self.max_second, b)
        last = self._last
        if last is not None:
            self.first_changes += a != last.first
            self.second_changes += b != last.second
        self._last = parts
        for order, (day, month) in (("DMY", (a, b)), ("MDY", (b, a))):
            key = (year, month, day)
            prev = self._previous.get(order)
            if prev is not None and key < prev:
                self._backwards[order] += 1
            self._previous[order] = key

    def decide(self, told: str | None = None) -> str:
        """Fix `order` (DMY, MDY or YMD) for the file and explain in `reason` which rule decided and
        how sure it is. `told` is the user's order (`--date-order`), which always wins."""
        if told is not None:
            self.order, self.reason = told, "the order given with --date-order"
        elif self.first_has_four_digits and self.first_has_four_digits >= self.dates / 2:
            self.order, self.reason = "YMD", "dates start with a four-digit year"
        elif self.max_first > 12 and self.max_second <= 12:
            self.order, self.reason = "DMY", f"a first number reaches {self.max_first}"
        elif self.max_second > 12 and self.max_first <= 12:
            self.order, self.reason = "MDY", f"a second number reaches {self.max_second}"
        else:
            self.order, self.reason = self._decide_ambiguous()
        return self.order

    def _decide_ambiguous(self) -> tuple[str, str]:
        back_dmy, back_mdy = self._backwards["DMY"], self._backwards["MDY"]
        if back_dmy != back_mdy:
            order = "MDY" if back_mdy < back_dmy else "DMY"
            name = "month-first" if order == "MDY" else "day-first"
            sure = "sure" if abs(back_dmy - back_mdy) >= 2 else "likely"
            return order, f"every date is ambiguous; {name} keeps them in time order ({sure})"
        first, second = self.first_changes, self.second_changes
        if first != second:
            order = "DMY" if first > second else "MDY"
            more, fewer = max(first, second), min(first, second)
            sure = "sure" if more >= 5 and more >= 3 * fewer else "likely"
            which = "first" if order == "DMY" else "second"
            return order, (
                f"every date is ambiguous; the {which} number changes from one day to the next "
                f"({more} times against {fewer}), so it is the day ({sure})"
            )
        unpadded_short = self.dates and not self.padded and self.two_digit_years == self.dates
        if unpadded_short and self.english_ampm and self.english_ampm == self.twelve_hour:
            return "MDY", (
                "every date is ambiguous; unpadded M/D/YY with AM/PM is how en-US "
                "writes dates (likely)"
            )
        if self.padded:
            return "DMY", (
                "every date is ambiguous; padded numbers are how day-first locales write "
                "dates: assumed day-first (likely)"
            )
        return "DMY", "every date is ambiguous either way; assumed day-first (a guess)"

    def calendar_note(self) -> str:
        return "; ".join(_CALENDAR_NOTES[c] for c in sorted(self.calendars))


class Converter:
    """Turns header date and time strings into ISO 8601 under a decided format, with caches:
    a chat has far fewer distinct dates and times than messages."""

    def __init__(self, order: str) -> None:
        self.order = order
        self._dates: dict[str, str | None] = {}
        self._times: dict[tuple[str, str | None], str | None] = {}

    def date(self, text: str) -> str | None:
        iso = self._dates.get(text, "")
        if iso == "":
            iso = self._dates[text] = self._convert_date(text)
        return iso

    def time(self, text: str, ampm: str | None) -> str | None:
        key = (text, ampm)
        iso = self._times.get(key, "")
        if iso == "":
            iso = self._times[key] = _convert_time(text, ampm)
        return iso

    def _convert_date(self, text: str) -> str | None:
        parts = split_date(text)
        if parts is None:
            return None
        if parts.year_first != (self.order == "YMD"):
            return None  # `2024-01-13` in a day-first file, or `13/01/2024` told year-first
        if self.order == "MDY":
            m, d = parts.first, parts.second
        else:
            d, m = parts.first, parts.second
            if self.order == "YMD":
                m, d = d, m
        try:
            return date(parts.year, m, d).isoformat()
        except ValueError:
            return None


@dataclass
class NamedDateFormat:
    """Dates with month names (`Jan 5, 2014`, `28 Aug 2013`, `5 Jan`): no order to infer, but
    WhatsApp left the year out of the dates in the year of the export."""

    headers: int = 0
    twelve_hour: int = 0
    dates: int = 0
    latest_year: int | None = None  # of the dates that have one
    yearless: int = 0
    order: str = "named"
    reason: str = ""
    assumed_year: int | None = None
    _seen: set[str] = field(default_factory=set)

    def observe(self, date_text: str, ampm: str | None, count: int = 1) -> None:
        self.headers += count
        if ampm:
            self.twelve_hour += count
        if date_text in self._seen:
            return
        self._seen.add(date_text)
        parsed = _named_date(date_text)
        if parsed is None:
            return
        self.dates += 1
        if parsed[2] is None:
            self.yearless += 1
        elif self.latest_year is None or parsed[2] > self.latest_year:
            self.latest_year = parsed[2]

    def decide(self, told: str | None = None, fallback_year: int | None = None) -> str:
        self.reason = "month names"
        if told is not None:
            self.reason += "; --date-order does not apply to them"
        if self.yearless:
            if self.latest_year is not None:
                # Dates of earlier years carry the year; the rest are in the year after them.
                self.assumed_year = self.latest_year + 1
                how = f"the year after the last dated message, {self.latest_year} (likely)"
            else:
                self.assumed_year = (
                    fallback_year if fallback_year is not None else date.today().year
                )
                how = "no date names a year; the year the export file was written (a guess)"
            self.reason += f"; dates without a year taken as {self.assumed_year}: {how}"
        return self.order

    def calendar_note(self) -> str:
        return ""


def _named_date(text: str) -> tuple[int, int, int | None] | None:
    """(day, month, year or None) of `Jan 5, 2014`, `5 Jan`, `28. Aug. 2013`."""
    words = re.findall(r"[^\W\d_]+|\d+", text)
    day = month = year = None
    for word in words:
        if word.isdigit():
            if len(word) == 4:
                year = int(word)
            else:
                day = int(word)
        else:
            month = MONTHS.get(word.casefold())
    if day is None or month is None:
        return None
    return day, month, year


class NamedConverter:
    """Like `Converter`, for dates with month names."""

    def __init__(self, assumed_year: int | None) -> None:
        self.assumed_year = assumed_year
        self._dates: dict[str, str | None] = {}
        self._times = Converter("DMY")

    def date(self, text: str) -> str | None:
        iso = self._dates.get(text, "")
        if iso == "":
            iso = self._dates[text] = self._convert_date(text)
        return iso

    def time(self, text: str, ampm: str | None) -> str | None:
        return self._times.time(text, ampm)

    def _convert_date(self, text: str) -> str | None:
        parsed = _named_date(text)
        if parsed is None:
            return None
        day, month, year = parsed
        year = year if year is not None else self.assumed_year
        if year is None:
            return None
        try:
            return date(year, month, day).isoformat()
        except ValueError:
            return None


def _convert_time(text: str, ampm: str | None) -> str | None:
    parts = [int(p) for p in re.split(r"[:.]", text)]
    hour, minute = parts[0], parts[1]
    if ampm is not None:
        half = ampm_of(ampm)
        if half is None or not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "PM" else 0)
    if hour > 23 or minute > 59 or (len(parts) == 3 and parts[2] > 59):
        return None
    if len(parts) == 3:
        return f"{hour:02d}:{minute:02d}:{parts[2]:02d}"
    return f"{hour:02d}:{minute:02d}"
