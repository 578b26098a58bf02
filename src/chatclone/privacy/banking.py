"""Payment card numbers and IBANs, for `patterns`: a card number must pass the Luhn check and an
IBAN the ISO 13616 mod-97 check; and where anything shaped like either is, valid or not, so that
no phone number is looked for inside it (`phones`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_CARD = re.compile(
    r"(?<![\w+.,\-])(?:\d{4}([ \-]?)\d{4}\1\d{4}\1\d{1,4}(?:\1\d{3})?|\d{4}([ \-]?)\d{6}\2\d{4,5})"
    r"(?!\w|[.,\-]\d)"
)
_IBAN_START = re.compile(r"(?<!\w)([A-Za-z]{2})(\d{2})")
_IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "BR": 29, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21,
    "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TR": 26,
}  # fmt: skip
# Anything shaped like a card or an IBAN, valid or not: no phone number is looked for inside it.
_IBAN_SHAPE = re.compile(r"(?<!\w)[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,}(?: ?[A-Z0-9]{1,3})?(?!\w)")


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum that every payment card number passes."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """The ISO 13616 check: known country, its length, and mod 97 of the rearranged number is 1."""
    iban = iban.replace(" ", "").upper()
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def cards(text: str) -> Iterator[tuple[int, int]]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if digits[0] in "23456" and len(set(digits)) > 1 and luhn_ok(digits):
            yield m.span()


def ibans(text: str) -> Iterator[tuple[int, int]]:
    for m in _IBAN_START.finditer(text):
        length = _IBAN_LENGTHS.get(m.group(1).upper())
        end = _iban_end(text, m.end(), length - 4) if length else None
        if end is not None and iban_ok(text[m.start() : end]):
            yield m.start(), end


def _iban_end(text: str, pos: int, wanted: int) -> int | None:
    """Where an IBAN whose BBAN has `wanted` characters (single spaces allowed) ends, if it fits."""
    seen = 0
    while seen < wanted:
        if pos < len(text) and text[pos] == " ":
            pos += 1
        if pos >= len(text) or not (text[pos].isascii() and text[pos].isalnum()):
            return None
        seen, pos = seen + 1, pos + 1
    return None if pos < len(text) and text[pos].isalnum() else pos


def number_blocks(text: str) -> list[tuple[int, int]]:
    """Where something shaped like a card or an IBAN is, valid or not."""
    return [m.span() for pattern in (_CARD, _IBAN_SHAPE) for m in pattern.finditer(text)]
