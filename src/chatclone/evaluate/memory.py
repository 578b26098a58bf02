"""Systems with and without memory: the prompts each variant of a system is given.

`--memory both` evaluates every system twice, so one report holds the four ablations the issue
asks for: fine-tuned only; base + memory; fine-tuned + memory at inference only; grounded
training + memory. A variant without memory gets each held-out prompt with its memory block
removed; one with memory gets a block built for that turn (its conversation so far) as of its
conversation's start (`valid.meta.jsonl`), so nothing said in or after the held-out conversation is
recalled. Probes are asked now: their block holds everything on record.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from chatclone.dataset.report import VALID_META_FILE, BuildReport
from chatclone.embeddings import Embedder
from chatclone.errors import ChatcloneError
from chatclone.evaluate.heldout import HeldOutTurn
from chatclone.evaluate.systems import BASE, System
from chatclone.memory.block import MemoryBlock, strip_memory
from chatclone.memory.load import chat_memory
from chatclone.prompt import SYSTEM, USER, ChatContext, ChatMessage, PromptBuilder
from chatclone.train import runs
from chatclone.workspace import Workspace

MODES = ("as-trained", "on", "off", "both")
SUFFIX = "+memory"
PROBE_PARTNER = "a friend"


def variants(
    ws: Workspace, systems: Sequence[System], mode: str, build: BuildReport
) -> list[System]:
    """Each system as evaluated: with memory, without, or both (named NAME+memory with)."""
    if mode not in MODES:
        raise ChatcloneError(f"--memory {mode}: choose from {', '.join(MODES)}")
    out: list[System] = []
    for system in systems:
        if mode == "both":
            flags = [False, True]
        elif mode == "as-trained":
            flags = [_trained_with_memory(system, build)]
        else:
            flags = [mode == "on"]
        out += [replace(system, name=system.name + SUFFIX, memory=True) if f else system
                for f in flags]  # fmt: skip
    return out


def _trained_with_memory(system: System, build: BuildReport) -> bool:
    if system.kind == BASE or system.run_dir is None:
        return bool(build.memory.get("enabled"))
    return bool(runs.load_record(system.run_dir).memory.get("enabled"))


class EvalMemory:
    """The workspace's memory for an evaluation: as the dataset's prompts were built (its
    [memory] settings and privacy treatment)."""

    def __init__(
        self,
        ws: Workspace,
        build: BuildReport,
        dataset_dir: Path,
        embedder: Embedder | None = None,
    ) -> None:
        recorded = build.memory if build.memory.get("enabled") else {}
        persona = build.identity.persona
        self.source, self.index = chat_memory(ws, build.name, recorded, persona, None, embedder)
        self.starts = session_starts(dataset_dir)

    def close(self) -> None:
        self.index.close()

    def context(self, turn: HeldOutTurn) -> list[ChatMessage]:
        system, *conversation = turn.context
        if not 0 <= turn.sample < len(self.starts) or not self.starts[turn.sample]:
            raise ChatcloneError("valid.meta.jsonl does not match valid.jsonl: rebuild the dataset")
        block = self.source.memory.block(conversation, self.starts[turn.sample])
        head = strip_memory(str(system["content"]))
        content = f"{head}\n\n{block}" if block else head
        return [{"role": SYSTEM, "content": content}, *conversation]


def heldout_contexts(
    turns: Sequence[HeldOutTurn], memory: EvalMemory | None
) -> list[list[ChatMessage]]:
    """The held-out prompts a variant gets: blocks removed, or rebuilt per turn (`memory`)."""
    if memory is not None:
        return [memory.context(t) for t in turns]
    return [[_stripped(t.context[0]), *t.context[1:]] for t in turns]


def probe_prompts(
    build: BuildReport, questions: Sequence[str], memory: EvalMemory | None
) -> list[list[ChatMessage]]:
    """Each probe as a fresh conversation from a friend, with the dataset's own system prompt
    (and, with memory, the block for that question with everything on record)."""
    source: MemoryBlock | None = memory.source if memory is not None else None
    builder = PromptBuilder(build.identity, source)
    context = ChatContext(PROBE_PARTNER)
    return [builder.build(context, [{"role": USER, "content": q}]) for q in questions]


def held_out(dataset_dir: Path) -> list[tuple[str, str]] | None:
    """Each held-out sample's chat and conversation start, in valid.jsonl's order; None for a
    dataset built before memory existed (it has no valid.meta.jsonl)."""
    path = dataset_dir / VALID_META_FILE
    if not path.is_file():
        return None
    rows = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
            rows.append((str(row["chat"]), str(row["session_start"])))
        except (ValueError, KeyError, TypeError):
            raise ChatcloneError(f"{path}, line {n}: damaged; rebuild the dataset") from None
    return rows


def session_starts(dataset_dir: Path) -> list[str]:
    """Each held-out sample's conversation start, in valid.jsonl's order."""
    rows = held_out(dataset_dir)
    if rows is None:
        raise ChatcloneError(
            f"{dataset_dir / VALID_META_FILE} is missing (the dataset was built before memory "
            "existed): rebuild it with `chatclone build` to evaluate with memory"
        )
    return [start for _, start in rows]


def _stripped(message: ChatMessage) -> ChatMessage:
    return {"role": message["role"], "content": strip_memory(str(message["content"]))}
