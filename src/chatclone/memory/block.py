"""The memory block: what the clone is reminded of in every prompt, built one way for all.

`build`, `chat`, the server and `eval` all put the same block into the system prompt (through
`prompt.PromptBuilder`, which asks its `MemorySource` for it), so a clone is trained on exactly the
reminders it is later given. A block holds, within a token budget:

1. the pinned profile: facts the person confirmed (`persona.md` is already in the prompt);
2. the facts on record that the conversation so far touches (its slots first, then the closest);
3. an explicit "Nothing on record about …" line for each slot the conversation asks about that has
   no fact and that `persona.md` does not cover either, so that the clone deflects instead of
   inventing a brother;
4. past messages of the person that retrieval finds for the conversation, dated, with their chat.

`before` makes the block the one the clone would have seen at that time: only facts whose evidence
is older and only messages said before it (a training sample's own conversation starts at
`before`, so it never sees itself or anything after). Every text passes through `clean`, the
dataset's pseudonymiser, so names and placeholders read exactly as the training data has them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chatclone.config import MemorySettings
from chatclone.memory.slots import SLOT_WORDS, slots_asked
from chatclone.prompt import OPENER, USER, ChatMessage, Identity

# The heading that starts the block inside a system prompt: `strip_memory` cuts there.
HEADING = "What you remember (from your own chats; use it, and never make up facts about yourself):"
NOTHING = "Nothing on record about"
CHARS_PER_TOKEN = 4  # for the budget: the block's real token counts are in report.json
QUERY_TURNS = 3  # the user messages a block is retrieved for: the conversation so far
QUERY_CHARS = 600
CONTEXT_CHARS = 80  # of what a remembered message answered
CACHED_BLOCKS = 1024


class FactLike(Protocol):
    @property
    def slot(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def polarity(self) -> str: ...
    @property
    def status(self) -> str: ...

    def line(self) -> str: ...


class Recaller(Protocol):
    """Past messages for a query (`memory.recall.recall` bound to an index)."""

    def __call__(self, query: str, k: int, before: str | None) -> Sequence[Any]: ...


FactsAt = Callable[[str | None], Sequence[FactLike]]


@dataclass
class Memory:
    """What blocks are made from, opened once: retrieval, the facts on record at a time, the
    settings, the dataset's cleaner, the slots `persona.md` already covers, and an optional
    embedder to rank facts by closeness to the conversation."""

    recaller: Recaller | None
    facts_at: FactsAt
    settings: MemorySettings = field(default_factory=MemorySettings)
    clean: Callable[[str], str] = str
    persona_slots: frozenset[str] = frozenset()
    rank_facts: Callable[[str, Sequence[FactLike]], Sequence[FactLike]] | None = None
    # Fetches what many blocks will need in one batch: (queries, befores, k).
    warm: Callable[[list[str], list[str | None], int], None] | None = None
    # The dataset's blocked words (`[dataset] blocked_words`): a past message holding one, or
    # answering one, is never recalled, as its turn never reaches training.
    blocked: re.Pattern[str] | None = None
    _made: dict[tuple[str, str | None], str] = field(default_factory=dict, repr=False)

    def prefetch(self, conversations: Sequence[tuple[Sequence[ChatMessage], str | None]]) -> None:
        """Make ready, in one batch, the blocks of these conversations (as of their times): a
        build asks for thousands. Blocks asked for later that were not foreseen are made one by
        one, as without it."""
        if self.warm is None:
            return
        pairs = dict.fromkeys((conversation_query(c), before) for c, before in conversations)
        todo = [(q, b) for q, b in pairs if q and (q, b) not in self._made]
        if todo:
            self.warm([q for q, _ in todo], [b for _, b in todo], self.settings.recall_k)

    def block(self, conversation: Sequence[ChatMessage], before: str | None = None) -> str:
        """The block for a conversation so far (its last user messages are the query). A block
        is made once per query and time: a training window's prompt is built more than once."""
        query = conversation_query(conversation)
        key = (query, before)
        if key not in self._made:
            if len(self._made) >= CACHED_BLOCKS:
                self._made.clear()
            self._made[key] = self._block(query, before)
        return self._made[key]

    def _block(self, query: str, before: str | None) -> str:
        facts = [f for f in self.facts_at(before) if f.status != "rejected"]
        budget = self.settings.block_tokens * CHARS_PER_TOKEN
        lines: list[str] = []
        used = 0

        def add(line: str) -> bool:
            nonlocal used
            if used + len(line) + 1 > budget:
                return False
            lines.append(line)
            used += len(line) + 1
            return True

        pinned = [f for f in facts if f.status == "confirmed"]
        asked = slots_asked(query) if query else []
        touched = [f for f in facts if f.slot in asked and f not in pinned]
        others = [f for f in facts if f not in pinned and f not in touched]
        if query and others and self.rank_facts is not None:
            others = list(self.rank_facts(query, others))
        chosen = touched + others[: max(0, self.settings.facts_k - len(touched))]
        fact_lines = [f"- {self.clean(f.line())}" for f in pinned + chosen]
        known = {f.slot for f in facts} | self.persona_slots
        missing = [s for s in asked if s not in known]
        hits = (
            self.recaller(query, self.settings.recall_k, before)
            if query and self.recaller is not None and self.settings.recall_k
            else []
        )
        if self.blocked is not None:
            blocked = self.blocked
            hits = [h for h in hits if not blocked.search(f"{h.text}\n{h.context}")]
        # Most important first, so the budget cuts the least relevant: pinned and asked-about
        # facts, what is not on record, then the rest of the facts, then past messages.
        if fact_lines:
            add("Facts:")
            for line in fact_lines:
                add(line)
        for slot in missing:
            add(f"{NOTHING} your {SLOT_WORDS.get(slot, slot)}: don't invent any; deflect.")
        if hits:
            add("Past messages of yours:")
            for hit in hits:
                add(f"- {self._message(hit)}")
        if lines and lines[-1].endswith(":"):  # a heading whose items did not fit
            lines.pop()
        return "\n".join([HEADING, *lines]) if lines else ""

    def _message(self, hit: Any) -> str:
        text = " / ".join(part for part in str(hit.text).splitlines() if part.strip())
        line = f"{str(hit.ts)[:10]}, {self.clean(str(hit.chat))}: {self.clean(text)}"
        context = " ".join(str(hit.context).split())
        if context:
            tail = context[-CONTEXT_CHARS:]
            if len(tail) < len(context) and " " in tail:  # start at a word
                tail = "…" + tail.split(" ", 1)[1]
            line += f' (answering "{self.clean(tail)}")'
        return line


@dataclass
class MemoryBlock:
    """A `prompt.MemorySource`: the block for each conversation, as of `before` (None: now)."""

    memory: Memory
    before: str | None = None

    def recall(self, identity: Identity, conversation: Sequence[ChatMessage]) -> str:
        return self.memory.block(conversation, self.before)


def conversation_query(conversation: Sequence[ChatMessage]) -> str:
    """What a block is retrieved for: the last few messages others sent (the question being
    answered and what led to it), newest last; '' when the clone speaks first."""
    said = [
        str(m["content"])
        for m in conversation
        if m["role"] == USER and str(m["content"]).strip() not in ("", OPENER)
    ]
    return "\n".join(said[-QUERY_TURNS:])[-QUERY_CHARS:]


def strip_memory(system: str) -> str:
    """A system prompt without its memory block (what a system "without memory" is given)."""
    head, _, _ = system.partition(f"\n\n{HEADING}")
    return head
