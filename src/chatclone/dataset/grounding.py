"""Grounded training data: samples whose personal facts are visible in their input, and samples
that teach the clone to say so when nothing is on record.

Fine-tuning on replies that state facts the prompt does not contain teaches a model to state
confident personal facts from nothing (Gekhman et al. 2024; Kang et al. 2025): the way the first
GPT-3.5 clone invented a brother. So, with `[dataset] memory` on:

- every sample's system prompt carries the memory block the clone would have seen at the start
  of its conversation (`memory.block`: only facts and messages from before it, never its own
  conversation or anything later);
- a reply that states a personal fact (`memory.statements`) that neither the block nor the
  persona supports is kept as context but not trained on (`unsupported_facts = "context"`, counted
  as `unsupported_fact_reply`), or its sample is left out (`"drop"`, `unsupported_fact_sample`);
- abstention samples (Character-LLM's "protective experiences", R-Tuning) are added to the
  training split, `abstention_share` of it (at least `MIN_ABSTENTIONS`), made only of what was
  said before the held-out conversations: a friend asks about something with nothing on record
  and the person answers with one of their own real deflecting replies ("idk", "why do u ask", in
  their language), and questions with a false premise are answered with a doubt and the person's
  own message saying what is true. Their questions are general templates, never the eval probes.

Every count goes into `report.json` under `memory`.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatclone.dataset.model import Drops, Sample, Session
from chatclone.evaluate.phrases import DEFLECTIONS, normalize
from chatclone.memory.block import HEADING, NOTHING, FactLike, Memory, MemoryBlock
from chatclone.memory.slots import slots_asked
from chatclone.prompt import ASSISTANT, USER, ChatContext, ChatMessage, PromptBuilder

# A friend's question per slot, for slots with nothing on record. Each must be recognised by
# `slots_asked` as asking about its slot (checked when used), so the block says "nothing on record".
ABSTAIN_QUESTIONS: dict[str, tuple[str, ...]] = {
    "sibling": ("do you have any brothers or sisters?", "how many siblings have you got?"),
    "pet": ("have you got any pets?", "are you a dog person or a cat person? got one?"),
    "partner": ("are you seeing anyone at the moment?", "hows your other half?"),
    "job": ("what do you do for work again?", "hows the job going?"),
    "employer": ("which company are you with these days?",),
    "home": ("where are you living now?", "whats your address again?"),
    "health": ("are you allergic to anything?", "hows your health been?"),
    "hobby": ("what do you do for fun these days?", "got any hobbies?"),
    "routine": ("whats your usual weekend like?",),
    "trip": ("going anywhere on holiday this year?",),
    "plan": ("whats the plan for next month?",),
    "food": ("whats your favourite food?",),
    "drink": ("what do you usually drink?",),
    "birthday": ("when is your birthday again?",),
    "age": ("how old are you now?",),
    "family": ("where do your parents live?",),
}
# A question that presupposes what is not so, per slot: a pattern that must find what is true in
# the slot's facts (values and evidence) or the persona (a species, a relation), then (the false
# word, the question) pairs, each used only when its word appears nowhere there.
FALSE_PREMISES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "pet": (
        r"\b(?:cat|dog|rabbit|hamster|parrot|fish|guinea pig|kitten|puppy|bird|snake|horse)s?\b",
        (("rabbit", "hows your rabbit doing?"), ("parrot", "does your parrot still talk?")),
    ),
    "sibling": (
        r"\b(?:brothers?|sisters?|bro|sis|siblings?|only child|twins?)\b",
        (("twin", "hows your twin?"), ("sister", "is your older sister still abroad?")),
    ),
    "drink": (
        r"\b(?:tea|coffee|espresso|beer|wine|water|juice|matcha)\b",
        (("espresso", "still doing double espressos every morning?"),),
    ),
    "hobby": (
        r"\w",
        (("golf", "how was golf on sunday?"), ("tennis", "did you win your tennis match?")),
    ),
    "trip": (r"\w", (("tokyo", "how was tokyo?"), ("iceland", "when do you fly to iceland?"))),
    "job": (r"\w", (("teacher", "hows the teaching going, kids behaving?"),)),
    "home": (r"\w", (("glasgow", "hows life in glasgow?"),)),
    "partner": (
        r"\b(?:single|boyfriend|girlfriend|husband|wife|partner|married|fianc\w*)\b",
        (("wife", "hows your wife?"), ("husband", "hows your husband?")),
    ),
}
# Questions about things no slot covers (and no chat is likely to hold): with nothing recalled
# for them, the clone learns to deflect there too. None is an eval probe.
OFF_RECORD_QUESTIONS = (
    "whats your star sign?",
    "what was your first phone?",
    "whats your shoe size?",
    "whats your go-to karaoke song?",
    "who was your favourite teacher growing up?",
    "whats the best concert youve been to?",
)
MIN_ABSTENTIONS = 10  # a small history still gets enough to learn from
PAIRINGS = 3  # deflections each question is paired with
DEFLECTION_CHARS = 80  # a deflection is short; longer replies that match say something else
_WORD = re.compile(r"\w{3,}")
# Words too common to show that a value is in the prompt.
_COMMON = frozenset(
    ["the", "and", "with", "for", "from", "that", "this", "you", "your", "not", "have", "has"]
)

Statements = Callable[[str], Sequence[Any]]  # a reply → the (slot, value, …) facts it states


@dataclass
class GroundingCounts:
    unsupported_fact_replies: int = 0
    unsupported_fact_samples: int = 0
    abstention_samples: int = 0
    negative_fact_samples: int = 0
    false_premise_samples: int = 0
    deflections_found: int = 0
    block_chars: list[int] = field(default_factory=list)


class Grounder:
    """Builds each session's prompts with its block, checks replies against it and writes the
    abstention samples; `counts` says what it did."""

    def __init__(
        self,
        memory: Memory,
        mode: str,
        statements: Statements,
        me: set[str] | frozenset[str] = frozenset(),
        persona: str = "",
    ) -> None:
        self.memory = memory
        self.mode = mode
        self.statements = statements
        self.me = me  # the person's sender names: only their own messages become answers
        self.persona = persona
        self.counts = GroundingCounts()

    def builder(self, builder: PromptBuilder, session: Session) -> PromptBuilder:
        return PromptBuilder(builder.identity, MemoryBlock(self.memory, before=session.start))

    def check(self, samples: list[Sample], drops: Drops) -> list[Sample]:
        """Replies stating facts their prompt does not support: context only, or the sample left
        out, per the mode."""
        kept = []
        for sample in samples:
            system = str(sample.messages[0]["content"])
            self.counts.block_chars.append(_block_chars(system))
            if self.mode == "keep":
                kept.append(sample)
                continue
            unsupported = [
                m
                for m in sample.messages[1:]
                if m["role"] == ASSISTANT
                and m.get("weight") == 1
                and not self.supported(str(m["content"]), system)
            ]
            if unsupported and self.mode == "drop":
                drops.add("unsupported_fact_sample")
                self.counts.unsupported_fact_samples += 1
                continue
            for message in unsupported:
                message["weight"] = 0
                drops.add("unsupported_fact_reply")
                self.counts.unsupported_fact_replies += 1
            if any(m.get("weight") == 1 for m in sample.messages):
                kept.append(sample)
            elif unsupported:
                drops.add("unsupported_fact_sample")
                self.counts.unsupported_fact_samples += 1
        return kept

    def supported(self, reply: str, system: str) -> bool:
        """Whether every personal fact the reply states has a word of its value (a whole word)
        in what the prompt says about the person: its persona and memory block, not the fixed
        first paragraph and not a "nothing on record" line, which denies what it names."""
        _, _, about = system.partition("\n\n")
        lines = [line for line in about.splitlines() if not line.startswith(NOTHING)]
        seen = set(_WORD.findall("\n".join(lines).casefold()))
        for statement in self.statements(reply):
            words = [w for w in _WORD.findall(str(statement.value).casefold()) if w not in _COMMON]
            if words and not any(w in seen for w in words):
                return False
        return True

    def abstentions(
        self,
        builder: PromptBuilder,
        context: ChatContext,
        replies: Sequence[str],
        wanted: int,
        size: Callable[[list[ChatMessage]], int],
        seed: int = 0,
        before: str | None = None,
    ) -> list[Sample]:
        """Up to `wanted` samples: nothing-on-record questions answered with the person's own
        deflections (`replies`: their messages), and false premises answered with a doubt and
        their own words. Everything is as of `before` (the held-out conversations' start): the
        builder's block, the facts and `replies` must be from earlier."""
        if wanted <= 0:
            return []
        rng = random.Random(seed)
        deflections = mine_deflections(replies)
        self.counts.deflections_found = len(deflections)
        facts = [f for f in self.memory.facts_at(before) if f.status != "rejected"]
        by_slot: dict[str, list[FactLike]] = {}
        for f in facts:
            by_slot.setdefault(f.slot, []).append(f)
        lowercase = _mostly_lowercase(replies)
        pairs: list[tuple[str, str, str]] = []  # (kind, question, answer)
        for slot, questions in ABSTAIN_QUESTIONS.items():
            usable = [q for q in questions if slot in slots_asked(q)]
            if slot in self.memory.persona_slots or not usable:
                continue
            negative = [f for f in by_slot.get(slot, []) if f.polarity == "negative"]
            if slot not in by_slot and deflections:
                pairs += [("abstention", q, d) for q in usable for d in _some(deflections, rng)]
            elif negative and (said := self._own(negative[0], before)):
                pairs += [("negative_fact", q, said) for q in usable[:1]]
        for slot, (category, premises) in FALSE_PREMISES.items():
            positive = [f for f in by_slot.get(slot, []) if f.polarity == "positive"]
            # What is true in the slot, all of it: a premise is false only if none of it says so.
            known = " ".join(
                [self.persona, *(f"{f.value} {_texts(f)}" for f in by_slot.get(slot, []))]
            ).casefold()
            said = next((t for f in positive if (t := self._own(f, before))), "")
            if not said or not re.search(category, known):
                continue  # what is true is unknown (a name alone says no species or relation)
            for word, question in premises:
                if not re.search(rf"\b{word}", known):
                    doubt = f"what {word}?" if lowercase else f"What {word}?"
                    pairs.append(("false_premise", question, f"{doubt}\n{said}"))
        if deflections:
            pairs += [
                ("abstention", q, d)
                for q in OFF_RECORD_QUESTIONS
                if not slots_asked(q)
                for d in _some(deflections, rng)
            ]
        rng.shuffle(pairs)
        samples = []
        for kind, question, answer in pairs[:wanted]:
            conversation: list[ChatMessage] = [
                {"role": USER, "content": question},
                {"role": ASSISTANT, "content": answer, "weight": 1},
            ]
            prompt = builder.build(context, conversation)
            samples.append(Sample(prompt, context.partner, "", size(prompt)))
            setattr(self.counts, f"{kind}_samples", getattr(self.counts, f"{kind}_samples") + 1)
        return samples

    def _own(self, fact: FactLike, before: str | None) -> str:
        """The first message of the fact's evidence the person sent (before `before`), cleaned
        as the dataset is; '' when there is none."""
        for e in getattr(fact, "evidence", ()):
            mine = not self.me or getattr(e, "sender", "") in self.me
            if mine and (before is None or str(e.ts) < before) and str(e.text).strip():
                return self.memory.clean(str(e.text).strip())
        return ""

    def summary(self, enabled: bool, facts: int, settings: dict[str, Any]) -> dict[str, Any]:
        chars = sorted(self.counts.block_chars)
        return {
            "enabled": enabled,
            "settings": settings,
            "facts": facts,
            "unsupported_fact_replies": self.counts.unsupported_fact_replies,
            "unsupported_fact_samples": self.counts.unsupported_fact_samples,
            "abstention_samples": self.counts.abstention_samples,
            "negative_fact_samples": self.counts.negative_fact_samples,
            "false_premise_samples": self.counts.false_premise_samples,
            "deflections_found": self.counts.deflections_found,
            "samples_with_block": sum(1 for c in chars if c),
            "block_chars": {
                "median": chars[len(chars) // 2] if chars else 0,
                "max": chars[-1] if chars else 0,
            },
        }


def mine_deflections(replies: Sequence[str]) -> list[str]:
    """The person's own short deflecting replies ("idk", "no idea tbh", "why do u ask"), each
    once, most used first."""
    counts = Counter(
        r.strip()
        for r in replies
        if r.strip() and len(r) <= DEFLECTION_CHARS and DEFLECTIONS.search(normalize(r))
    )
    return [text for text, _ in counts.most_common()]


def _some(deflections: list[str], rng: random.Random) -> list[str]:
    return rng.sample(deflections, min(PAIRINGS, len(deflections)))


def _texts(fact: FactLike) -> str:
    return " ".join(str(e.text) for e in getattr(fact, "evidence", ()))


def _mostly_lowercase(replies: Sequence[str]) -> bool:
    starts = [r.strip()[0] for r in replies if r.strip() and r.strip()[0].isalpha()]
    return sum(c.islower() for c in starts) * 2 >= len(starts) if starts else True


def _block_chars(system: str) -> int:
    at = system.find(HEADING)
    return len(system) - at if at >= 0 else 0
