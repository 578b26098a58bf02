"""The first pass over a WhatsApp export: every header line, to infer the file's layout, date order
and clock, and (iOS) which "sender" is really the chat's own name on system lines.

Android and iOS headers, nearly every line of a real export, are found by one regular expression
per block of the file; only the few other lines that could be a header of another layout are
looked at one by one (`_header`), so the pass costs about as much as reading the file.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from chatclone.messages import Kind
from chatclone.parsers.whatsapp.classify import BIDI, classify
from chatclone.parsers.whatsapp.dates import NamedDateFormat, WhatsAppDateFormat
from chatclone.parsers.whatsapp.layouts import (
    ANDROID,
    DIGITS,
    INVISIBLE,
    IOS,
    LAYOUTS,
    LEADING,
    MONTHS,
    Header,
    Layout,
    anonymous,
    block_header,
    match_header,
)

_MONTH_STARTS = frozenset(name[:3] for name in MONTHS)
_OTHER_STARTS = "[" + INVISIBLE


def _stamp_only(pattern: str) -> str:
    """A header pattern without its `rest`, capturing only `date`, `sep` and `ampm`."""
    pattern = pattern.replace("(?P<time>", "(?:")
    return pattern[: pattern.rindex("(?P<rest>")]


# Each pattern below starts with a newline (searched in `"\\n" + block`), so that the regular
# expression engine finds its candidates with a fast search for that character.
# The common Android header stamps (`14/03/2024, 19:05 - `, `3/14/24, 7:05 PM - `) in a pattern
# far cheaper than `ANDROID.header`'s: each line it matches, `ANDROID.header` matches too, with
# the same date, time and AM/PM.
_PLAIN_DATE = r"(?P<date>\d{1,2}(?P<sep>[./-])\d{1,2}(?P=sep)\d{2,4}), "
_PLAIN_TIME = r"(?P<time>\d{1,2}:\d{2})(?:[ \u202f\u00a0](?P<ampm>[AaPp][Mm]))? - "
PLAIN_ANDROID = re.compile(f"\n(?=[{DIGITS}]){_PLAIN_DATE}{_PLAIN_TIME}(?P<rest>[^\n]*)")
# Every line that starts with a digit: a plain Android header as (date, sep, ampm, ""), any other
# such line (other Android headers too) as ("", "", "", line).
_DIGIT_LINES = re.compile(
    f"\n(?=[{DIGITS}])(?:{_PLAIN_DATE}{_PLAIN_TIME.replace('(?P<time>', '(?:')}|(?P<line>[^\n]*))"
)
_IOS_HEADERS = block_header(IOS)
# Every other line that `_header` could take for a header: it starts with `[`, a letter that
# starts a month's name, or any character outside ASCII but a digit (invisible marks, letters
# whose case folds oddly), and is no iOS header.
_MONTH_FIRST = "".join(
    sorted({c for name in MONTHS for c in (name[0].lower(), name[0].upper()) if c.isascii()})
)
_OTHER_LINES = re.compile(
    rf"\n(?=[\[{_MONTH_FIRST}]|(?![{DIGITS}])[^\x00-\x7f])"
    f"(?!{anonymous(_stamp_only(IOS.header.pattern), 'i')})"
    r"[^\n]*"
)


@dataclass
class Survey:
    """What the first pass learns about the whole file."""

    formats: dict[str, WhatsAppDateFormat | NamedDateFormat] = field(
        default_factory=lambda: {
            layout.name: NamedDateFormat() if layout.named else WhatsAppDateFormat()
            for layout in LAYOUTS
        }
    )
    # iOS: per sender, [messages, messages that look like system lines (U+200E, no marker)]
    ios_senders: dict[str, list[int]] = field(default_factory=dict)
    # Android: how many headers have each (date, separator, AM/PM), in the order first seen
    _android: Counter[tuple[str, str | None]] = field(default_factory=Counter)
    # Android headers not in the plain shape (`PLAIN_ANDROID`): where there are none, the reader
    # can find every header with the plain pattern.
    unplain_android: int = 0

    @property
    def layout(self) -> Layout:
        # The layout with the most headers; on a tie, the first in `LAYOUTS`.
        return max(LAYOUTS, key=lambda layout: self.formats[layout.name].headers)

    def read(self, block: str) -> None:
        """Take in a block of whole lines."""
        block = "\n" + block
        digit_lines = Counter(_DIGIT_LINES.findall(block))  # in the order first seen
        headers = {line: h for *_, line in digit_lines if line and (h := _header(line))}
        by_digit = [
            h
            for (*_, line), n in digit_lines.items()
            if (h := headers.get(line)) and h.layout is not ANDROID
            for _ in range(n)
        ]
        by_other = [h for m in _OTHER_LINES.finditer(block) if (h := _header(m[0][1:]))]
        if (by_digit and by_other) or any(h.layout in _BLOCK_FORMATS for h in by_other):
            # A header that the block expressions cannot see (an invisible mark in it) of a layout
            # they count, or other headers of two kinds: the order of a format's dates matters, so
            # this block goes line by line.
            self.finish()
            for line in block[1:].split("\n"):
                if (header := _header(line)) is not None:
                    self.observe(header)
            return
        android = self._android
        for (date, _, ampm, line), n in digit_lines.items():  # dates in file order
            if not line:
                android[date, ampm or None] += n
            elif (h := headers.get(line)) and h.layout is ANDROID:
                android[h.date, h.ampm] += n
                self.unplain_android += n
        ios = self.formats[IOS.name]
        for m in _IOS_HEADERS.finditer(block):
            rest = m["rest"]
            if rest[:1] in INVISIBLE:
                rest = rest.lstrip(LEADING)
            ios.observe(m["date"], m["ampm"])
            _survey_ios_sender(self.ios_senders, rest)
        for header in by_digit or by_other:  # in file order (identical lines together)
            self.observe(header)

    def finish(self) -> None:
        """Settle the Android headers counted in bulk so far (call after the last block)."""
        android = self.formats[ANDROID.name]
        for (date, ampm), count in self._android.items():
            android.observe(date, ampm, count)
        self._android.clear()

    def observe(self, header: Header) -> None:
        self.formats[header.layout.name].observe(header.date, header.ampm)
        if header.layout is ANDROID:
            self.unplain_android += 1  # (a header of any shape: the count only has to be > 0)
        if header.layout.chat_as_sender:
            _survey_ios_sender(self.ios_senders, header.rest)

    def system_senders(self) -> set[str]:
        """iOS gives system lines the chat's name as sender: a sender all of whose lines are
        system-looking (a leading U+200E and no media, deletion or call marker) is that name."""
        return {s for s, (n, sys_like) in self.ios_senders.items() if n == sys_like}


_BLOCK_FORMATS = (ANDROID, IOS)  # the layouts `Survey.read` counts by block expressions


def _header(line: str) -> Header | None:
    """The header `line` is, if it is one, as the line-by-line survey has always decided it."""
    first = line[:1]
    if (
        first not in DIGITS
        and first not in _OTHER_STARTS
        and line[:3].casefold() not in _MONTH_STARTS
    ):
        return None  # text: no layout starts with a letter other than a month's
    return match_header(line)


def _survey_ios_sender(senders: dict[str, list[int]], rest: str) -> None:
    sender, sep, text = rest.partition(": ")
    if not sep:
        return
    counts = senders.get(sender)
    if counts is None:
        counts = senders[sender] = [0, 0]
    counts[0] += 1
    if text and text[0] in BIDI and classify(text)[0] is Kind.TEXT:
        counts[1] += 1
