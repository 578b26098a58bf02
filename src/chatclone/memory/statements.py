"""Facts stated in one message of the person's: "i live in X", "moved to X", "i'm a nurse",
"my cat Mochi", "i don't drink coffee", "i'm allergic to nuts", "still single".

Each rule is a pattern and a function registered with `@statement` in `STATEMENTS`, run in
order over every message (`extract.py`) or over one text alone (`statements(text, ts)`, what
grounded training checks a reply against)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from chatclone.memory.candidates import Candidate, Evidence
from chatclone.memory.lexicon import (
    BODY,
    JOBS,
    MONTH_NAME,
    NON_PLACE,
    SPECIES,
    STOP,
    WEEKDAYS,
    birthday_text,
    date_range,
    day_of,
    lexicon_hit,
    month_in,
    norm,
    phrase,
    place,
    since,
)


@dataclass
class Said:
    """One message of the person's (or a burst, with what was asked before it) as rules see it."""

    text: str  # `norm`ed
    evidence: Evidence
    names: set[str]  # first names of the people in the history, not the person's
    words: Counter[str]  # how often the person uses each word: names recur, typos do not

    def cand(self, slot: str, value: str, confidence: float, polarity: str = "positive",
             closes: bool = False, valid_from: str | None = None, valid_to: str | None = None) -> Candidate:  # fmt: skip
        said = since(self.text, self.evidence.ts)
        start = said or valid_from or (None if slot == "birthday" else day_of(self.evidence.ts))
        return Candidate(slot, value, polarity, confidence, [self.evidence], start, valid_to,
                         closes, explicit_from=bool(said))  # fmt: skip

    def name(self, word: str | None) -> str | None:
        """`word` if it can be a name: not a common word, and a person's or said again."""
        if not word or word in STOP or not word.isalpha() or len(word) < 2:
            return None
        return word.capitalize() if word in self.names or self.words[word] >= 2 else None


Rule = Callable[[re.Match[str], Said], Iterator[Candidate]]
STATEMENTS: list[tuple[re.Pattern[str], Rule]] = []


def statement(pattern: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        STATEMENTS.append((re.compile(pattern), fn))
        return fn

    return register


@statement(
    rf"\bi'm (?:still |now |currently |just |actually |officially )?(?:the only |a |an |the |one of the )(?P<v>(?:[a-z'-]+ ){{0,2}}{JOBS})s?\b(?:(?: at| for) (?P<at>[a-z][\w&'-]+))?"
)
def _i_am_a(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("job", m["v"], 0.8, closes=True)
    if m["at"] and (employer := place(m["at"])):
        yield s.cand("employer", employer, 0.7, closes=True)


@statement(
    r"\bi (?:work|'m working) (?:as (?:a |an )?(?P<job>[a-z ]+)|(?:at|for) (?P<at>[a-z][\w&' -]+))"
)
def _i_work(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if m["job"] and (job := phrase(m["job"], 3)):
        yield s.cand("job", job, 0.8, closes=True)
    if m["at"] and (employer := place(m["at"])):
        yield s.cand("employer", employer, 0.75, closes=True)


@statement(
    r"\b(?:got|landed|accepted|started|starting|start|took) (?:a |my |the )?new job(?: as (?:a |an )?(?P<job>[a-z ]+?))?(?: at (?P<at>[a-z][\w&' -]+))?(?:$|[,.!])|\b(?:i (?:just )?joined|i'm joining|i started at|i'm starting at) (?P<at2>[a-z][\w&' -]+)"
)
def _new_job(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if m["job"] and (job := phrase(m["job"], 3)):
        yield s.cand("job", job, 0.75, closes=True)
    at = m["at"] or m["at2"]
    if at and (employer := place(at)):
        yield s.cand("employer", employer, 0.65, closes=True)


@statement(
    r"^(?P<v>[a-z][\w-]+) (?:is|are|'s) (?:[a-z]+ ){0,2}[a-z]+,? we (?:got|raised|closed|hired|launched|just|are|'re|have|'ve)\b"
)
def _our_company(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if m["v"] not in NON_PLACE:
        yield s.cand("employer", m["v"].capitalize(), 0.45)


@statement(
    r"\bi (?:live|'ve lived|have lived|'m living|been living|still live) in (?P<v>.+)|\bmy (?:flat|apartment|house|place|home)(?: is)? in (?P<v2>.+)"
)
def _i_live(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if where := place(m["v"] or m["v2"]):
        yield s.cand("home", where, 0.85, closes=True)


@statement(
    r"(?:^|\bi |\bi've |\bwe |\bwe've |\bwe're |\bi'm |: |\bjust )(?:just |finally |officially |actually )?(?:moved|moving|relocat\w+) (?:back )?(?:in)?to (?P<v>.+)"
)
def _moved(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if where := place(m["v"]):
        yield s.cand("home", where, 0.85, closes=True, valid_from=month_in(s.text, s.evidence.ts))


@statement(r"\bmy (?P<v>flat|apartment|house)\b")
def _my_flat(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    floor = re.search(
        r"\b(ground|first|second|third|fourth|fifth|top|\d+(?:st|nd|rd|th)) floor", s.text
    )
    yield s.cand("home", m["v"] + (f" ({floor[1]} floor)" if floor else ""), 0.35)


@statement(
    r"\b(?:back|home) (?:in|to) (?P<v>[a-z]+)|\bround the corner(?: from me)? in (?P<v2>[a-z]+)|\b(?:here|near me|where i live) in (?P<v3>[a-z]+)|\bflying (?:out |back )?from (?P<v4>[a-z]+)"
)
def _home_hint(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if where := place(m["v"] or m["v2"] or m["v3"] or m["v4"] or ""):
        yield s.cand("home", where, 0.45 if m["v2"] or m["v3"] else 0.3)


@statement(
    r"\bmy (?P<who>mum|mom|dad|parents|mother|father|folks|family|grandparents|nan|nana|gran|grandma|grandpa) (?:still )?(?:lives?|live|is|are|'s|'re) (?:in|from|down in|up in) (?P<v>.+)"
)
def _family_lives(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if where := place(m["v"]):
        yield s.cand("family", f"{m['who']} in {where}", 0.8)


@statement(
    r"\bmy (?:(?:little|younger|older|big|baby|twin|kid|half|step)[ -])?(?P<kind>brother|sister|bro|sis)\b(?:,? (?P<name>[a-z]+))?"
)
def _my_sibling(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    kind = {"bro": "brother", "sis": "sister"}.get(m["kind"], m["kind"])
    name = s.name(m["name"])
    yield s.cand("sibling", f"{kind} {name}" if name else kind, 0.8 if name else 0.6)


@statement(
    r"\bi (?:don't|do not) have (?:any )?(?:siblings|brothers?|sisters?|brothers or sisters)\b|\bi'm an only child\b|\bno siblings\b"
)
def _no_siblings(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("sibling", "none", 0.9, polarity="negative")


@statement(
    r"\b(?:i'm |still |happily |been |staying |forever |very much |totally )single\b|\bi'm not (?:seeing|dating) any(?:one|body)\b|\bi (?:don't|do not) have a (?:boyfriend|girlfriend|partner)\b|\b(?:we|i) (?:just )?(?:broke up|split up|got divorced)\b"
)
def _single(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("partner", "single", 0.85, polarity="negative", closes=True)


@statement(r"\bdeleted (?:the |my |all the |all my )?(?:dating )?apps\b")
def _no_apps(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("partner", "single", 0.4, polarity="negative")


@statement(
    r"(?<!ex )\bmy (?P<kind>boyfriend|girlfriend|bf|gf|partner|husband|wife|fianc[ée]e?)\b(?:,? (?P<name>[a-z]+))?|\bi (?:just )?got (?P<state>married|engaged)\b"
)
def _partner(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if m["state"]:
        yield s.cand("partner", m["state"], 0.75, closes=True)
        return
    kind = {"bf": "boyfriend", "gf": "girlfriend"}.get(m["kind"], m["kind"])
    name = s.name(m["name"])
    yield s.cand("partner", f"{kind} {name}" if name else kind, 0.75, closes=True)


@statement(rf"\bmy (?:(?:little|old|new|baby) )?(?P<kind>{SPECIES})s?\b(?:,? (?P<name>[a-z]+))?")
def _my_pet(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    name = s.name(m["name"])
    yield s.cand(
        "pet", f"{name}, a {m['kind']}" if name else f"a {m['kind']}", 0.75 if name else 0.6
    )


@statement(r"\bi (?:don't|do not) have (?:a |any )?(?:pets?|cats?|dogs?)\b")
def _no_pets(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("pet", "none", 0.85, polarity="negative")


@statement(
    r"\bi'm (?:really |very |quite |badly )?allergic to (?P<v>.+)|\bi(?: have|'ve got| got) (?P<cond>asthma|diabetes|type [12] diabetes|adhd|epilepsy|migraines|ibs|coeliac disease|eczema|arthritis|endometriosis|pcos|long covid|tinnitus|hay ?fever)\b|\bi'm (?P<adj>diabetic|asthmatic|coeliac|celiac|lactose intolerant|colou?r ?blind|deaf|dyslexic|epileptic|pregnant)\b"
)
def _condition(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if m["v"] and (what := phrase(m["v"], 3)) and what not in STOP:
        yield s.cand("health", f"allergic to {what}", 0.85)
    elif m["cond"] or m["adj"]:
        yield s.cand("health", m["cond"] or m["adj"], 0.8)


@statement(
    rf"\b(?:sprained|broke|fractured|twisted|tore|injured|hurt|dislocated|pulled|did) my (?:(?P<side>left|right) )?(?P<part>{BODY})\b"
)
def _injured(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("health", injury(m["side"], m["part"], s.text), 0.75)


def injury(side: str | None, part: str, text: str) -> str:
    kind = next((k for k in ("sprain", "fracture", "break", "tear") if k[:4] in text), "injury")
    kind = "fracture" if kind == "break" or "broke" in text else kind
    return f"{side + ' ' if side else ''}{part} {kind}"


@statement(
    r"\bi'm (?:a |an |now |still |fully )?(?P<v>vegetarian|vegan|pescatarian|veggie|gluten[- ]free|dairy[- ]free|teetotal|sober)\b"
)
def _diet(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if m["v"] in ("teetotal", "sober"):
        yield s.cand("drink", "alcohol", 0.8, polarity="negative")
    else:
        yield s.cand("food", m["v"].replace("veggie", "vegetarian"), 0.85)


@statement(
    r"\bi (?:don't|do not|never|can't|cannot|won't) (?:really |even )?(?P<verb>drink|eat|stand|like|do) (?P<v>.+)|\bi (?:hate|can't stand|despise) (?P<v2>.+)|\bi'm not (?:a|much of a) (?P<v3>[a-z]+) (?:drinker|person|fan|eater)"
)
def _dislike(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    what = phrase(m["v"] or m["v2"] or m["v3"], 3)
    slots = {"drink": ("drink",), "eat": ("food",)}.get(m["verb"] or "", ("food", "drink", "hobby"))
    if hit := lexicon_hit(what, slots):
        yield s.cand(
            hit[0], hit[1], 0.75 if m["verb"] in ("drink", "eat") else 0.55, polarity="negative"
        )


@statement(
    r"\bi (?:really |absolutely |just |do |mostly |only |usually )?(?:love|adore|enjoy|could eat|want to eat|always eat|always get|always order|live on|live off|crave|'m craving|'m obsessed with|drink|eat|'m addicted to|need) (?P<v>.+)"
)
def _like(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    what = phrase(m["v"], 3)
    if hit := lexicon_hit(what):
        yield s.cand(hit[0], hit[1], 0.6)
    elif re.fullmatch(r"[a-z]+ing", what) and what not in STOP and not what.endswith("thing"):
        yield s.cand("hobby", what, 0.45)
    elif what and what.split()[0] not in STOP and "need" not in m[0]:
        yield s.cand("?", what, 0.35)  # labelled by the embedder, or dropped


@statement(
    r"\bi (?:play|practi[sc]e|go|do|started|took up|'ve taken up|'m into|'m getting into|'ve got into) (?P<v>.+)"
)
def _i_play(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if hit := lexicon_hit(phrase(m["v"], 3), ("hobby",)):
        yield s.cand("hobby", hit[1], 0.6)


_FAV = r"fav(?:ou?rite|e|s)?"


@statement(
    rf"\bmy (?:absolute |all[- ]time |new )?{_FAV}(?: (?P<what>[a-z]+))?(?: is| are|'s|:|=) (?P<v>.+)|(?P<v2>[a-z][\w' ]{{1,30}}?),? (?:is |are |'s )?(?:still |always |definitely )?my (?:absolute |all[- ]time )?{_FAV}(?: (?P<what2>[a-z]+))?\b"
)
def _favourite(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    what = phrase(m["v"], 4) if m["v"] else " ".join(m["v2"].split()[-3:])
    kind = m["what"] or m["what2"] or ""
    slot = {"drink": "drink", "beer": "drink", "wine": "drink", "coffee": "drink",
            "sport": "hobby", "hobby": "hobby", "activity": "hobby"}.get(kind)  # fmt: skip
    hit = lexicon_hit(what, (slot,) if slot else ("food", "drink", "hobby"))
    if kind in ("food", "meal", "dish", "restaurant", "snack", "cuisine", "place") and not hit:
        hit = ("food", what) if kind != "place" else None
    if hit and what.split() and what.split()[0] not in STOP:
        yield s.cand(hit[0], what, 0.7)
    elif what and what.split()[0] not in STOP and not slot:
        yield s.cand("?", what, 0.35)


@statement(r"\b(?:order|get|grab|make|bring|pour|buy) me (?:a |an |some |another )?(?P<v>[a-z ]+)")
def _order_me(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if hit := lexicon_hit(phrase(m["v"], 3), ("drink", "food")):
        yield s.cand(hit[0], hit[1], 0.45)


@statement(
    r"\bmy (?:birthday|bday|b-day)(?: is|'s)?(?: on)? (?P<v>.+)|\bi was born on (?P<v2>.+)|\b(?P<today>it's|today is|today's) my (?:birthday|bday)\b(?! (?:on|next|in|tomorrow))"
)
def _birthday(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if m["today"]:
        day = datetime.fromisoformat(day_of(s.evidence.ts))
        yield s.cand("birthday", f"{day.day} {day:%B}", 0.7)
    elif when := birthday_text(m["v"] or m["v2"]):
        yield s.cand("birthday", when, 0.85)


@statement(
    r"\bi'm (?P<n>\d{1,2})(?: years old| yrs old| yo)?(?=\s*(?:$|[,.!?]|and\b|but\b|lol|haha|x\b|now\b|today\b|this year\b))|\bi (?:just )?(?:turned|turn|'m turning) (?P<n2>\d{1,2})\b(?! ?(?:mins|minutes|hours|%|:|am\b|pm\b))"
)
def _age(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if 12 <= (age := int(m["n"] or m["n2"])) <= 99:
        yield s.cand("age", str(age), 0.8, closes=True)


@statement(rf"\b(?:every |on )?(?P<d>{WEEKDAYS}(?:(?:,| and| &) (?:{WEEKDAYS}))*)\b")
def _weekdays(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if not m["d"].endswith("s") or "every" in m[0]:
        return  # "on tuesday" is a date, "on tuesdays" a routine; "every" is `_every`'s
    hit = lexicon_hit(s.text, ("hobby",))
    yield s.cand("routine", m["d"] + (f" ({hit[1]})" if hit else ""), 0.5)


@statement(
    r"\bi (?P<v>(?:[a-z']+ ){1,4})(?:every (?P<when>morning|evening|night|day|week|weekend|month|\w+day)|(?P<often>once|twice|three times) a week)\b"
)
def _every(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("routine", m[0].removeprefix("i ").strip(), 0.55)


@statement(
    r"\b(?:flying|fly|flights?|heading|off|travelling|traveling|going|trip|holiday|vacation|honeymoon|week|weekend) (?:out |over |away |back )?(?P<prep>to|in) (?P<v>[a-z]+(?: [a-z]+)?)"
)
def _trip(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    word = m[0].split()[0]
    dates = date_range(s.text, s.evidence.ts)
    when = dates[0] if dates else month_in(s.text, s.evidence.ts)
    if word in ("heading", "off", "going", "week", "weekend") and not when:
        return  # "going to X" is a trip when it has a date
    if m["prep"] == "in" and word not in ("holiday", "vacation", "week", "weekend", "honeymoon"):
        return
    if (where := place(m["v"])) and (
        s.text.startswith(("i", "we", "flying", "off", "going"))
        or " i " in f" {s.text} "
        or "we" in s.text.split()
    ):
        yield s.cand("trip", where, 0.65, valid_from=when, valid_to=dates[1] if dates else None)


@statement(
    r"\b(?:\d+|a few|two|three|four|five|six|seven|ten) (?:nights|days|weeks) in (?P<v>[a-z]+)"
)
def _nights_in(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if where := place(m["v"]):
        yield s.cand("trip", where, 0.5)


@statement(
    rf"\bi'm (?:going to|gonna|planning to|planning on|hoping to|thinking of|thinking about) (?P<v>[a-z' ]+?) (?P<when>next (?:week|month|year|summer|spring|autumn|fall|winter|weekend)|this (?:summer|year|autumn|winter|spring)|in {MONTH_NAME})\b"
)
def _plan(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("plan", f"{m['v']} {m['when']}", 0.5, valid_from=month_in(s.text, s.evidence.ts))


@statement(
    r"\bi (?:study|'m studying|studied|did (?:a |my )?degree in|graduated in|'m doing (?:a |my )?(?:degree|masters|phd|course) in) (?P<v>.+)"
)
def _studies(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if (what := phrase(m["v"], 3)) and what.split()[0] not in STOP:
        yield s.cand("education", what, 0.7)


def statements(text: str, ts: str = "2000-01-01T00:00") -> list[Candidate]:
    """The facts one message states about its writer, by the single-message rules alone (no
    history, no names known): what grounded training checks a reply's prompt against."""
    said = Said(norm(text), Evidence("", ts, "", text), set(), Counter())
    return [
        c
        for pattern, rule in STATEMENTS
        for m in pattern.finditer(said.text)
        for c in rule(m, said)
    ]
