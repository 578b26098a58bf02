"""The dataset stage's own small types: turns, sessions, samples and the drop counter."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from chatclone.prompt import ChatMessage


@dataclass
class Bubble:
    """One message's text inside a turn (people send several short texts in a row)."""

    sender: str
    text: str
    ts: str


@dataclass
class Turn:
    """Consecutive messages of one role. In a group, a user turn can hold several people's bubbles."""

    role: str  # prompt.USER or prompt.ASSISTANT
    bubbles: list[Bubble]
    train: bool = True  # assistant turns only: False keeps it as context without learning from it

    @property
    def ts(self) -> str:
        return self.bubbles[0].ts


@dataclass
class Session:
    """One conversation: a chat's messages between two gaps longer than `session_gap`."""

    chat: str
    chat_id: str
    is_group: bool
    turns: list[Turn]

    @property
    def start(self) -> str:
        return self.turns[0].ts if self.turns else ""


@dataclass
class Sample:
    """One training example: chat messages in OpenAI's shape, plus where it came from."""

    messages: list[ChatMessage]  # the system prompt first
    chat: str
    session_start: str
    tokens: int = 0


@dataclass
class Drops:
    """Every message, turn, session or sample left out, counted under a named reason."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, reason: str, n: int = 1) -> None:
        if n:
            self.counts[reason] += n

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))
