"""The slots a fact about the person can fill, and which of them a question asks about.

One vocabulary for extraction (`extract.py`), the fact sheet (`facts.py`) and the prompt builder:
the builder asks `slots_asked(question)` to know when to say "nothing on record about X", so the
rules here err on the side of precision — a slot named wrongly makes the clone deflect a question
it could have answered. English first; a few French, German and Spanish cues.
"""

from __future__ import annotations

import re

SLOTS: tuple[str, ...] = (
    "job",
    "employer",
    "home",
    "family",
    "sibling",
    "partner",
    "pet",
    "health",
    "hobby",
    "routine",
    "plan",
    "trip",
    "food",
    "drink",
    "birthday",
    "age",
    "education",
)

# Plain words for a prompt line ("nothing on record about your brothers or sisters").
SLOT_WORDS: dict[str, str] = {
    "job": "work or job",
    "employer": "employer or company",
    "home": "where you live",
    "family": "family",
    "sibling": "brothers or sisters",
    "partner": "partner or dating",
    "pet": "pets",
    "health": "health or injuries",
    "hobby": "hobbies",
    "routine": "weekly routine",
    "plan": "plans",
    "trip": "trips or travel",
    "food": "food",
    "drink": "drinks",
    "birthday": "birthday",
    "age": "age",
    "education": "studies or school",
}

# One value at a time: a newer fact closes the older one ("moved to X" ends "lives in Y").
# What the person's review has made of a fact (`chatclone facts confirm|reject`).
STATUSES = ("candidate", "confirmed", "rejected")
SINGLE_VALUED: frozenset[str] = frozenset({"home", "job", "employer", "partner", "age"})

_YOU = r"(?:you|your|u|ur|you're|youre|yours)"
# fmt: off
_RULES: tuple[tuple[str, str], ...] = (
    ("job", r"\b(?:do|does) (?:you|u) do (?:for (?:work|a living|money)|now)\b|\b(?:your|ur) (?:job|work|career|boss|profession)\b|\bwhat do (?:you|u) do\b|\bwhere do (?:you|u) work\b|\b(?:you|u) (?:still )?work(?:ing)? (?:as|in|at)\b|\bmétier\b|\bberuf\b|\btrabajo\b|\btravail\b"),
    ("employer", r"\b(?:which|what) (?:company|firm)\b|\bwhere do (?:you|u) work\b|\bwho do (?:you|u) work for\b|\b(?:your|ur) (?:company|employer|startup|office)\b"),
    ("home", r"\bwhere do (?:you|u) live\b|\bwhere (?:are|r) (?:you|u) (?:from|based|living)\b|\b(?:your|ur) (?:flat|apartment|house|place|home|neighbou?rhood|address)\b|\bdo (?:you|u) live\b|\b(?:you|u) (?:still )?live\b|\bwhere'?s home\b|\bwohnst du\b|\boù habites\b|\bdónde vives\b"),
    ("family", r"\b(?:your|ur) (?:mum|mom|dad|parents?|family|folks|mother|father|nan|nana|gran|grandma|grandpa|grandparents?|aunt|uncle|cousins?)\b|\bfamille\b|\bfamilie\b|\bfamilia\b"),
    ("sibling", r"\b(?:brothers?|sisters?|siblings?|bro|sis)\b|\bonly child\b|\bfrères?\b|\bsœurs?\b|\bgeschwister\b|\bbruder\b|\bschwester\b|\bhermanos?\b|\bhermanas?\b"),
    ("partner", r"\b(?:boyfriend|girlfriend|bf|gf|partner|husband|wife|fianc[ée]e?|spouse|married|single|dating|seeing (?:any|some)one|relationship)\b|\bcopain\b|\bcopine\b|\bfreund(?:in)?\b|\bnovi[oa]\b"),
    ("pet", r"\b(?:pets?|cats?|dogs?|kittens?|pupp(?:y|ies)|rabbits?|hamsters?|fish|parrots?)\b|\bchat\b(?= ?\?)|\bhund\b|\bkatze\b|\bperro\b|\bgato\b"),
    ("health", r"\b(?:health|injur(?:y|ed|ies)|hurt|ill|sick|allerg(?:y|ic|ies)|ankle|knee|wrist|back pain|doctor|physio|hospital|recovering|recovery|feeling better)\b|\bhow(?:'s| is) (?:the|your|ur) (?:ankle|knee|wrist|back|leg|arm)\b"),
    ("hobby", r"\b(?:hobb(?:y|ies)|free time|spare time|for fun|weekends?)\b|\bdo (?:you|u) (?:still )?(?:climb|play|run|swim|paint|cook|dance|sing)\b|\bhow(?:'s| is| was) (?:climbing|running|football|the gym|yoga|training)\b|\bpasse-temps\b|\bhobbys?\b|\bpasatiempos?\b"),
    ("routine", r"\b(?:routine|every (?:day|morning|evening|week|weekend)|usually|on (?:mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|sundays)|how often|which days)\b"),
    ("plan", r"\b(?:plans?|planning|going to do|up to (?:this|next)|this weekend|next (?:week|month|year))\b"),
    ("trip", r"\b(?:trip|travel(?:l?ing)?|holiday|vacation|flights?|flying|abroad|going away|getaway)\b|\bwhere are (?:you|u) going\b|\bvoyage\b|\burlaub\b|\bviaje\b|\bvacaciones\b"),
    ("food", r"\b(?:food|eat|eating|hungry|dinner|lunch|breakfast|cook(?:ing)?|meal|dish|restaurant|vegetarian|vegan|favou?rite (?:food|meal|dish|restaurant))\b|\bcomida\b|\bessen\b|\bmanger\b"),
    ("drink", r"\b(?:drinks?|drinking|coffee|tea|beer|wine|alcohol|booze|cocktails?|sober)\b|\bcafé\b|\bkaffee\b|\bbière\b"),
    ("birthday", r"\b(?:birthday|bday|b-day|born)\b|\banniversaire\b|\bgeburtstag\b|\bcumpleaños\b"),
    ("age", r"\bhow old\b|\b(?:your|ur) age\b|\bturning \d|\bquel âge\b|\bwie alt\b|\bcuántos años\b"),
    ("education", r"\b(?:uni|university|college|school|degree|studying|study|course|graduated?)\b"),
)
# fmt: on
_COMPILED = tuple((slot, re.compile(pattern)) for slot, pattern in _RULES)
_ABOUT_YOU = re.compile(
    rf"\b{_YOU}\b|\bdu\b|\btu\b|\bvous\b|\bt'|\bdein\w*|\bton\b|\bta\b|\btes\b|\?|"
    r"^(?:how|what|where|when|which|who|do|does|did|are|is|have|has)\b"
)


def slots_asked(question: str) -> list[str]:
    """The slots a question to the person asks about, in `SLOTS` order; [] for small talk.

    Only questions count: the text must address the person ("you", "your", "u"…) or ask
    ("how's climbing?"), so "my brother is annoying" names no slot, and "do you have a
    brother?" names `sibling`."""
    text = question.casefold().replace("’", "'")
    if not _ABOUT_YOU.search(text):
        return []
    found = {slot for slot, rule in _COMPILED if rule.search(text)}
    return [slot for slot in SLOTS if slot in found]
