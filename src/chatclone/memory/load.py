"""Opening a workspace's memory for prompts: the index (refreshed), the facts and the cleaner.

`open_memory` is what `build`, `chat` and `eval` call; `dataset_cleaner` gives the pseudonymiser a
dataset was built with, so a block in a chat reads exactly as the blocks the clone was trained on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import fields
from typing import Any

from chatclone import privacy
from chatclone.config import MemorySettings
from chatclone.dataset.report import BuildReport
from chatclone.dataset.turns import blocked_pattern
from chatclone.embeddings import Embedder
from chatclone.errors import ChatcloneError
from chatclone.memory.block import FactLike, Memory, MemoryBlock
from chatclone.memory.facts import FactStore
from chatclone.memory.index import MemoryIndex, Progress, my_names
from chatclone.memory.recall import Hit, recall, recall_many
from chatclone.memory.slots import SINGLE_VALUED, slots_asked
from chatclone.train import runs
from chatclone.workspace import Workspace


def open_memory(
    ws: Workspace,
    clean: Callable[[str], str] = str,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    persona: str = "",
) -> tuple[Memory, MemoryIndex]:
    """The workspace's memory, brought in step with the store; the caller closes the index."""
    index = MemoryIndex(ws, embedder)
    index.refresh(progress)
    store = FactStore(ws)
    recalled = Recalled(index)
    ranker = FactRanker(index)
    views: dict[str | None, list[FactLike]] = {}

    def facts_at(before: str | None) -> Sequence[FactLike]:
        if before not in views:  # the windows of one conversation share their time
            if len(views) >= VIEWS_KEPT:
                views.clear()
            if before is None:
                views[before] = list(store.current())
            else:
                views[before] = [f for f in store.as_of(before) if _in_force(f, before)]
        return views[before]

    memory = Memory(
        recalled,
        facts_at,
        ws.settings().memory,
        clean,
        persona_slots(persona),
        ranker.rank,
        recalled.warm,  # its queries' vectors stay in the index for ranking facts
    )
    return memory, index


VIEWS_KEPT = 256


class Recalled:
    """`recall` over the index, with answers fetched ahead in one batch (`warm`: a build asks
    for every conversation's block; one embedding batch instead of one call per window)."""

    def __init__(self, index: MemoryIndex) -> None:
        self.index = index
        self.ahead: dict[tuple[str, int, str | None], list[Hit]] = {}

    def __call__(self, query: str, k: int, before: str | None) -> list[Hit]:
        found = self.ahead.pop((query, k, before), None)
        return found if found is not None else recall(self.index, query, k, before)

    def warm(self, queries: list[str], befores: list[str | None], k: int) -> None:
        if not queries or k < 1:
            return
        for query, before, hits in zip(
            queries, befores, recall_many(self.index, queries, k, befores), strict=True
        ):
            self.ahead[(query, k, before)] = hits


def _in_force(fact: Any, at: str) -> bool:
    """Not replaced by an edit, and (one value at a time) not closed by `at`."""
    closed = fact.slot in SINGLE_VALUED and fact.valid_to and fact.valid_to <= at
    return fact.superseded_by is None and not closed


def persona_slots(persona: str) -> frozenset[str]:
    """The slots `persona.md` speaks to: the block never says "nothing on record" about them.
    Each line is read as if asked (`slots_asked` only reads questions), so "- I have a cat"
    covers pets."""
    return frozenset(
        s for line in persona.splitlines() if line.strip() for s in slots_asked(f"{line}?")
    )


class FactRanker:
    """Orders facts by how close their line is to the conversation (the index's embedder; each
    fact line is embedded once, the query comes from the index's cache)."""

    def __init__(self, index: MemoryIndex) -> None:
        self.index = index
        self.vectors: dict[str, Any] = {}

    def rank(self, query: str, facts: Sequence[FactLike]) -> list[FactLike]:
        import numpy as np

        lines = [f.line() for f in facts]
        todo = [line for line in dict.fromkeys(lines) if line not in self.vectors]
        if todo:
            for line, vec in zip(todo, self.index.embedder.encode(todo), strict=True):
                self.vectors[line] = np.asarray(vec, dtype=np.float32)
        q = self.index.embed_queries([query])[0]  # embedded already by its retrieval
        scores = [float(self.vectors[line] @ q) for line in lines]
        order = sorted(range(len(facts)), key=lambda i: -scores[i])
        return [facts[i] for i in order]


def dataset_cleaner(ws: Workspace, pseudonymize_names: bool) -> Callable[[str], str]:
    """The dataset's privacy treatment for texts it did not see (a block built in a chat): the
    saved mapping, so every name and placeholder is the one the training data used. New values
    get new placeholders here but the mapping file is left as it is."""
    with ws.open_store() as store:
        senders = store.senders()
    path = ws.privacy_mapping_path
    return privacy.for_dataset(path, my_names(ws), senders, pseudonymize_names).clean


def chat_memory(
    ws: Workspace,
    dataset: str | None,
    recorded: dict[str, Any],
    persona: str,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> tuple[MemoryBlock, MemoryIndex]:
    """The memory a chat (or the server) gives the clone every turn: with the [memory] settings
    the run's training prompts were built with (`run.json`), else the workspace's, and the
    privacy treatment of the run's dataset."""
    # The dataset gone (or none built): the workspace's setting, never less private than it.
    settings = ws.settings().dataset
    with suppress(ChatcloneError):
        settings = BuildReport.load(runs.find_dataset(ws, dataset)).settings
    clean = dataset_cleaner(ws, settings.pseudonymize_names)
    memory, index = open_memory(ws, clean, progress, embedder, persona)
    memory.blocked = blocked_pattern(settings.blocked_words)
    given = recorded.get("settings") if recorded.get("enabled") else None
    if isinstance(given, dict):
        known = {f.name for f in fields(MemorySettings)}
        memory.settings = MemorySettings(**{k: v for k, v in given.items() if k in known})
    return MemoryBlock(memory), index
