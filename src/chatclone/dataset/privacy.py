"""Personal data out of the dataset: find it, replace it consistently, keep the key to ourselves.

Before any text is written out, phone numbers, e-mail addresses, URLs, payment card numbers, IBANs
and postal addresses become typed placeholders that read naturally in a chat and are clearly fake
(`<phone 1>`, `<email 2>`, `<address 1>`), and, with `--pseudonymize-names`, other people's names
become pseudonyms from a built-in list of neutral first names ("Jordan Lee" → "Robin Hart"). The same
value always gets the same replacement, in every message and every build, so conversations stay
coherent: "call me on 0612 345 678" and later "did you save 0612345678?" both say `<phone 1>`.

The mapping (type → normalised original → replacement) is what makes that possible, and it is
exactly the data being removed: it lives in the workspace, at `<workspace>/privacy/mapping.json`,
and is never written into a dataset folder. `load_mapping` / `save_mapping` read and write it.

The detectors (`pii_patterns`) favour precision; `benchmarks/privacy_eval.py` measures precision
and recall on the labelled messages in `tests/fixtures/privacy/labelled.jsonl`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from chatclone.dataset import pii_patterns as pp
from chatclone.errors import WorkspaceError

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
_NEEDS = {"email": "@", "url": "."}  # a cheap test before running the detector's regexes

PSEUDONYMS = tuple(
    """Alex Sam Robin Charlie Jamie Casey Riley Morgan Taylor Jesse Kim Andrea Noa Ariel Sasha Dani
    Eden Remy Lou Max Kai Nico Toni Luca Quinn Rowan Sky Ash Jo Alexis Camille Dominique Claude
    Maxime Frankie Billie Emery Finley Harley Hayden Jules Kendall Lane Marlowe Parker Reese
    Sage Shay Tatum Blair Darcy Ellis Gabi Ira Mika Oakley Perry Rene Sol Vale
    """.split()  # noqa: SIM905 (a word list reads best as one string)
)
SURNAMES = tuple(
    """Hart Reed Moss Lind Berg Vidal Costa Rossi Moreau Silva Novak Weber Jansen Dias Ferri Lopez
    Martin Brandt Keller Romero Sousa Marchetti Laurent Visser Bakker Ortega Conti Pereira
    Fischer Dubois
    """.split()  # noqa: SIM905 (a word list reads best as one string)
)


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
    everyday words (`pii_patterns.NAME_WORDS`), in lower and upper case too. Where findings
    overlap, the longest wins, then the most specific kind.
    """
    found: list[tuple[int, int, str]] = []
    has_digit = _DIGIT.search(text) is not None  # most detectors need a digit; most texts have none
    for kind, detect in _DETECTORS.items():
        needs = _NEEDS.get(kind)
        if (needs in text) if needs else has_digit:
            found += [(s, e, kind) for s, e in detect(text)]
    found += [(s, e, "name") for s, e in pp.names_in(text, _name_pattern(tuple(names)))]
    found.sort(key=lambda f: (f[0] - f[1], _PRIORITY[f[2]], f[0]))
    kept: list[tuple[int, int, str]] = []
    for s, e, kind in found:
        if all(e <= ks or s >= ke for ks, ke, _ in kept):
            kept.append((s, e, kind))
    return [Span(s, e, kind, text[s:e]) for s, e, kind in sorted(kept)]


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


class Pseudonymizer:
    """Replaces personal data in texts, the same value by the same replacement every time.

    `mapping` (type → normalised original → replacement) is updated in place as new values turn
    up; the caller loads it from and saves it to the workspace. `names` are the third parties to
    pseudonymise; empty leaves names alone. `counts` is the number of replacements made per type.
    """

    def __init__(
        self,
        mapping: dict[str, dict[str, str]],
        names: Iterable[str] = (),
        reserved: Iterable[str] = (),
    ) -> None:
        self.mapping = mapping
        self.names = tuple(n.strip() for n in names if n.strip())
        self.counts: Counter[str] = Counter()
        # Never hand out a real name as a pseudonym, least of all the cloned person's (`reserved`).
        self._real_words = {w.casefold() for n in (*self.names, *reserved) for w in n.split()}

    def clean(self, text: str) -> str:
        out, pos = [], 0
        for span in find_pii(text, self.names):  # in reading order, so <phone 1> comes first
            out += [text[pos : span.start], self.replacement(span.type, span.value)]
            self.counts[span.type] += 1
            pos = span.end
        return "".join(out) + text[pos:]

    def replacement(self, kind: str, value: str) -> str:
        table = self.mapping.setdefault(kind, {})
        key = normalise(kind, value)
        if key not in table:
            table[key] = self._pseudonym(key) if kind == "name" else _next_placeholder(kind, table)
        return table[key]

    def _pseudonym(self, name: str) -> str:
        """A first name for the first word (shared by "Jordan" and "Jordan Lee"), and a surname
        slot when the name has one."""
        first, _, rest = name.partition(" ")
        table = self.mapping["name"]
        if first not in table:
            taken = {v.split()[0] for v in table.values()}
            table[first] = _pick(
                PSEUDONYMS, first, self._real_words | {t.casefold() for t in taken}
            )
        if not any(ch.isalpha() for ch in rest):
            return table[first] + (" " + rest if rest else "")
        return f"{table[first]} {_pick(SURNAMES, rest, self._real_words)}"


def _next_placeholder(kind: str, table: dict[str, str]) -> str:
    used = set(table.values())
    n = len(used) + 1
    while f"<{kind} {n}>" in used:
        n += 1
    return f"<{kind} {n}>"


def _pick(pool: tuple[str, ...], seed: str, avoid: set[str]) -> str:
    """A deterministic choice from `pool` for `seed`, skipping words in `avoid` (casefolded)."""
    start = int(hashlib.sha256(seed.encode()).hexdigest(), 16) % len(pool)
    for i in range(len(pool)):
        candidate = pool[(start + i) % len(pool)]
        if candidate.casefold() not in avoid:
            return candidate
    return f"Person {len(avoid) + 1}"


def load_mapping(path: Path) -> dict[str, dict[str, str]]:
    """The saved mapping, or an empty one when there is none yet."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WorkspaceError(f"{path}: cannot read the privacy mapping ({e})") from None
    if not isinstance(data, dict) or not all(
        isinstance(table, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in table.items())
        for table in data.values()
    ):
        raise WorkspaceError(f"{path}: not a privacy mapping (type → original → replacement)")
    return data


def save_mapping(path: Path, mapping: dict[str, dict[str, str]]) -> None:
    """Write the mapping atomically: a temporary file in the same folder, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".mapping-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(mapping, f, ensure_ascii=False, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
