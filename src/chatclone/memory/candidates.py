"""What a fact extractor proposes: a `Candidate` fact with the `Evidence` (messages) it rests
on, `fact_key` (when two facts are the same) and `check_slot`. Shared by the pattern rules
(`statements.py`, `extract.py`), the LLM extractor and the fact store."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chatclone.errors import ChatcloneError
from chatclone.memory.slots import SLOT_WORDS, SLOTS


@dataclass(frozen=True)
class Evidence:
    """One message a fact rests on; `context` is what was asked just before (may be '')."""

    chat: str
    ts: str
    sender: str
    text: str
    context: str = ""

    def to_json(self) -> dict[str, str]:
        data = {"chat": self.chat, "ts": self.ts, "sender": self.sender, "text": self.text}
        return data | ({"context": self.context} if self.context else {})

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.chat, self.ts, self.text)


@dataclass
class Candidate:
    """A fact an extractor proposes; `closes`: a statement of a new state ("moved to X") that
    ends the slot's older value, where a passing hint ("back in X by 7") does not."""

    slot: str
    value: str
    polarity: str = "positive"
    confidence: float = 0.5
    evidence: list[Evidence] = field(default_factory=list)
    valid_from: str | None = None
    valid_to: str | None = None
    closes: bool = False
    origin: str = "extracted"
    explicit_from: bool = False  # valid_from said in words ("since 2022"), not the message date
    wish: bool = False  # a birthday read from thanks for birthday wishes

    @property
    def key(self) -> tuple[str, str, str]:
        return fact_key(self.slot, self.value, self.polarity)


def fact_key(slot: str, value: str, polarity: str) -> tuple[str, str, str]:
    """What makes two facts the same: slot, value without case, articles or spacing, polarity."""
    words = re.sub(r"[^\w&' ]+", " ", re.sub(r"\(.*?\)", "", value.casefold())).split()
    while words and words[0] in {"a", "an", "the", "my"}:
        words = words[1:]
    return (slot, " ".join(words), polarity)


def check_slot(slot: str) -> str:
    if slot not in SLOT_WORDS:
        raise ChatcloneError(f"unknown slot '{slot}': use one of {', '.join(SLOTS)}")
    return slot
