"""Finding personal data in a text: phone numbers, e-mail addresses, URLs, payment card numbers,
IBANs, postal addresses and the names of given people, each as a typed `Span`.

The detectors (`patterns`) favour precision; `benchmarks/privacy_eval.py` measures precision
and recall on the labelled messages in `tests/fixtures/privacy/labelled.jsonl`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from chatclone.privacy import patterns as pp

PII_TYPES = ("phone", "email", "url", "card", "iban", "address", "name")
# When two findings overlap and are as long as each other, the more specific kind wins.
_PRIORITY = {
    t: i for i, t in enumerate(("email", "url", "iban", "card", "phone", "address", "name"))
}
_DETECTORS: dict[str, Callable[[str], pp.Found]] = {
    "email": pp.emails,
    "url": pp.urls,
    "card": pp.cards,
    "iban": pp.ibans,
    "phone": pp.phones,
    "address": pp.addresses,
}
# Cheap tests before a detector's regexes run (most chat messages hold no personal data): the
# character a match cannot do without, or the fewest digits a match holds (`\\d`, as the
# detectors count them). `tests/test_privacy_fast.py` checks the results against running all.
_NEEDS = {"email": "@", "url": "."}
_MIN_DIGITS = {"card": 13, "iban": 2, "phone": pp.MIN_PHONE_DIGITS, "address": 1}

_DIGIT = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Span:
    """One piece of personal data found in a text: `text[start:end] == value`."""

    start: int
    end: int
    type: str
    value: str


def find_pii(text: str, names: Iterable[str] = ()) -> list[Span]:
    """Every phone number, e-mail, URL, card, IBAN, address and given name in `text`, in order.

    Names match whole words: each of `names` and its first word when that is a capitalised word
    of 3+ letters ("Jordan" from "Jordan Lee"), as written and, for 4+ letters that are not also
    everyday words (`patterns.NAME_WORDS`), in lower and upper case too. Where findings
    overlap, the longest wins, then the most specific kind.
    """
    pattern = _name_pattern(names if isinstance(names, tuple) else tuple(names))
    found: list[tuple[int, int, str]] = []
    digits = len(_DIGIT.findall(text)) if _DIGIT.search(text) else 0
    if digits or "@" in text or "." in text:
        for kind, detect in _DETECTORS.items():
            needs = _NEEDS.get(kind)
            if (needs in text) if needs else digits >= _MIN_DIGITS[kind]:
                found += [(s, e, kind) for s, e in detect(text)]
    if pattern is not None:
        found += [(s, e, "name") for s, e in pp.names_in(text, pattern)]
    if not found:
        return []
    if len(found) > 1:
        found.sort(key=lambda f: (f[0] - f[1], _PRIORITY[f[2]], f[0]))
        kept: list[tuple[int, int, str]] = []
        for s, e, kind in found:
            if all(e <= ks or s >= ke for ks, ke, _ in kept):
                kept.append((s, e, kind))
        found = sorted(kept)
    return [Span(s, e, kind, text[s:e]) for s, e, kind in found]


@lru_cache(maxsize=8)
def _name_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    return pp.name_pattern(names)


def normalise(kind: str, value: str) -> str:
    """The form under which a value is looked up, so that spelling variants share a replacement."""
    if kind == "email":
        return value.casefold()
    if kind == "phone":
        # The last nine digits: +44 7700 900123, 0044 7700 900123 and 07700 900123 are one number.
        return re.sub(r"\D", "", value.replace("(0)", ""))[-9:]
    if kind in ("card", "iban"):
        return re.sub(r"[\s\-]", "", value).upper()
    if kind == "url":
        url = re.sub(r"^(?:https?://)?(?:www\.)?", "", value, flags=re.I).rstrip("/")
        host, slash, path = url.partition("/")
        return host.lower() + slash + path
    if kind == "address":
        return " ".join(re.sub(r"[,.]", " ", value).casefold().split())
    return value.strip()
