"""The fast paths of `find_pii` (a text's digit count and key characters before each detector,
candidates too short to be a phone number skipped, street words looked for before the address
patterns run) find exactly what running every detector on every text finds.

The reference below is `find_pii`, `phones` and `addresses` as they were before the fast paths,
kept here verbatim; it is run against the library on the labelled messages and on thousands of
generated texts built to sit on the edges of the pre-filters (few digits, Unicode digits, case
variants of street words, non-ASCII letters that match ASCII ones case-insensitively)."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from chatclone.privacy import Pseudonymizer, find_pii
from chatclone.privacy import addresses as pa
from chatclone.privacy import detect as dt
from chatclone.privacy import patterns as pp
from chatclone.privacy import phones as ph

LABELLED = Path(__file__).parent / "fixtures" / "privacy" / "labelled.jsonl"
NAMES = ("Ana García", "Jordan Lee", "Priya", "Will", "Marco")


# --- the reference: every detector on every text ---------------------------------------------


def _reference_phones(text: str) -> Iterator[tuple[int, int]]:
    blocks = pp.number_blocks(text)
    for m in ph._PHONE_CANDIDATE.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in blocks):
            continue
        pos = m.start()
        for g in ph._GROUP_AFTER_SPACE.finditer(m.group()):
            start = m.start() + g.start()
            if start < pos:
                continue
            end = ph._phone_at(text, start, m.end())
            if end is not None:
                yield start, end
                pos = end


def _reference_addresses(text: str) -> Iterator[tuple[int, int]]:
    for pattern in (pa._NUMBER_FIRST, pa._NUMBER_AFTER, pa._GERMANIC, pa._LOWER_CASE):
        for m in pattern.finditer(text):
            street = m.group().split()[0].lower()
            if pattern is pa._GERMANIC and street in pa._NOT_STREETS:
                continue
            yield m.start(), pa._with_tail(text, m.end())


_REFERENCE = {
    "email": pp.emails,
    "url": pp.urls,
    "card": pp.cards,
    "iban": pp.ibans,
    "phone": _reference_phones,
    "address": _reference_addresses,
}


def reference_find_pii(text: str, names: Iterable[str] = ()) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for kind, detect in _REFERENCE.items():
        found += [(s, e, kind) for s, e in detect(text)]
    found += [(s, e, "name") for s, e in pp.names_in(text, pp.name_pattern(tuple(names)))]
    found.sort(key=lambda f: (f[0] - f[1], dt._PRIORITY[f[2]], f[0]))
    kept: list[tuple[int, int, str]] = []
    for s, e, kind in found:
        if all(e <= ks or s >= ke for ks, ke, _ in kept):
            kept.append((s, e, kind))
    return sorted(kept)


def fast(text: str, names: Iterable[str] = ()) -> list[tuple[int, int, str]]:
    spans = find_pii(text, tuple(names))
    assert all(text[s.start : s.end] == s.value for s in spans)
    return [(s.start, s.end, s.type) for s in spans]


# --- generated texts ---------------------------------------------------------------------------

_WORDS = """call me on my number is at the flat order ref flight tel handy ok see you tomorrow
    Calle Mayor rua augusta via roma piazza Hauptstraße Kerkstraat Berliner Straße Ring Weg
    rue de la Paix Baker Street oak st Avda. R. Av. C/ Paseo VIA PLAZA Straße Parkplatz
    Jordan jordan JORDAN Ana García Priya will Will Marco marco www.example.com example.com/x
    https://t.co/abc) sam.rivera@mail.com IBAN DE89 3704 0044 0532 0130 00 4111 1111 1111 1111
    € $ % km min euros 28013 Madrid SW1A 1AA London, 1012 AB""".split()  # noqa: SIM905
# Whole findings that the word list above would cut apart.
_WHOLE = [
    "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432",
    "4111 1111 1111 1111",
    "5555-5555-5555-4444",
    "+44 7700 900123",
    "06 12 34 56 78",
    "221B Baker Street",
]
# Letters that match ASCII ones case-insensitively in a regex but not under str.lower, and
# digits that are not ASCII: where a pre-filter could drift from the patterns.
_ODD = ["ſ", "İ", "K", "ı", "٣", "０", "١٢", "ß", "é", "\u00a0", "№", "º"]
_SEPARATORS = [" ", "-", ".", "/", "", " ", "(", ")", "+", ", "]


def _digits(rng: random.Random) -> str:
    groups = [
        "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 5)))
        for _ in range(rng.randint(1, 5))
    ]
    text = groups[0]
    for g in groups[1:]:
        text += rng.choice(_SEPARATORS) + g
    return rng.choice(["", "+", "0", "00", "(+"]) + text


def generated_texts(n: int, seed: int = 14) -> list[str]:
    rng = random.Random(seed)
    labelled = [json.loads(line)["text"] for line in LABELLED.read_text("utf-8").splitlines()]
    texts = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 8)):
            roll = rng.random()
            if roll < 0.05:
                parts.append(rng.choice(_WHOLE))
            elif roll < 0.35:
                parts.append(rng.choice(_WORDS))
            elif roll < 0.6:
                parts.append(_digits(rng))
            elif roll < 0.7:
                parts.append(rng.choice(_ODD))
            elif roll < 0.8:
                words = rng.choice(labelled).split()
                i = rng.randrange(len(words))
                parts.append(" ".join(words[i : i + rng.randint(1, 6)]))
            else:
                word = rng.choice(_WORDS)
                parts.append(word.upper() if rng.random() < 0.5 else word.lower())
        text = rng.choice([" ", "", ", "]).join(parts)
        if rng.random() < 0.2:  # a non-ASCII letter somewhere turns the ASCII shortcut off
            i = rng.randrange(len(text) + 1)
            text = text[:i] + rng.choice(_ODD) + text[i:]
        texts.append(text)
    return texts


# --- tests -------------------------------------------------------------------------------------


def test_labelled_messages_find_the_same() -> None:
    texts = [json.loads(line)["text"] for line in LABELLED.read_text("utf-8").splitlines()]
    found = 0
    for text in texts:
        for names in ((), NAMES):
            expected = reference_find_pii(text, names)
            assert fast(text, names) == expected, text
            found += len(expected)
    assert found > 300  # the fixture is full of personal data: the comparison has substance


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_texts_find_the_same(seed: int) -> None:
    kinds: set[str] = set()
    for text in generated_texts(2500, seed):
        names = NAMES if len(text) % 2 else ()
        expected = reference_find_pii(text, names)
        assert fast(text, names) == expected, repr(text)
        kinds.update(kind for _, _, kind in expected)
    # The generator reaches every kind of finding, so every pre-filter is exercised both ways.
    assert kinds >= {"phone", "url", "email", "address", "name", "card", "iban"}


def test_prefilters_see_what_the_patterns_need() -> None:
    # The fewest digits each kind holds, from the shortest matches the patterns allow.
    assert fast("call me: 555-0142") == [(9, 17, "phone")]
    assert len(re.sub(r"\D", "", "555-0142")) == pp.MIN_PHONE_DIGITS
    assert fast("Rua Augusta 1") == reference_find_pii("Rua Augusta 1") != []
    # Case-insensitive street words that are not ASCII: no shortcut, the pattern decides.
    for text in ("Paſeo de Gracia 5", "VİA Roma 5", "Travesía del Sol 3", "Kerkstraat 3"):
        assert fast(text) == reference_find_pii(text), text


def test_clean_leaves_a_text_without_findings_as_it_is() -> None:
    pseudo = Pseudonymizer({})
    text = "see you at the lake tomorrow"
    assert pseudo.clean(text) is text
    assert not pseudo.counts
    assert pseudo.clean("call me on +44 7700 900123") == "call me on <phone 1>"
    assert pseudo.counts == {"phone": 1}


def test_a_text_known_to_hold_nothing_is_looked_at_again_for_other_names() -> None:
    pseudo = Pseudonymizer({})
    assert pseudo.clean("see Jordan at 5") == "see Jordan at 5"
    assert pseudo.clean("see Jordan at 5") == "see Jordan at 5"  # remembered: nothing in it
    pseudo.names = ("Jordan",)
    cleaned = pseudo.clean("see Jordan at 5")
    assert "Jordan" not in cleaned and pseudo.counts == {"name": 1}
    assert pseudo.clean("see Jordan at 5") == cleaned and pseudo.counts == {"name": 2}
