"""Facts read from patterns over the whole history, not from one message: an activity the
person keeps mentioning (a hobby), a name that is the subject of their sentences next to pet
words (a pet), a sender who shares their surname and calls the same people mum and dad (a
sibling), where they travel to in a chat with their parents (where the family lives)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from chatclone.memory.candidates import Candidate, Evidence
from chatclone.memory.lexicon import (
    LEXICON,
    PARENTS,
    PET_CUE,
    SPECIES,
    STEMS,
    STOP,
    day_of,
    norm,
    place,
)
from chatclone.memory.statements import Said
from chatclone.workspace import Workspace


@dataclass
class History:
    """What the aggregate rules need, gathered in one pass over the store."""

    senders: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # chat → senders
    parent_talk: dict[str, list[Evidence]] = field(default_factory=lambda: defaultdict(list))
    species: dict[str, tuple[str, Evidence]] = field(default_factory=dict)  # name → (cat, said)

    def family_chats(self) -> set[str]:
        return {c for c, who in self.senders.items() if any(first_name(w) in PARENTS for w in who)}


def first_name(name: str) -> str:
    return name.split()[0].casefold() if name.split() else ""


def history(ws: Workspace, me: set[str]) -> History:
    h = History()
    with ws.open_store() as store:
        for m in store.iter_messages():
            if m.sender is None or not m.text:
                continue
            h.senders[m.chat].add(m.sender)
            if m.sender in me:
                continue
            text = norm(m.text)
            said = Evidence(m.chat, m.ts, m.sender, m.text)
            if re.search(r"\b(?:mum|mom|dad|mam)\b", text):
                h.parent_talk[m.sender].append(said)
            if s := re.search(rf"\b([a-z]+) is a ({SPECIES})\b", text):
                h.species.setdefault(s[1], (s[2], said))
    return h


def siblings(h: History, me: set[str], mine: list[Said]) -> Iterator[Candidate]:
    """Someone in a family chat (one with a "Mum" or "Dad" in it) who shares the person's
    surname, or talks to the same parents, and is not a parent: a brother or sister."""
    surnames = {n.split()[-1].casefold() for n in me if len(n.split()) > 1}
    for chat in h.family_chats():
        for who in h.senders[chat] - me:
            first = first_name(who)
            same = len(who.split()) > 1 and who.split()[-1].casefold() in surnames
            if first in PARENTS or first in {"nana", "nan", "gran", "grandma", "grandpa"}:
                continue
            if not (same or h.parent_talk.get(who)):
                continue
            named = [
                s
                for s in mine
                if s.evidence.chat == chat and re.search(rf"\b{re.escape(first)}\b", s.text)
            ]
            confidence = 0.55 if same and h.parent_talk.get(who) else 0.35
            evidence = h.parent_talk.get(who, [])[:1] + [s.evidence for s in named[:2]]
            if evidence:
                yield Candidate("sibling", who, "positive", confidence, evidence, None)


def family_places(h: History, mine: list[Said]) -> Iterator[Candidate]:
    """Where the person travels to in a chat with their parents: where the family lives."""
    chats = h.family_chats()
    for s in mine:
        if s.evidence.chat not in chats or re.search(
            r"\b(?:fly|flying|flight|holiday|trip|booked)", s.text
        ):
            continue
        m = re.search(
            r"\b(?:train|drive|coach|bus|coming|come|get|head(?:ing)?)\s(?:(?:down|up|back|home|over)\s)?to (?P<v>[a-z]+)",
            s.text,
        )
        if m and (where := place(m["v"])):
            yield s.cand("family", f"family in {where}", 0.45, valid_from=None)


_SUBJECT = re.compile(
    r"\b([a-z]+) (?:is|was|has|had|'s|threw|tried|learned|learnt|wants|watched|did|looked|ate|keeps|knocked|jumped|sat|slept|loves|hates|bit|scratched)\b|\bme and ([a-z]+)\b"
)


def hobbies_and_pets(
    mine: list[Said], bursts: list[tuple[list[Said], str]], h: History
) -> Iterator[Candidate]:
    """An activity the person names in at least 3 messages is a hobby; a name that is the
    subject of 3 of their sentences and sits next to pet words ("vet", "🐈") is a pet."""
    for term in LEXICON["hobby"]:
        stem = STEMS.get(term)
        pattern = re.compile(
            rf"\b(?:{re.escape(term)}|{stem}(?:s|ed)?)\b" if stem else rf"\b{re.escape(term)}\b"
        )
        said = [s for s in mine if pattern.search(s.text)]
        if len(said) >= 3:
            yield Candidate("hobby", term, "positive", min(0.35 + 0.05 * len(said), 0.8),
                            [s.evidence for s in said[:3]], day_of(said[0].evidence.ts))  # fmt: skip
    subjects = Counter(w for s in mine for m in _SUBJECT.finditer(s.text) for w in m.groups() if w)
    names = mine[0].names if mine else set()
    for lines, _ in bursts:
        text = "\n".join(s.text for s in lines)
        if not PET_CUE.search(text):
            continue
        for word in set(re.findall(r"[a-z]+", text)):
            if subjects[word] >= 3 and word not in STOP and word not in names and len(word) > 2:
                kind = h.species.get(
                    word, ("dog" if re.search(r"🐕|🐶|walkies|woof|puppy", text) else "cat", None)
                )
                at = next(s for s in lines if word in s.text)
                evidence = [at.evidence] + ([kind[1]] if kind[1] else [])
                yield Candidate(
                    "pet",
                    f"{word.capitalize()}, a {kind[0]}",
                    "positive",
                    0.6,
                    evidence,
                    day_of(at.evidence.ts),
                )
