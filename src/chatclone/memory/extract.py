"""Candidate facts about the person, found in their own messages: offline patterns by default.

Why patterns: they run on any machine with no model download, in seconds for 100,000 messages,
and every candidate points at the message that says it, so the person can check it. Three kinds
of rule, each a small table:

- **statements** in one message of the person's: "i live in X", "moved to X", "i'm a nurse",
  "my cat Mochi", "i don't drink coffee", "i'm allergic to nuts", "still single";
- **exchanges**: a burst of theirs read with what was asked just before ("how old?" → "27",
  "happy birthday!" → "thank you x", "what do you want from koto" → "tonkotsu obviously");
- **patterns over the whole history**: an activity they keep mentioning (a hobby), a name that
  is the subject of their sentences next to pet words (a pet), a sender who shares their surname
  and calls the same people mum and dad (a sibling).

Statements that patterns catch but cannot label ("i love X", "X, my favourite") are labelled by
a small lexicon, then by the embedder (slot prototypes), when one is given. The optional LLM
extractor (`llm_extract.py`) sends the person's messages to an OpenAI-compatible endpoint, only
when `[memory] extractor_url` is set.

Here: the exchange rules and the whole pass (`extract_candidates`, `merge`, labelling). The
single-message rules are in `statements.py`, the whole-history ones in `history.py`, the word
lists and text helpers in `lexicon.py`.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from chatclone.embeddings import Embedder
from chatclone.memory.candidates import Candidate, Evidence
from chatclone.memory.history import (
    family_places,
    first_name,
    history,
    hobbies_and_pets,
    siblings,
)
from chatclone.memory.index import Doc, documents, my_names
from chatclone.memory.lexicon import (
    BODY,
    INJURY,
    LANGUAGES,
    NON_PLACE,
    PARENTS,
    STOP,
    date_range,
    day_of,
    lexicon_hit,
    norm,
    place,
    since,
)
from chatclone.memory.slots import SLOT_WORDS
from chatclone.memory.statements import STATEMENTS, Said, injury
from chatclone.workspace import Workspace

Progress = Callable[[str, int], Callable[[int], None] | None]

# --- exchanges: a burst of the person's with what was asked before it ---------------------------

_THANKS = re.compile(r"\b(?:thank|thanks|thx|ty|cheers|ta)\b|❤|🥰|\bx+$")
_WISH = re.compile(
    r"\bhappy (?:birthday|bday|b-day)\b(?:,? (?:to )?(?:my )?(?:darling |dear |lovely )?(?P<who>[a-z]+))?"
)
_FOOD_ASK = re.compile(
    r"what (?:do|d) (?:you|u) want (?:from|to eat|for (?:dinner|lunch|tea|breakfast))|what (?:are|r) (?:you|u) (?:having|eating|ordering)|what (?:should|shall) i (?:get|order) (?:you|u)|what do (?:you|u) fancy"
)
_WORK_ASK = re.compile(r"\b(?:startup|company|firm|work|job|business|office|agency|employer)\b")


def exchange(lines: list[Said], context: str, me: set[str]) -> Iterator[Candidate]:
    """Rules that need what was asked: answers to "how old?", thanks for birthday wishes,
    an order of food, how the company is doing; and an injury or a booking told over a burst."""
    first, text = lines[0], "\n".join(s.text for s in lines)
    asked = norm(context.splitlines()[-1]) if context else ""
    wish = _WISH.search(norm(context))
    if re.search(r"\bhow old\b", asked) and (
        m := re.fullmatch(r"\s*(?:i'm |turning )?(\d{1,2})[!. x]*", first.text)
    ):
        yield first.cand("age", m[1], 0.75, closes=True)
    if (
        wish
        and (
            not wish["who"]
            or wish["who"] in me
            or wish["who"]
            not in first.names | STOP | PARENTS | {"nana", "nan", "gran", "grandma", "grandpa"}
        )
        and _THANKS.search(first.text)
    ):
        day = datetime.fromisoformat(day_of(first.evidence.ts))
        found = first.cand("birthday", f"{day.day} {day:%B}", 0.6)
        found.wish = True
        yield found
        if (m := re.search(r"\b(\d{1,2})(?: years old| today|!!|! )", norm(context))) and 12 <= int(
            m[1]
        ) <= 99:
            yield first.cand("age", m[1], 0.6, closes=True)
    if _FOOD_ASK.search(asked):
        for s in lines:
            if hit := lexicon_hit(s.text, ("food", "drink")):
                yield s.cand(hit[0], hit[1], 0.5)
    if _WORK_ASK.search(asked):
        for s in lines:
            m = re.match(
                r"(?P<v>[a-z][\w-]+) (?:is|are|'s) (?:fine|good|great|doing|ok|okay|going|alright|growing|busy|struggling|hiring|booming|chaos)",
                s.text,
            )
            if m and m["v"] not in NON_PLACE and m["v"] not in first.names:
                yield s.cand("employer", m["v"].capitalize(), 0.5)
    yield from _burst(lines, text)


def _burst(lines: list[Said], text: str) -> Iterator[Candidate]:
    body = re.search(rf"\b(?:my |(?P<side>left|right) )(?P<part>{BODY})\b", text)
    if body and INJURY.search(text):
        at = next(s for s in lines if body[0] in s.text)
        yield at.cand("health", injury(body["side"], body["part"], text), 0.6)
    if (lang := re.search(rf"(?<!\bin )\b{LANGUAGES}\b", text)) and re.search(
        r"\blearn|duolingo|lessons?\b|classes\b", text
    ):
        at = next(s for s in lines if lang[0] in s.text)
        yield at.cand("hobby", f"learning {lang[0].title()}", 0.5)
    booked = re.search(
        r"\bbooked (?:flights? to |tickets? to |a trip to |our trip to |the trip to )?(?P<v>[a-z]+)\b",
        text,
    )
    if (
        booked
        and (dates := date_range(text, lines[0].evidence.ts))
        and (where := place(booked["v"]))
    ):
        at = next(s for s in lines if booked[0] in s.text)
        yield at.cand("trip", where, 0.6, valid_from=dates[0], valid_to=dates[1])


# --- the whole pass ---------------------------------------------------------------------------

CARRY_SINCE = {"job", "employer", "home", "partner", "education"}
CARRY_WINDOW = 15 * 60  # seconds: "since 2022" a few minutes later dates what was just said
Labeler = Callable[[list[str]], list[str | None]]


def extract_candidates(
    ws: Workspace, labeler: Labeler | None = None, progress: Progress | None = None
) -> list[Candidate]:
    """Every candidate fact in the person's own messages, one per (slot, value, polarity), with
    all its evidence, best first. `labeler` names the slot of phrases no lexicon knows."""
    me = my_names(ws)
    h = history(ws, me)
    me_first = {first_name(n) for n in me}
    others = {first_name(w) for who in h.senders.values() for w in who} - me_first
    docs = list(documents(ws, me))
    words = Counter(
        w for d in docs if d.kind == "message" for w in re.findall(r"[a-z]+", norm(d.text))
    )
    mine: list[Said] = []
    chats: dict[str, list[Said]] = defaultdict(list)
    bursts: list[tuple[list[Said], str]] = []
    found: list[Candidate] = []
    recent: dict[str, list[Candidate]] = defaultdict(list)
    advance = progress("Finding facts", len(docs)) if progress else None
    for n, d in enumerate(docs, 1):
        if d.kind == "message":
            s = Said(norm(d.text), Evidence(d.chat, d.ts, d.sender, d.text), others, words)
            mine.append(s)
            chats[d.chat].append(s)
            new = [
                c
                for pattern, rule in STATEMENTS
                for m in pattern.finditer(s.text)
                for c in rule(m, s)
            ]
            _carry_since(s, new, recent[d.chat])
        elif d.kind == "exchange":
            lines = _lines(d, chats[d.chat])
            new = list(exchange(lines, d.context, me_first)) if lines else []
            bursts.append((lines, d.context)) if lines else None
        else:
            new = []
        found += new
        recent[d.chat] += new
        if advance is not None and (n % 1000 == 0 or n == len(docs)):
            advance(1000 if n % 1000 == 0 else n % 1000)
    found += siblings(h, me, mine)
    found += family_places(h, mine)
    found += hobbies_and_pets(mine, bursts, h)
    return merge(_label(_fold_wishes(found), labeler))


def _fold_wishes(found: list[Candidate]) -> list[Candidate]:
    """Birthday wishes over a few days (the day itself, then the party) name the first day."""
    wishes = sorted((c for c in found if c.wish), key=lambda c: c.evidence[0].ts)
    kept: list[Candidate] = []
    for c in wishes:
        first = kept[-1] if kept else None
        gap = (
            (
                datetime.fromisoformat(c.evidence[0].ts)
                - datetime.fromisoformat(first.evidence[0].ts)
            ).days
            if first
            else 99
        )
        if first is not None and 0 <= gap <= 7:
            first.evidence += c.evidence
        else:
            kept.append(c)
    return [c for c in found if not c.wish] + kept


def _carry_since(s: Said, new: list[Candidate], recent: list[Candidate]) -> None:
    when = since(s.text, s.evidence.ts)
    if new or not when or re.search(r"\b(?:he|she|they|it|his|her|their)\b", s.text):
        return  # "he's been learning it since january" dates someone else's doing
    at = datetime.fromisoformat(s.evidence.ts)
    for c in recent:
        gap = (at - datetime.fromisoformat(c.evidence[-1].ts)).total_seconds()
        if (
            c.slot in CARRY_SINCE
            and c.confidence >= 0.45
            and 0 <= gap <= CARRY_WINDOW
            and not c.explicit_from
        ):
            c.valid_from, c.explicit_from = when, True
            c.evidence.append(s.evidence)


def _lines(d: Doc, said: list[Said]) -> list[Said]:
    """The person's messages in the burst `d`, each with what was asked before it."""
    start = bisect_left([s.evidence.ts for s in said], d.ts)
    asked = d.context.splitlines()[-1] if d.context else ""
    lines: list[Said] = []
    for s in said[start:]:
        if s.evidence.text not in d.text or len(lines) >= d.text.count("\n") + 1:
            break
        lines.append(
            Said(
                s.text,
                Evidence(*s.evidence.key[:2], s.evidence.sender, s.evidence.text, asked),
                s.names,
                s.words,
            )
        )
    return lines


def _label(found: list[Candidate], labeler: Labeler | None) -> list[Candidate]:
    """Candidates with a slot; open ones ("?") get the labeler's slot, or are dropped."""
    open_ = [c for c in found if c.slot == "?"]
    slots = labeler([c.value for c in open_]) if labeler and open_ else [None] * len(open_)
    for c, slot in zip(open_, slots, strict=True):
        c.slot = slot or "?"
    return [c for c in found if c.slot in SLOT_WORDS]


def merge(found: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per key: all evidence (in time order, once each), confidence growing with
    each independent mention, the date said in words over the message's date."""
    merged: dict[tuple[str, str, str], Candidate] = {}
    for c in found:
        have = merged.get(c.key)
        if have is None:
            merged[c.key] = Candidate(c.slot, c.value, c.polarity, c.confidence, list(c.evidence),
                                      c.valid_from, c.valid_to, c.closes, c.origin,
                                      c.explicit_from)  # fmt: skip
            continue
        have.confidence = min(0.97, 1 - (1 - have.confidence) * (1 - c.confidence * 0.5))
        have.evidence += c.evidence
        have.closes |= c.closes
        have.valid_to = have.valid_to or c.valid_to
        if c.explicit_from and not have.explicit_from:
            have.valid_from, have.explicit_from = c.valid_from, True
        elif (
            not have.explicit_from
            and c.valid_from
            and (not have.valid_from or c.valid_from < have.valid_from)
        ):
            have.valid_from = c.valid_from
    for c in merged.values():
        c.evidence = sorted({e.key: e for e in reversed(c.evidence)}.values(), key=lambda e: e.ts)
    return sorted(merged.values(), key=lambda c: -c.confidence)


_PROTOTYPES = {
    "food": "food and dishes I like to eat: ramen, pizza, sushi, curry, pasta, tacos",
    "drink": "drinks: tea, coffee, beer, wine, juice, cocktails",
    "hobby": "hobbies, sports and pastimes: climbing, running, football, painting, guitar",
    "": "people, things and ideas: you, that, the weather, my phone, this song, the plan, work",
}


def embedding_labeler(embedder: Embedder, margin: float = 0.05) -> Labeler:
    """Slots for open phrases by the nearest slot prototype (an 'anything else' prototype
    must lose by `margin`), in one batch."""

    def label(phrases: list[str]) -> list[str | None]:
        import numpy as np

        names = list(_PROTOTYPES)
        vectors = np.asarray(embedder.encode([*_PROTOTYPES.values(), *phrases]))
        sims = vectors[len(names) :] @ vectors[: len(names)].T
        out: list[str | None] = []
        for row in sims:
            best = int(np.argmax(row[:-1]))
            out.append(names[best] if row[best] >= 0.3 and row[best] > row[-1] + margin else None)
        return out

    return label
