"""The generation engine: what a chat with the clone talks to, whatever shows it (terminal, web).

`open_engine(ws, run=…, model=…)` finds the run (or the `openai:…` model) and whom it plays, and
loads its `Generator` from the registry (`chatclone.chat`). A `Conversation` keeps the history and
builds each turn's prompt with `prompt.PromptBuilder`, the same builder that made the training
samples (so a memory block can join it per turn); `BubbleStream` splits a streamed reply into the
separate texts ("bubbles") the person would send: the dataset joins bubbles with newlines, so the
model writes one bubble per line.

With `--model openai:…` and no run, whom the clone plays comes from the latest dataset's
report.json (as its system prompts had it); without a dataset, from `chatclone me` and persona.md.

No terminal I/O here: callers show progress through the `notify` callback and print the pieces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatclone.chat import generator_for, timings
from chatclone.chat.generation import (
    DEFAULT_CONTEXT_TOKENS,
    GenerationSettings,
    Generator,
    GeneratorSpec,
)
from chatclone.dataset.report import BuildReport
from chatclone.errors import ChatcloneError
from chatclone.me import show_me
from chatclone.memory.index import Progress
from chatclone.memory.load import chat_memory
from chatclone.prompt import (
    ASSISTANT,
    OPENER,
    USER,
    ChatContext,
    ChatMessage,
    Identity,
    MemorySource,
    PromptBuilder,
    persona_text,
)
from chatclone.train import runs
from chatclone.workspace import Workspace

DEFAULT_PARTNER = "a friend"
OPENAI_PREFIX = "openai:"


# ---------------------------------------------------------------------------------------------
# What to chat with


@dataclass(frozen=True)
class Target:
    """What a chat talks to, resolved from the workspace without loading any model."""

    backend: str  # a generator backend: "local" or "openai"
    model: str  # local: the base model; openai: "openai:MODEL_ID"
    identity: Identity
    run: str | None = None
    run_dir: Path | None = None
    context_tokens: int = DEFAULT_CONTEXT_TOKENS
    """The history kept, in tokens: the dataset's `max_context_tokens`."""
    dataset: str | None = None  # what the run trained on (None: the latest dataset)
    memory: dict[str, Any] = field(default_factory=dict)  # run.json's memory record

    @property
    def me(self) -> str:
        return self.identity.me

    def describe(self) -> str:
        if self.backend == "local":
            return f"run '{self.run}' (LoRA adapter on {self.model})"
        return f"{self.model}" + (f" (run '{self.run}')" if self.run else "")

    def spec(self) -> GeneratorSpec:
        return GeneratorSpec(
            self.model.removeprefix(OPENAI_PREFIX), self.run_dir, self.context_tokens
        )


def resolve_target(ws: Workspace, run: str | None = None, model: str | None = None) -> Target:
    """The run named (or the latest usable one), or the `openai:…` model with the workspace's
    identity."""
    if model is not None:
        if run is not None:
            raise ChatcloneError("give --run NAME or --model openai:…, not both")
        return _model_target(ws, model)
    run_dir, record = runs.find_run(ws, run)
    _check_usable(run_dir, record)
    context = record.context_tokens or _dataset_context(ws, record.dataset)
    if record.backend == "openai":
        assert record.model is not None  # _check_usable
        backend, name = "openai", OPENAI_PREFIX + record.model
    else:
        backend, name = "local", record.base
    return Target(
        backend,
        name,
        record.identity,
        record.name,
        run_dir,
        context,
        record.dataset or None,
        record.memory,
    )


def _dataset_context(ws: Workspace, dataset: str) -> int:
    """For runs recorded before run.json kept it: the context of the dataset they trained on."""
    try:
        return BuildReport.load(runs.find_dataset(ws, dataset)).context_tokens
    except ChatcloneError:  # the dataset is gone: the dataset default
        return DEFAULT_CONTEXT_TOKENS


def _check_usable(run_dir: Path, record: runs.RunRecord) -> None:
    if runs.is_usable(run_dir, record):
        return
    if record.backend == "openai":
        job = record.extra.get("job_id", "JOB_ID")
        raise ChatcloneError(
            f"run '{record.name}' has no fine-tuned model yet (job status: {record.status}); "
            f"follow it with `chatclone train --backend openai --follow {job}`"
        )
    raise ChatcloneError(
        f"run '{record.name}' has no trained adapter yet (status: {record.status}, training "
        f"stopped before its first save); continue it with `chatclone train --resume {record.name}`"
    )


def _model_target(ws: Workspace, model: str) -> Target:
    if not model.startswith(OPENAI_PREFIX) or len(model) == len(OPENAI_PREFIX):
        raise ChatcloneError(
            f"--model takes an OpenAI model as openai:MODEL (e.g. openai:ft:gpt-4.1-mini-…), not "
            f"'{model}'; for a local run use --run NAME"
        )
    identity, context = workspace_identity(ws)
    return Target("openai", model, identity, context_tokens=context)


def workspace_identity(ws: Workspace) -> tuple[Identity, int]:
    """Whom a model without a run record plays, and the history it keeps.

    From the latest dataset's report.json, which holds them exactly as its system prompts had them;
    without a dataset, from `chatclone me` (settings, else the store) and persona.md, on WhatsApp.
    """
    try:
        report = BuildReport.load(runs.find_dataset(ws, None))
        identity, context = report.identity, report.context_tokens
    except ChatcloneError:  # no dataset built yet
        identity = Identity("", persona=persona_text(ws.persona_path))
        context = ws.settings().dataset.max_context_tokens
    if not identity.me:
        me = show_me(ws).name or ""
        identity = Identity(me, identity.source, identity.persona)
    if not identity.me:
        raise ChatcloneError(
            f"cannot tell whom the clone plays in {ws.root}: build a dataset (`chatclone build`) "
            "or say who you are (`chatclone me NAME`)"
        )
    return identity, context


# ---------------------------------------------------------------------------------------------
# Engine and conversation


@dataclass
class Engine:
    target: Target
    generator: Generator
    memory: MemorySource | None = None  # recalls for every turn; None: no memory

    @property
    def prompts(self) -> PromptBuilder:
        return PromptBuilder(self.target.identity, self.memory)

    def describe_memory(self) -> str:
        return "memory on" if self.memory is not None else "memory off"


def open_engine(
    ws: Workspace,
    run: str | None = None,
    model: str | None = None,
    notify: Callable[[str], None] | None = None,
    memory: bool = True,
    progress: Progress | None = None,
) -> Engine:
    """Resolve what to chat with and load it; `notify` hears what is being loaded (it takes a
    while). With `memory`, every turn's prompt carries the memory block (`memory.block`), built
    as the run's training prompts were; the index is brought in step with the store first."""
    target = resolve_target(ws, run, model)
    source = _open_memory(ws, target, notify, progress) if memory else None
    timings.mark("memory")
    if notify is not None:
        notify(f"Loading {target.describe()}…")
    return Engine(target, generator_for(target.backend, target.spec()), source)


def _open_memory(
    ws: Workspace,
    target: Target,
    notify: Callable[[str], None] | None,
    progress: Progress | None,
) -> MemorySource | None:
    """The memory for every turn; None (said through `notify`) where there is nothing to
    remember yet: no chats stored, or nobody known to be the person."""
    say = notify or (lambda _: None)
    if not ws.store_path.exists():
        say("No memory: no chats are stored in this workspace (`chatclone ingest` adds them).")
        return None
    say("Opening memory…")
    try:
        source, _index = chat_memory(
            ws, target.dataset, target.memory, target.identity.persona, progress
        )
    except ChatcloneError as e:
        say(f"No memory: {e}")
        return None
    return source


@dataclass
class Conversation:
    """The history of one chat; the system prompt is built for every turn and never stored, so a
    reset keeps it."""

    engine: Engine
    partner: str = DEFAULT_PARTNER
    history: list[ChatMessage] = field(default_factory=list)

    def reset(self) -> None:
        self.history.clear()

    def prompt_for(self, text: str) -> list[ChatMessage]:
        """The whole prompt the clone answers `text` with: system, history, the new message."""
        user: ChatMessage = {"role": USER, "content": text.strip() or OPENER}
        return self.engine.prompts.build(ChatContext(self.partner), [*self.history, user])

    def reply(self, text: str, settings: GenerationSettings) -> Iterator[str]:
        """Stream the clone's reply to `text`; empty text lets the clone open the conversation
        (the dataset's OPENER marker). The exchange joins the history once the reply is complete,
        so an interrupted reply leaves no trace."""
        prompt = self.prompt_for(text)
        timings.mark("prompt")
        pieces: list[str] = []
        for piece in self.engine.generator.stream(prompt, settings):
            pieces.append(piece)
            yield piece
        reply = "\n".join(split_bubbles("".join(pieces)))
        self.history += [prompt[-1], {"role": ASSISTANT, "content": reply}]


class BubbleStream:
    """Splits a streamed reply into bubbles as pieces arrive: a newline ends a bubble (even inside
    a piece or between pieces) and blank lines make none. `feed` says, for each stretch of text,
    whether it starts a new bubble; `bubbles` holds the bubbles so far."""

    def __init__(self) -> None:
        self.bubbles: list[str] = []
        self._open = False

    def feed(self, piece: str) -> list[tuple[bool, str]]:
        shown: list[tuple[bool, str]] = []
        # A stray carriage return would send the terminal's cursor back over the clone's name.
        for i, line in enumerate(piece.replace("\r", "").split("\n")):
            if i > 0:
                self._open = False
            starts = not self._open
            if starts:
                line = line.lstrip()  # a bubble never starts with the space after a newline
            if not line:
                continue
            if starts:
                self.bubbles.append("")
                self._open = True
            self.bubbles[-1] += line
            shown.append((starts, line))
        return shown

    def result(self) -> list[str]:
        return [b.strip() for b in self.bubbles]


def split_bubbles(text: str) -> list[str]:
    stream = BubbleStream()
    stream.feed(text)
    return stream.result()
