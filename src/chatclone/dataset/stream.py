"""The build's middle, a chunk of sessions at a time: chats → sessions of turns as they are read
(`SessionReader`, counting as it goes), and a chunk of sessions → samples (`make_samples`:
rendered, tokens counted in one batch, windowed, grounded with memory). `build` chains them; with
no stage that needs every session at once, chunk after chunk, so memory stays flat.

Drop reason here: `own_messages_only_session` (every turn left is mine; see `turns`), counted as
soon as the session's turns are built, so nothing after (the low-information filter and its
embedder, memory, samples) sees it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from chatclone import forked
from chatclone.config import DatasetSettings
from chatclone.dataset import tokens
from chatclone.dataset.grounding import Grounder
from chatclone.dataset.model import Drops, Sample, Session
from chatclone.dataset.samples import render_session, windowed_samples
from chatclone.dataset.sessions import split_sessions
from chatclone.dataset.turns import build_turns, own_messages_only
from chatclone.privacy.pseudonyms import Pseudonymizer
from chatclone.prompt import Identity, PromptBuilder
from chatclone.store import Store


class SessionReader:
    """Chats → sessions of turns (filters and privacy applied), counted as they go by.

    `count` and `turns` are every session read with a turn left in it, and those turns, including
    the sessions dropped whole later (`own_messages_only_session` here, `no_reply_session` when
    rendered): the report's `sessions` is what was read, `sessions_kept` what made a sample, and
    each dropped session is counted once under its reason. `sources` counts the same sessions.
    """

    def __init__(self, gap: timedelta, blocked: re.Pattern[str] | None, drops: Drops) -> None:
        self.gap, self.blocked, self.drops = gap, blocked, drops
        self.count = 0
        self.turns = 0
        self.sources: Counter[str] = Counter()

    def sessions(
        self, store: Store, me: set[str], clean: Callable[[str], str]
    ) -> Iterator[tuple[Session, str]]:
        for chat in store.chats():
            # Messages stream from the store, one chat at a time: only kept turns stay in memory.
            is_group = len(store.chat_senders(chat.id) - me) > 1
            shown = clean(chat.name)
            for part in split_sessions(store.iter_messages(chat.id), self.gap):
                turns = build_turns(part, me, self.drops, self.blocked, clean)
                if not turns:
                    continue
                self.count += 1
                self.turns += len(turns)
                self.sources[chat.source] += 1
                if own_messages_only(turns):
                    self.drops.add("own_messages_only_session")
                    continue
                yield Session(shown, chat.id, is_group, turns), chat.source


def make_samples(
    chunk: list[tuple[Session, str]],
    me: str,
    persona: str,
    ds: DatasetSettings,
    counter: tokens.TokenCounter,
    system_size: Callable[[str], int],
    grounder: Grounder | None,
    drops: Drops,
) -> list[Sample]:
    """A chunk of sessions' samples, windowed and (with memory) grounded."""
    rendered = [(s, src, render_session(s, ds.bubble_separator, drops)) for s, src in chunk]
    # One batched pass of the tokenizer over every message: far faster than a call per session.
    sizes = counter.count_each([m for _, _, messages in rendered for m in messages])
    samples: list[Sample] = []
    offset = 0
    if grounder is not None:  # most conversations fit one window: their blocks in one batch
        grounder.memory.prefetch([(m, s.start) for s, _, m in rendered if m])
    for session, source, messages in rendered:
        own, offset = sizes[offset : offset + len(messages)], offset + len(messages)
        if not messages:
            continue
        builder = PromptBuilder(Identity(me, source, persona))
        if grounder is not None:
            builder = grounder.builder(builder, session)
        samples += windowed_samples(
            session, messages, own, builder, system_size, ds.max_context_tokens, drops
        )
    if grounder is not None:
        samples = grounder.check(samples, drops)
    return samples


def session_chunks(
    read: SessionReader, store: Store, me: set[str], pseudo: Pseudonymizer, size: int
) -> Iterator[list[tuple[Session, str]]]:
    """`read.sessions` in chunks of `size`. From a big store they are read in a second process
    (`forked`: its own connection to the store) and come in chunks of `FORKED_CHUNK`, so that
    reading, turns and privacy run beside the sample making here; `read`'s counts and drops and
    `pseudo`'s mapping and counts are as if read here once the last chunk is out."""
    if not forked.available() or store.count() < FORK_MESSAGES:
        yield from chunked(read.sessions(store, me, pseudo.clean), size)
        return
    before = Counter(read.drops.counts)

    def produce(_notify: Callable[[Any], None]) -> Iterator[list[tuple[Session, str]]]:
        with Store(store.path) as own:  # never a connection opened before the fork
            yield from chunked(read.sessions(own, me, pseudo.clean), FORKED_CHUNK)

    def finish() -> tuple[Any, ...]:
        dropped = read.drops.counts - before
        return read.count, read.turns, read.sources, dropped, pseudo.mapping, pseudo.counts

    count, turns, sources, dropped, mapping, counts = yield from forked.stream(
        produce, finish, str(store.path)
    )
    read.count, read.turns, read.sources = count, turns, sources
    read.drops.counts.update(dropped)
    pseudo.mapping.clear()
    pseudo.mapping.update(mapping)
    pseudo.counts.clear()
    pseudo.counts.update(counts)


# From a store of this many messages sessions are read in a second process; below, a fork costs
# more than it saves.
FORK_MESSAGES = 20_000
FORKED_CHUNK = 100  # sessions per message from the reader: small, so that both sides start soon


def chunked(items: Iterator[tuple[Session, str]], size: int) -> Iterator[list[tuple[Session, str]]]:
    chunk: list[tuple[Session, str]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def system_sizer(counter: tokens.TokenCounter) -> Callable[[str], int]:
    """A system prompt's tokens, counted once per distinct text: every window's prompt is built
    and measured on its own, and windows of one chat mostly share theirs."""
    sizes: dict[str, int] = {}

    def size(text: str) -> int:
        if text not in sizes:
            sizes[text] = counter.count([{"role": "system", "content": text}])
        return sizes[text]

    return size
