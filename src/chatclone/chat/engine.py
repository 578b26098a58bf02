"""The generation engine: what a chat with the clone talks to, whatever shows it (terminal, web).

`open_engine(ws, run=…, model=…, partner=…)` finds the run (or the `openai:…` model), rebuilds the
training system prompt from the run record with `dataset.persona.system_prompt` and loads a
`Generator`: a `LocalGenerator` (the run's LoRA adapter on its base model, transformers + peft) or an
`OpenAIGenerator` (a fine-tuned OpenAI model, streamed). A `Conversation` keeps the history and
`BubbleStream` splits a streamed reply into the separate texts ("bubbles") the person would send:
the dataset joins bubbles with newlines, so the model writes one bubble per line.

With `--model openai:…` and no run, whom the clone plays comes from the latest dataset's
report.json (as its system prompts had it); without a dataset, from `chatclone me` and persona.md.

No terminal I/O here: callers show progress through the `notify` callback and print the pieces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from chatclone.dataset.persona import PERSONA_FILE, persona_text, system_prompt
from chatclone.dataset.samples import OPENER
from chatclone.errors import ChatcloneError
from chatclone.train import runs
from chatclone.workspace import Workspace

Message = dict[str, str]
DEFAULT_PARTNER = "a friend"
OPENAI_PREFIX = "openai:"
# The dataset cuts samples to 1024 tokens by default: longer prompts are beyond what the clone saw.
CONTEXT_TOKENS = 1024


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 200
    temperature: float = 0.7
    """0: greedy (the same reply every time)."""
    seed: int | None = None
    """Seeds sampling before each reply, so the same prompt gets the same reply."""
    top_p: float = 0.9
    repetition_penalty: float = 1.1
    """Local models only: small models loop ("haha haha haha…") without it."""

    def check(self) -> None:
        if self.max_new_tokens < 1:
            raise ChatcloneError("--max-new-tokens must be at least 1")
        if self.temperature < 0:
            raise ChatcloneError("--temperature must be 0 (greedy) or more")


class Generator(Protocol):
    def stream(self, messages: list[Message], settings: GenerationSettings) -> Iterator[str]:
        """The reply to `messages` (system prompt first), in pieces of text as they are made."""
        ...


# ---------------------------------------------------------------------------------------------
# What to chat with


@dataclass(frozen=True)
class Target:
    """What a chat talks to, resolved from the workspace without loading any model."""

    backend: str  # "local" or "openai"
    model: str  # local: the base model; openai: "openai:MODEL_ID"
    me: str
    system: str
    run: str | None = None
    run_dir: Path | None = None

    def describe(self) -> str:
        if self.backend == "local":
            return f"run '{self.run}' (LoRA adapter on {self.model})"
        return f"{self.model}" + (f" (run '{self.run}')" if self.run else "")


def resolve_target(
    ws: Workspace, run: str | None = None, model: str | None = None, partner: str = DEFAULT_PARTNER
) -> Target:
    """The run named (or the latest usable one), or the `openai:…` model with the workspace's identity."""
    if model is not None:
        if run is not None:
            raise ChatcloneError("give --run NAME or --model openai:…, not both")
        return _model_target(ws, model, partner)
    run_dir, record = runs.find_run(ws, run)
    _check_usable(run_dir, record)
    system = system_prompt(record.me, partner, False, record.source, record.persona)
    if record.backend == "openai":
        assert record.model is not None  # _check_usable
        name = OPENAI_PREFIX + record.model
        return Target("openai", name, record.me, system, record.name, run_dir)
    return Target("local", record.base, record.me, system, record.name, run_dir)


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


def _model_target(ws: Workspace, model: str, partner: str) -> Target:
    if not model.startswith(OPENAI_PREFIX) or len(model) == len(OPENAI_PREFIX):
        raise ChatcloneError(
            f"--model takes an OpenAI model as openai:MODEL (e.g. openai:ft:gpt-4.1-mini-…), not "
            f"'{model}'; for a local run use --run NAME"
        )
    me, source, persona = workspace_identity(ws)
    system = system_prompt(me, partner, False, source, persona)
    return Target("openai", model, me, system)


def workspace_identity(ws: Workspace) -> tuple[str, str, str]:
    """Whom a model without a run record plays: (me, source, persona).

    From the latest dataset's report.json, which holds them exactly as its system prompts had them;
    without a dataset, from `chatclone me` (settings, else the store) and persona.md, on WhatsApp.
    """
    try:
        me, source, persona = runs.dataset_identity(runs.find_dataset(ws, None))
    except ChatcloneError:  # no dataset built yet
        me, source, persona = "", "whatsapp", persona_text(ws.root / PERSONA_FILE)
    if not me:
        from chatclone.me import show_me

        me = show_me(ws).name or ""
    if not me:
        raise ChatcloneError(
            f"cannot tell whom the clone plays in {ws.root}: build a dataset (`chatclone build`) "
            "or say who you are (`chatclone me NAME`)"
        )
    return me, source, persona


# ---------------------------------------------------------------------------------------------
# Engine and conversation


@dataclass
class Engine:
    target: Target
    generator: Generator


def open_engine(
    ws: Workspace,
    run: str | None = None,
    model: str | None = None,
    partner: str = DEFAULT_PARTNER,
    notify: Callable[[str], None] | None = None,
) -> Engine:
    """Resolve what to chat with and load it; `notify` hears what is being loaded (it takes a while)."""
    target = resolve_target(ws, run, model, partner)
    if notify is not None:
        notify(f"Loading {target.describe()}…")
    return Engine(target, load_generator(target))


def load_generator(target: Target) -> Generator:
    if target.backend == "openai":
        from chatclone.chat import openai_chat

        client = openai_chat.openai_client()
        return openai_chat.OpenAIGenerator(target.model.removeprefix(OPENAI_PREFIX), client)
    from chatclone.chat.local import LocalGenerator

    assert target.run_dir is not None
    return LocalGenerator.load(target.run_dir, target.model)


@dataclass
class Conversation:
    """The history of one chat; the system prompt is never part of it, so a reset keeps it."""

    engine: Engine
    history: list[Message] = field(default_factory=list)

    def reset(self) -> None:
        self.history.clear()

    def reply(self, text: str, settings: GenerationSettings) -> Iterator[str]:
        """Stream the clone's reply to `text`; empty text lets the clone open the conversation
        (the dataset's OPENER marker). The exchange joins the history once the reply is complete,
        so an interrupted reply leaves no trace."""
        user = {"role": "user", "content": text.strip() or OPENER}
        system = {"role": "system", "content": self.engine.target.system}
        pieces: list[str] = []
        for piece in self.engine.generator.stream([system, *self.history, user], settings):
            pieces.append(piece)
            yield piece
        reply = "\n".join(split_bubbles("".join(pieces)))
        self.history += [user, {"role": "assistant", "content": reply}]


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


def fit_messages(
    messages: list[Message], count: Callable[[list[Message]], int], budget: int
) -> list[Message]:
    """Drop the oldest exchanges (never the system prompt, never the last message) until the
    prompt's token `count` is within `budget`; the kept part still starts with a user message."""
    head = messages[:1] if messages and messages[0]["role"] == "system" else []
    rest = messages[len(head) :]
    while len(rest) > 1 and count(head + rest) > budget:
        rest = rest[1:]
        while len(rest) > 1 and rest[0]["role"] != "user":
            rest = rest[1:]
    return head + rest
