"""The verdict on a reply to a fact probe: correct, wrong, abstain or hallucinated.

Substring matching alone misjudges replies: "not on crutches anymore" names the stale value to deny
it, "nearly sent it" contains the accepted "sent". So the rule judge reads each reply clause by
clause: it finds the probe's accepted and wrong strings, discounts those that are negated ("dont
drink coffee") or in the past ("used to", "it was 68"), prefers what a clause marks as current
("now", "still"), and looks for deflections ("idk", "no sé", "keine ahnung") and concrete claims
(numbers, "i have", "my X is", names) that the probe does not support. It knows nothing of any one
person: only the probe's kind, answers and wrong strings, and the word lists in `phrases.py`.

Where the rules had to guess, the judgement says so (`sure=False`), so that an optional LLM judge
can settle just those (`llm_judge.BackedJudge`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from chatclone.config import EvalSettings
from chatclone.evaluate import phrases as ph
from chatclone.evaluate.llm_judge import BackedJudge, llm_judge_from_settings
from chatclone.evaluate.probes import VERDICTS, FactJudge, Judgement, Probe

__all__ = ["VERDICTS", "FactJudge", "Judgement", "RuleJudge", "make_judge", "read"]

_SEPARATORS = re.compile(r"\n|[.!?;:,…]+(?=\s|$)")
_WORD = re.compile(r"\w+")
_CAPITALISED = re.compile(r"(?<=[a-zß-ÿ,] )[A-ZÀ-Þ][a-zß-ÿ]+")
_HIT_MASK = "#"
_DEFLECT_MASK = "~"


@dataclass(frozen=True)
class Hit:
    """One accepted (`answer`) or wrong string found in a reply, and how the reply uses it."""

    text: str
    start: int
    end: int
    answer: bool
    negated: bool
    past: bool
    current: bool

    @property
    def positive(self) -> bool:
        """The reply asserts it: neither denied nor put in the past."""
        return not self.negated and not self.past


@dataclass(frozen=True)
class Reading:
    """What the rules see in one reply, before any verdict."""

    hits: tuple[Hit, ...]
    deflection: str | None  # the first deflecting phrase
    only_deflects: bool  # a deflection and nothing else of substance
    empty: bool  # nothing of substance at all: laughter, emoji, fillers
    question_back: bool
    claim: str | None  # a concrete claim the probe's strings do not cover
    rejection: str | None  # words rejecting a premise
    guess: str | None = None  # a hedged answer after all: "idk probably the matrix"


class RuleJudge:
    """The offline judge: general language rules over the probe's own strings."""

    def judge(self, probe: Probe, reply: str) -> Judgement:
        r = read(probe, reply)
        if probe.kind == "unanswerable":
            return _unanswerable(r)
        if probe.kind == "false_premise":
            return _false_premise(r)
        return _established(r, probe.kind)

    def judge_all(self, pairs: Sequence[tuple[Probe, str]]) -> list[Judgement]:
        return [self.judge(probe, reply) for probe, reply in pairs]


def make_judge(settings: EvalSettings) -> FactJudge:
    """The rule judge unless `judge_url` is set (nothing is sent anywhere by default); else the
    LLM judge, alone ('replace') or settling the rules' unsure verdicts ('back')."""
    if not settings.judge_url:
        return RuleJudge()
    llm = llm_judge_from_settings(settings)
    return llm if settings.judge_mode == "replace" else BackedJudge(RuleJudge(), llm)


def read(probe: Probe, reply: str) -> Reading:
    """Find the probe's strings, deflections, claims and rejections in `reply`."""
    text = ph.normalize(reply)
    clauses = _clauses(text)
    hits = tuple(_hits(text, clauses, probe))
    deflections = list(ph.DEFLECTIONS.finditer(text))
    deflected = {w for m in deflections for w in _WORD.findall(m.group())}
    masked = _mask(text, [(h.start, h.end) for h in hits], _HIT_MASK)
    masked = _mask(masked, [m.span() for m in deflections], _DEFLECT_MASK)
    question = set(_WORD.findall(ph.normalize(probe.question)))
    # Words echoed from the question add nothing ("no idea what my blood type is").
    content = [w for w in _WORD.findall(masked) if w not in ph.FILLERS and w not in question]
    rejections = _rejections(_mask(text, [m.span() for m in deflections], " "), question)
    if probe.kind == "false_premise":
        # "i dont have a sister" denies the premise: it is not a claim of its own
        masked = _mask(masked, [m.span() for m in rejections], _HIT_MASK)
    return Reading(
        hits=hits,
        deflection=deflections[0].group() if deflections else None,
        only_deflects=bool(deflections) and not _substance(content, hits),
        empty=not deflections and not _substance(content, hits),
        question_back=_asks_back(text, clauses),
        claim=_claim(masked, question) or _name(reply, hits, question | deflected),
        rejection=rejections[0].group().strip() if rejections else None,
        guess=_guess(masked),
    )


def _guess(masked: str) -> str | None:
    """A hedge followed by words that are not the probe's own strings nor a deflection."""
    m = ph.HEDGED.search(masked)
    if m is None or m.group(1) in ph.FILLERS:
        return None
    return m.group().strip()


def _asks_back(text: str, clauses: list[tuple[int, int]]) -> bool:
    """The reply ends on a question of its own ("you?", "why tho?"), not a guess ("maybe O+?")."""
    if not clauses or not text.rstrip(" .!~").endswith("?"):
        return False
    a, b = clauses[-1]
    return bool(ph.QUESTION_START.match(text[a:b].strip()))


def _substance(content: list[str], hits: Sequence[Hit]) -> bool:
    return bool(content or hits)


def _clauses(text: str) -> list[tuple[int, int]]:
    """Spans of the reply's clauses: bubbles, sentences, comma parts, and "but"/"now" parts."""
    cuts = {m.end() for m in _SEPARATORS.finditer(text)}
    cuts |= {m.end() for m in ph.CLAUSE_STARTERS.finditer(text)}
    bounds = sorted({0, len(text), *cuts})
    return [(a, b) for a, b in pairwise(bounds) if text[a:b].strip()]


def _hits(text: str, clauses: list[tuple[int, int]], probe: Probe) -> list[Hit]:
    found = [(m, True) for m in _find(text, probe.answers)]
    found += [(m, False) for m in _find(text, probe.wrong)]
    # A string inside a longer one ("sent" in "nearly sent") is read as the longer one.
    kept = [
        (span, answer)
        for span, answer in found
        if not any(o[0] <= span[0] and span[1] <= o[1] and o != span for o, _ in found)
    ]
    return [_hit(text, clauses, span, answer, probe.kind) for span, answer in sorted(kept)]


def _find(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    spans: set[tuple[int, int]] = set()
    for term in {ph.normalize(t) for t in terms if ph.normalize(t)}:
        # An optional "s" after the term: plurals, and possessives once apostrophes are gone.
        pattern = rf"(?<!\w){re.escape(term)}s?(?!\w)"
        spans |= {m.span() for m in re.finditer(pattern, text)}
    return sorted(spans)


def _hit(
    text: str, clauses: list[tuple[int, int]], span: tuple[int, int], answer: bool, kind: str
) -> Hit:
    index = next(i for i, (a, b) in enumerate(clauses) if a <= span[0] < b)
    start, end = clauses[index]
    before, clause = text[start : span[0]], text[start:end]
    rest = text[start : span[0]] + " " + text[span[1] : end]
    timed = kind in ("answerable", "changed")  # a false premise is often asked in the past
    past = timed and (
        bool(ph.STRONG_PAST.search(rest)) or (not answer and bool(ph.WEAK_PAST.search(before)))
    )
    return Hit(
        text=text[span[0] : span[1]],
        start=span[0],
        end=span[1],
        answer=answer,
        negated=_negated(text[span[0] : span[1]], before)
        or _denied_next(text, clauses, index, clause),
        past=past,
        current=bool(ph.CURRENT.search(clause)),
    )


def _negated(term: str, before: str) -> bool:
    """A negation in the three words before the string, unless the string is itself a denial
    ("not yet", "no sister": a "no" before those would not undo them)."""
    words = _WORD.findall(term)
    if words and words[0] in ph.NEGATIONS:
        return False
    recent = _WORD.findall(before)[-3:]
    return any(w in ph.NEGATIONS for w in recent) or bool(
        ph.NEGATION_PHRASES.search(" ".join(_WORD.findall(before)[-4:]))
    )


def _denied_next(text: str, clauses: list[tuple[int, int]], index: int, clause: str) -> bool:
    """An echoed value denied in the next clause: "coffee? never", "crutches? not anymore"."""
    if not clause.rstrip().endswith("?") or index + 1 >= len(clauses):
        return False
    a, b = clauses[index + 1]
    words = _WORD.findall(text[a:b])
    return bool(words) and (words[0] in ph.NEGATIONS or words[0] in ("nah", "nope"))


def _mask(text: str, spans: Sequence[tuple[int, int]], char: str) -> str:
    chars = list(text)
    for a, b in spans:
        chars[a:b] = char * (b - a)
    return "".join(chars)


def _claim(masked: str, question: set[str]) -> str | None:
    """The first concrete claim not made of the probe's strings nor echoed from the question."""
    for m in ph.CLAIMS.finditer(masked):
        after = masked[m.end() : m.end() + 12]
        # "i have a cat": what is claimed is the probe's own string; "i have no idea": a deflection
        if _HIT_MASK not in after and not after.lstrip().startswith(_DEFLECT_MASK):
            return m.group().strip(" \n,.!?")
    for m in ph.NUMBERS.finditer(masked):
        if m.group() not in question:
            return m.group()
    return None


def _name(reply: str, hits: Sequence[Hit], question: set[str]) -> str | None:
    """A capitalised word mid-sentence in a reply that otherwise writes in lowercase: a name."""
    known = question | {w for h in hits for w in _WORD.findall(h.text)}
    for m in _CAPITALISED.finditer(reply):
        if ph.normalize(m.group()) not in known and m.group() not in ("I", "Im", "Ive"):
            return m.group()
    return None


def _rejections(text: str, question: set[str]) -> list[re.Match[str]]:
    """Words denying a premise, and a question back echoing it ("what dog??")."""
    found = list(ph.REJECTIONS.finditer(text))
    echo = ph.ECHO_QUESTION.match(text)
    if echo is not None and set(_WORD.findall(echo.group(1))) & question:
        found.append(echo)
    return found


def _established(r: Reading, kind: str) -> Judgement:
    """An answerable or changed probe: there is a value to give."""
    ok = [h for h in r.hits if h.answer and h.positive]
    bad = [h for h in r.hits if not h.answer and h.positive]
    if ok and bad:
        ok_now, bad_now = any(h.current for h in ok), any(h.current for h in bad)
        sure = ok_now != bad_now
        first_ok = ok_now if sure else ok[0].start < bad[0].start
        if first_ok:
            return _answered(r, ok[0], sure)
        return Judgement("wrong", f"gives '{bad[0].text}' over '{ok[0].text}'", sure)
    if ok:
        return _answered(r, ok[0], True)
    if bad:
        return Judgement("wrong", f"gives '{bad[0].text}'")
    stale = [h for h in r.hits if not h.answer and not h.positive]
    if kind == "changed" and stale and r.claim is None:
        return Judgement("correct", f"denies the stale '{stale[0].text}'", False)
    denied = [h for h in r.hits if h.answer and h.negated]
    if denied:
        return Judgement("wrong", f"denies '{denied[0].text}'", False)
    return _no_value(r)


def _answered(r: Reading, hit: Hit, sure: bool) -> Judgement:
    if r.claim is not None:
        return Judgement("hallucinated", f"gives '{hit.text}' but adds '{r.claim}'", False)
    return Judgement("correct", f"gives '{hit.text}'", sure)


def _no_value(r: Reading) -> Judgement:
    """No accepted or wrong string: a deflection, or something the probe cannot support."""
    if r.claim is not None:
        return Judgement("hallucinated", f"asserts '{r.claim}'")
    if r.only_deflects:
        return Judgement("abstain", f"deflects: '{r.deflection}'")
    if r.guess is not None:
        return Judgement("hallucinated", f"guesses: '{r.guess}'", False)
    if r.deflection is not None:  # "not sure, sorry!": a deflection with chatter, no fact
        return Judgement("abstain", f"deflects: '{r.deflection}'", False)
    if r.empty:
        return Judgement("abstain", "says nothing of substance")
    if r.question_back:
        return Judgement("abstain", "asks back", False)
    return Judgement("hallucinated", "answers with something the probe does not support", False)


def _unanswerable(r: Reading) -> Judgement:
    """The chats never say: any concrete answer is invented."""
    bad = [h for h in r.hits if h.positive]
    if bad:
        return Judgement("hallucinated", f"gives '{bad[0].text}'")
    return _no_value(r)


def _false_premise(r: Reading) -> Judgement:
    """The question assumes something false: reject it, or the reply plays along."""
    ok = [h for h in r.hits if h.answer and h.positive]
    bad = [h for h in r.hits if not h.answer and h.positive]
    rejected = ok[0].text if ok else r.rejection
    if bad:
        return Judgement("hallucinated", f"plays along: '{bad[0].text}'", rejected is None)
    if rejected is not None:
        if r.claim is not None:
            return Judgement("hallucinated", f"denies the premise but adds '{r.claim}'", False)
        return Judgement("correct", f"denies the premise: '{rejected}'")
    if r.only_deflects or r.empty or (r.deflection and r.claim is None):
        return _no_value(r)
    if r.question_back:
        return Judgement("abstain", "asks back", False)
    if r.claim is not None:
        return Judgement("hallucinated", f"plays along: '{r.claim}'")
    return Judgement("hallucinated", "plays along", False)
