"""The detectors behind `detect.find_pii`: one function per kind of personal data.

Each detector takes a text and yields `(start, end)` of what it found. They lean towards precision:
a number is only a phone number when its digit count, grouping and neighbourhood look like one (not
a date, a price, an IP address or an order number), card numbers must pass the Luhn check, IBANs
the mod-97 check, and an address needs a house number next to a street-type word.

E-mail addresses, URLs and names are found here; cards and IBANs in `banking`, phone numbers in
`phones` and postal addresses in `addresses`, all importable from here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from chatclone.privacy.addresses import addresses
from chatclone.privacy.banking import cards, iban_ok, ibans, luhn_ok, number_blocks
from chatclone.privacy.phones import MIN_PHONE_DIGITS, phones

__all__ = [
    "MIN_PHONE_DIGITS",
    "NAME_WORDS",
    "Found",
    "addresses",
    "cards",
    "emails",
    "iban_ok",
    "ibans",
    "luhn_ok",
    "name_pattern",
    "names_in",
    "number_blocks",
    "phones",
    "urls",
]

Found = Iterator[tuple[int, int]]

# --- e-mail and URLs ---------------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-]+@(?:[\w\-]+\.)+[A-Za-z]{2,}(?![\w\-])")

_URL = re.compile(r"(?<![\w@.\-])(?:https?://|www\.)[^\s<>\"'`]+", re.I)
# A bare domain with a path (example.com/x) may have any alphabetic TLD but not a file extension;
# without a path, only TLDs that are not also everyday words ("de", "es", "it", "me", "so"…).
_BARE_WITH_PATH = re.compile(
    r"(?<![\w@./\-])(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+([a-z]{2,6})/[^\s<>\"'`]*", re.I
)
_BARE = re.compile(
    r"(?<![\w@./\-])(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+"
    r"(?:com|net|org|io|dev|app|info|eu|nl|pt|fr|uk|br)(?:\.(?:br|es|mx|ar|pt|uk|au))?"
    r"(?![\w@\-]|\.\w)"
)
_FILE_EXTENSIONS = frozenset(
    """txt pdf doc docx xls xlsx csv jpg jpeg png gif mp3 mp4 html htm zip
    """.split()  # noqa: SIM905 (a word list reads best as one string)
)
_TRAILING = ".,;:!?'\"»…*"


def emails(text: str) -> Found:
    for m in _EMAIL.finditer(text):
        yield m.span()


# What each URL pattern cannot match without, looked for first: these start with a literal, which
# the regex engine scans for quickly (the patterns start with a look-behind, checked everywhere).
_URL_HINT = re.compile(r"(?i:https?://|www\.)")
_BARE_HINT = re.compile(r"\.(?:com|net|org|io|dev|app|info|eu|nl|pt|fr|uk|br)")


def urls(text: str) -> Found:
    if _URL_HINT.search(text):
        for m in _URL.finditer(text):
            yield m.start(), m.start() + len(_trim_url(m.group()))
    if "/" in text:
        for m in _BARE_WITH_PATH.finditer(text):
            if m.group(1).lower() not in _FILE_EXTENSIONS:
                yield m.start(), m.start() + len(_trim_url(m.group()))
    if _BARE_HINT.search(text):
        for m in _BARE.finditer(text):
            yield m.span()


def _trim_url(url: str) -> str:
    """Leave sentence punctuation and an unmatched closing bracket outside the URL."""
    while url:
        if url[-1] in _TRAILING or (url[-1] in ")]}" and url.count(")") > url.count("(")):
            url = url[:-1]
        else:
            break
    return url


# --- names -------------------------------------------------------------------------------------


# Given names that are also everyday words: matched only as written, never in lower case.
NAME_WORDS = frozenset(
    """will may mark bill rose grace hope joy faith art sue pat mum dad mom nana papa mama june april
    august ray dawn summer autumn amber ruby pearl jade jack rob don guy max sky river rain ash sandy
    holly ivy lily daisy iris violet sunny cash gene miles chase hunter drew frank earl reed wade dean
    doc king rich penny bella angel clement constance prudence victor sol luz paz rosa""".split()  # noqa: SIM905
)


def name_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """Whole-word: each name, and its first word if that is a capitalised word. People text in
    lower case ("see you marco"), so names of 4+ letters also match in lower and upper case, unless
    they are everyday words too (`NAME_WORDS`)."""
    forms = {n.strip() for n in names if n.strip()}
    for name in list(forms):
        first = name.split()[0]
        if len(first) >= 3 and first.isalpha() and first[0].isupper():
            forms.add(first)
    for form in list(forms):
        if len(form) >= 4 and form.lower() not in NAME_WORDS:
            forms.update((form.lower(), form.upper()))
    if not forms:
        return None
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def names_in(text: str, pattern: re.Pattern[str] | None) -> Found:
    if pattern is not None:
        for m in pattern.finditer(text):
            yield m.span()
