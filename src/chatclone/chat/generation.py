"""What every generator implements, and the settings of one reply: the small contract between the
engine (`engine.py`) and the backends (`local.py`, `openai_chat.py`, and test fakes).

Generators register by backend name in the registry (`chatclone.chat`), the way parsers do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from chatclone.errors import ChatcloneError
from chatclone.prompt import SYSTEM, USER, ChatMessage

# The dataset's default `max_context_tokens`: the history a chat keeps when nothing says more.
DEFAULT_CONTEXT_TOKENS = 1024


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 200
    temperature: float = 0.7
    """0: greedy (the same reply every time)."""
    seed: int | None = None
    """Seeds sampling for this reply only, so the same prompt gets the same reply."""
    top_p: float = 0.9
    repetition_penalty: float = 1.1
    """Local models only: small models loop ("haha haha haha…") without it."""

    def check(self) -> None:
        if self.max_new_tokens < 1:
            raise ChatcloneError("--max-new-tokens must be at least 1")
        if self.temperature < 0:
            raise ChatcloneError("--temperature must be 0 (greedy) or more")


class Generator(Protocol):
    def stream(
        self, messages: Sequence[ChatMessage], settings: GenerationSettings
    ) -> Iterator[str]:
        """The reply to `messages` (system prompt first), in pieces of text as they are made.
        Safe to call from several threads: a generator serves one reply at a time."""
        ...


@dataclass(frozen=True)
class ReplyCounts:
    """What a generator that can count tells of its last reply (the `last_counts` attribute,
    optional): the prompt's tokens as the model got them, the tokens it wrote (an end-of-turn
    token included), and whether `max_new_tokens` cut the reply short."""

    prompt_tokens: int
    completion_tokens: int
    cut: bool


@dataclass(frozen=True)
class GeneratorSpec:
    """What a generator factory needs: the model (local: the base; openai: the model id), the
    run folder of a local run, and the context budget in tokens (the dataset's
    `max_context_tokens`). `batches`: the caller generates in batches and scores with the model
    (eval), so a local run loads on transformers, not the one-reply-at-a-time native path."""

    model: str
    run_dir: Path | None = None
    context_tokens: int = DEFAULT_CONTEXT_TOKENS
    batches: bool = False


def fit_messages(
    messages: Sequence[ChatMessage], count: Callable[[list[ChatMessage]], int], budget: int
) -> list[ChatMessage]:
    """Drop the oldest exchanges (never the system prompt, never the last message) until the
    prompt's token `count` is within `budget`; the kept part still starts with a user message."""
    head = list(messages[:1]) if messages and messages[0]["role"] == SYSTEM else []
    rest = list(messages[len(head) :])
    while len(rest) > 1 and count(head + rest) > budget:
        rest = rest[1:]
        while len(rest) > 1 and rest[0]["role"] != USER:
            rest = rest[1:]
    return head + rest
