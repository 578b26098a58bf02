"""Inferring a WhatsApp export's date and time format from the whole file, never line by line.

A line such as `03/04/24, 7:05 p. m. - Ana: hola` is ambiguous on its own: day or month first?
Looking at every header in the file settles it: a first number above 12 means day-first, a second
number above 12 means month-first, and if every date is ambiguous the order under which the dates
run forward in time wins (exports are chronological).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

# The separators WhatsApp puts between date, time and AM/PM in various locales: plain spaces,
# no-break spaces and narrow no-break spaces (U+202F, newer iOS and Android versions).
SPACE = "[ \u00a0\u202f]"
DATE = r"(?P<date>\d{1,4}(?P<sep>[./-])\d{1,2}(?P=sep)\d{1,4})\.?"
TIME = r"(?P<time>\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)"
# Any short word after the time is taken as an AM/PM marker and classified below, so that an
# unknown locale's marker makes a line "not understood" instead of silently a wrong hour.
AMPM = rf"(?:{SPACE}*(?P<ampm>[^\W\d_][^\s\d\]\-–]{{0,5}}(?:{SPACE}[^\W\d_][^\s\d\]\-–]{{0,3}})?))?"
DATE_TIME_SEP = (
    rf"(?:,{SPACE}?|{SPACE}(?:à{SPACE}|um{SPACE}|klo{SPACE})?|,{SPACE}(?:à|um|klo){SPACE})"
)

ANDROID_HEADER = re.compile(
    rf"{DATE}{DATE_TIME_SEP}{TIME}{AMPM}{SPACE}?[-–]{SPACE}(?P<rest>.*)", re.S
)
IOS_HEADER = re.compile(rf"\[{DATE}{DATE_TIME_SEP}{TIME}{AMPM}\]{SPACE}?(?P<rest>.*)", re.S)
# A line that starts like a header (a date, a time, then `]` or ` - `) whether or not it parses:
# such a line is never glued onto the previous message; if it can't be parsed it is reported.
# A date and time alone ("14/03/2024 19:00 rehearsal") is ordinary text in a message.
LOOKS_LIKE_HEADER = re.compile(
    rf"\[?\d{{1,4}}[./-]\d{{1,2}}[./-]\d{{1,4}}\.?,?{SPACE}(?:\S{{1,3}}{SPACE})?\d{{1,2}}[:.]\d{{2}}"
    rf"(?:[:.]\d{{2}})?[^\d\]\-–\n]{{0,16}}(?:\]|[-–]{SPACE})"
)

_AM_WORDS = {"am", "a", "vorm", "午前", "上午", "ص", "πμ", "дп", "fm", "de", "sa", "오전"}
_PM_WORDS = {"pm", "p", "nachm", "午後", "下午", "م", "μμ", "пп", "em", "du", "ch", "오후"}


def ampm_of(marker: str) -> str | None:
    """'AM', 'PM' or None for a marker such as 'p. m.', 'PM', 'a.m.' or 'nachm.'."""
    word = re.sub(r"[.\s\u00a0\u202f]", "", marker).casefold()
    if word in _AM_WORDS:
        return "AM"
    if word in _PM_WORDS:
        return "PM"
    return None


@dataclass
class WhatsAppDateFormat:
    """Collects every header's date and time, then decides the format for the whole file."""

    max_first: int = 0
    max_second: int = 0
    first_has_four_digits: int = 0
    dates: int = 0  # distinct dates that are a date under some reading
    headers: int = 0
    twelve_hour: int = 0
    # Count of steps backwards in time under each reading, to settle fully ambiguous files.
    _backwards: dict[str, int] = field(default_factory=lambda: {"DMY": 0, "MDY": 0})
    _previous: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)
    order: str = "DMY"
    reason: str = ""

    def observe(self, date_text: str, ampm: str | None) -> None:
        self.headers += 1
        if ampm:
            self.twelve_hour += 1
        if date_text in self._seen:  # the same day again tells nothing new
            return
        self._seen.add(date_text)
        parts = re.split(r"[./-]", date_text.rstrip("."))
        a, b, c = (int(p) for p in parts)
        # A date that is no date under any reading (`45/67/2024`) is not counted: its line will
        # be reported, and it must not sway the format of the rest of the file.
        if len(parts[0]) == 4:
            if b <= 12 and c <= 31:
                self.dates += 1
                self.first_has_four_digits += 1
            return
        if not (a <= 31 and b <= 12) and not (a <= 12 and b <= 31):
            return
        self.dates += 1
        self.max_first = max(self.max_first, a)
        self.max_second = max(self.max_second, b)
        for order, (day, month) in (("DMY", (a, b)), ("MDY", (b, a))):
            key = (c, month, day)
            prev = self._previous.get(order)
            if prev is not None and key < prev:
                self._backwards[order] += 1
            self._previous[order] = key

    def decide(self) -> str:
        """Fix `order` (DMY, MDY or YMD) for the file and explain why in `reason`."""
        if self.first_has_four_digits and self.first_has_four_digits >= self.dates / 2:
            self.order, self.reason = "YMD", "dates start with a four-digit year"
        elif self.max_first > 12 and self.max_second <= 12:
            self.order, self.reason = "DMY", f"a first number reaches {self.max_first}"
        elif self.max_second > 12 and self.max_first <= 12:
            self.order, self.reason = "MDY", f"a second number reaches {self.max_second}"
        elif self._backwards["MDY"] < self._backwards["DMY"]:
            self.order = "MDY"
            self.reason = "every date is ambiguous; month-first keeps them in time order"
        elif self._backwards["DMY"] < self._backwards["MDY"]:
            self.order = "DMY"
            self.reason = "every date is ambiguous; day-first keeps them in time order"
        else:
            self.order = "DMY"
            self.reason = "every date is ambiguous either way; assumed day-first"
        return self.order


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
        parts = [int(p) for p in re.split(r"[./-]", text.rstrip("."))]
        if self.order == "YMD":
            y, m, d = parts
        elif self.order == "MDY":
            m, d, y = parts
        else:
            d, m, y = parts
        if y < 100:
            y += 2000  # WhatsApp began in 2009: a two-digit year is this century
        try:
            return date(y, m, d).isoformat()
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
