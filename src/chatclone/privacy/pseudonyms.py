"""Replacing personal data consistently, and keeping the key to ourselves.

Before any text is written out, phone numbers, e-mail addresses, URLs, payment card numbers, IBANs
and postal addresses become typed placeholders that read naturally in a chat and are clearly fake
(`<phone 1>`, `<email 2>`, `<address 1>`), and, with `--pseudonymize-names`, other people's names
become pseudonyms from a built-in list of neutral first names ("Jordan Lee" → "Robin Hart"). The same
value always gets the same replacement, in every message and every build, so conversations stay
coherent: "call me on 0612 345 678" and later "did you save 0612345678?" both say `<phone 1>`.

The mapping (type → normalised original → replacement) is what makes that possible, and it is
exactly the data being removed: it lives in the workspace, at `<workspace>/privacy/mapping.json`,
and is never written into a dataset folder. `load_mapping` / `save_mapping` read and write it.

What counts as personal data is `detect.find_pii`'s to say.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from chatclone.errors import WorkspaceError
from chatclone.privacy.detect import find_pii, normalise

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


CLEAN_CACHE = 100_000  # texts remembered as holding no personal data (then forgotten, all at once)


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
        # Texts found to hold nothing, for `names` as they were then: chats repeat themselves
        # ("ok", "haha", a sender's name on every turn), and such a text needs no second look.
        self._nothing: set[str] = set()
        self._nothing_for = self.names

    def clean(self, text: str) -> str:
        if text in self._nothing and self._nothing_for is self.names:
            return text
        spans = find_pii(text, self.names)
        if not spans:
            if self._nothing_for is not self.names or len(self._nothing) >= CLEAN_CACHE:
                self._nothing, self._nothing_for = set(), self.names
            self._nothing.add(text)
            return text
        out, pos = [], 0
        for span in spans:  # in reading order, so <phone 1> comes first
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


def for_dataset(
    mapping_path: Path, me: Iterable[str], senders: Iterable[str], pseudonymize_names: bool
) -> Pseudonymizer:
    """The pseudonymiser a dataset's texts go through: the saved mapping, the other senders'
    names when the dataset pseudonymises names, never the person's own. `build` and whatever
    builds prompts like it (a chat's memory blocks) make theirs here, so a text reads the same in
    both."""
    mine = sorted(me)
    others = sorted(set(senders) - set(mine)) if pseudonymize_names else []
    return Pseudonymizer(load_mapping(mapping_path), others, mine)


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
