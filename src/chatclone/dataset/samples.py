"""Turns → training samples: windows bounded in tokens, the opener rule, de-duplication, the split.

A session I open (my turn comes first) starts with a user message `[new conversation]` (`OPENER`):
the clone learns how this person starts a conversation, and a chat can send the same marker to have
the clone open one. A session is kept only if I answer someone in it at least once.

A session longer than `max_context_tokens` becomes windows that never cut a turn: each window starts
with a user turn and ends with an assistant turn, and the next window starts with the last exchange
of the previous one, so no reply loses its context. Every assistant turn in a window is trained on,
except low-information replies (weight 0: context only).

Drop reasons here: `no_reply_session` (others wrote, I never answered them), `trailing_user_turn`
(nobody answered it), `too_long_exchange` (one question and answer longer than the limit),
`low_information_sample` (no reply left to learn from), `duplicate_sample`,
`near_duplicate_sample`. A session of nothing but my own messages never gets here: the build drops
it as soon as its turns are built (`own_messages_only_session`, see `turns` and `stream`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable

from chatclone.dataset.model import Drops, Sample, Session, Turn
from chatclone.prompt import ASSISTANT, OPENER, USER, ChatContext, ChatMessage, PromptBuilder


def render_turn(turn: Turn, is_group: bool, separator: str) -> ChatMessage:
    """A turn as one chat message; in a group, user bubbles are prefixed with their sender."""
    if turn.role == USER and is_group:
        content = separator.join(f"{b.sender}: {b.text}" for b in turn.bubbles)
    else:
        content = separator.join(b.text for b in turn.bubbles)
    message: ChatMessage = {"role": turn.role, "content": content}
    if turn.role == ASSISTANT:
        message["weight"] = 1 if turn.train else 0
    return message


def render_session(session: Session, separator: str, drops: Drops) -> list[ChatMessage]:
    """A session's turns as alternating chat messages, opener added; [] if it is not kept."""
    turns = session.turns
    if not any(t.role == ASSISTANT and i > 0 for i, t in enumerate(turns)):
        drops.add("no_reply_session")
        return []
    messages = [render_turn(t, session.is_group, separator) for t in turns]
    if messages[0]["role"] == ASSISTANT:
        messages.insert(0, {"role": USER, "content": OPENER})
    if messages[-1]["role"] == USER:
        messages.pop()
        drops.add("trailing_user_turn")
    return messages


def windowed_samples(
    session: Session,
    messages: list[ChatMessage],
    sizes: list[int],
    builder: PromptBuilder,
    system_size: Callable[[str], int],
    max_tokens: int,
    drops: Drops,
) -> list[Sample]:
    """Windows over rendered messages whose token `sizes` are known (see `TokenCounter.count_each`);
    a sample's size is its own system prompt's (`system_size`) plus its messages' (chat templates
    render them one after another).

    Windows are cut with the budget left by the session's system prompt; the prompt of each window
    is then built for that window (a memory block may make it longer) and measured on its own, and
    a window that no longer fits loses exchanges from its end (counted as `too_long_exchange` once
    nothing fits)."""
    context = ChatContext(session.chat, session.is_group)
    budget = max_tokens - system_size(builder.system(context))
    samples = []
    for start, end in _windows(sizes, budget, drops):
        while True:
            prompt = builder.build(context, messages[start:end])
            size = system_size(prompt[0]["content"]) + sum(sizes[start:end])
            if size <= max_tokens or end - start <= 2:
                break
            end -= 2
        if size > max_tokens:
            drops.add("too_long_exchange")
            continue
        if not any(m.get("weight") == 1 for m in prompt):
            drops.add("low_information_sample")
            continue
        samples.append(Sample(prompt, session.chat, session.start, size))
    return samples


def _windows(sizes: list[int], budget: int, drops: Drops) -> list[tuple[int, int]]:
    """(start, end) of each window over alternating user/assistant messages."""
    windows: list[tuple[int, int]] = []
    start, n = 0, len(sizes)
    while start < n:
        end, total = start, 0
        while end < n and total + sizes[end] <= budget:
            total += sizes[end]
            end += 1
        end -= (end - start) % 2  # end on an assistant message
        if end - start < 2:
            drops.add("too_long_exchange")
            start += 2
            continue
        windows.append((start, end))
        if end >= n:
            break
        start = max(end - 2, start + 2)  # overlap by the last exchange
    return windows


def dedupe(samples: list[Sample], drops: Drops) -> list[Sample]:
    """Drop exact repeats, then near-repeats (same words once case, punctuation and spacing go)."""
    return Deduper(drops).keep(samples)


class Deduper:
    """`dedupe` over samples that arrive in batches: only two small digests per sample seen are
    kept, so a build can stream its samples to disk."""

    def __init__(self, drops: Drops) -> None:
        self.drops = drops
        self.exact: set[bytes] = set()
        self.near: set[bytes] = set()

    def keep(self, samples: list[Sample]) -> list[Sample]:
        kept = []
        for s in samples:
            body = s.messages[1:]
            key = _digest(json.dumps(body, sort_keys=True, ensure_ascii=False))
            loose = _digest(" ".join(_loose(str(m["content"])) for m in body))
            if key in self.exact:
                self.drops.add("duplicate_sample")
            elif loose in self.near:
                self.drops.add("near_duplicate_sample")
            else:
                kept.append(s)
            self.exact.add(key)
            self.near.add(loose)
        return kept


_WORD = re.compile(r"\w+")


def _loose(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def chronological_split(
    samples: list[Sample], fraction: float
) -> tuple[list[Sample], list[Sample]]:
    """The most recent sessions (by start time) are the validation set; never a random split."""
    held_out = held_out_sessions({(s.session_start, s.chat) for s in samples}, fraction)
    train = [s for s in samples if (s.session_start, s.chat) not in held_out]
    valid = [s for s in samples if (s.session_start, s.chat) in held_out]
    return train, valid


def held_out_sessions(sessions: Iterable[tuple[str, str]], fraction: float) -> set[tuple[str, str]]:
    """Which sessions, as (start, chat), `chronological_split` holds out: the latest
    `fraction` of them (rounded up), none when there is only one."""
    ordered = sorted(set(sessions))
    n_valid = math.ceil(len(ordered) * fraction) if fraction > 0 and len(ordered) > 1 else 0
    return set(ordered[len(ordered) - n_valid :]) if n_valid else set()
