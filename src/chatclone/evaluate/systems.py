"""What writes the replies an evaluation measures: "systems".

A system is a run (local LoRA or an OpenAI fine-tune), the base model with the same prompts and
no adapter (`--base`), or the person's own held-out replies ("real", the ceiling of the style
metrics). Every generating system gets exactly the same prompts; generation is batched where the
backend can (a local model writes `batch_size` replies in one call) and seeded per batch, so a
rerun with the same settings writes the same replies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from chatclone.chat import generator_for
from chatclone.chat.engine import OPENAI_PREFIX, split_bubbles
from chatclone.chat.generation import GenerationSettings, Generator, GeneratorSpec
from chatclone.errors import ChatcloneError
from chatclone.openai.client import in_flight
from chatclone.prompt import ChatMessage
from chatclone.train import runs
from chatclone.workspace import Workspace

REAL = "real"
BASE = "base"
WORKERS = 4  # replies in flight at once for a remote model


@dataclass(frozen=True)
class System:
    name: str
    kind: str  # "run", "base" or "real"
    backend: str | None = None  # a generator backend: "local" or "openai"
    model: str | None = None  # local: the base model; openai: the model id
    run: str | None = None
    run_dir: Path | None = None
    dataset: str | None = None  # the dataset a run trained on
    memory: bool = False  # prompts carry the memory block (`evaluate.memory`)

    def spec(self, context_tokens: int) -> GeneratorSpec:
        assert self.model is not None  # generating systems always have one
        model = self.model.removeprefix(OPENAI_PREFIX)
        return GeneratorSpec(model, self.run_dir, context_tokens, batches=True)

    def describe(self) -> str:
        if self.kind == REAL:
            return "the person's real replies"
        memory = ", with memory" if self.memory else ""
        if self.kind == BASE:
            return f"the base model {self.model} (same prompts, no fine-tuning{memory})"
        return f"run '{self.run}' ({self.backend}, {self.model}{memory})"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "backend": self.backend,
            "model": self.model,
            "run": self.run,
            "memory": self.memory,
        }


def run_systems(ws: Workspace, names: Sequence[str]) -> list[System]:
    """The runs named, each usable; none named: the latest local run."""
    systems = []
    wanted: list[str | None] = list(names) or [None]
    for name in wanted:
        run_dir, record = runs.find_run(ws, name)
        if not runs.is_usable(run_dir, record):
            raise ChatcloneError(
                f"run '{record.name}' has nothing to evaluate yet (status: {record.status})"
            )
        if record.backend == "openai":
            model = OPENAI_PREFIX + str(record.model)
            system = System(record.name, "run", "openai", model, record.name, run_dir)
        else:
            system = System(record.name, "run", "local", record.base, record.name, run_dir)
        systems.append(replace(system, dataset=record.dataset))
    taken = [s.name for s in systems if s.name in (REAL, BASE)]
    if taken:
        raise ChatcloneError(
            f"a run named '{taken[0]}' cannot be evaluated: eval uses that name for "
            f"{'the person' if taken[0] == REAL else 'the base model'}; rename the run's folder "
            f"under runs/ (and its name in run.json)"
        )
    if len({s.name for s in systems}) < len(systems):
        raise ChatcloneError("a run is named twice: give each --run once")
    return systems


def base_system(ws: Workspace, runs_given: Sequence[System]) -> System:
    """The model the (first) run was fine-tuned from, with no adapter; without runs, the
    workspace's base model (`[train] base`)."""
    if runs_given:
        first = runs_given[0]
        if first.backend == "openai":
            record = runs.load_record(first.run_dir) if first.run_dir else None
            base = record.base if record else ""
            return System(BASE, BASE, "openai", OPENAI_PREFIX + base)
        return System(BASE, BASE, "local", first.model)
    return System(BASE, BASE, "local", ws.settings().train.base)


def open_generator(system: System, context_tokens: int) -> Generator:
    """Load what writes the system's replies (a base model is a local generator with no run)."""
    assert system.backend is not None
    return generator_for(system.backend, system.spec(context_tokens))


def generate(
    generator: Generator,
    prompts: Sequence[Sequence[ChatMessage]],
    settings: GenerationSettings,
    batch_size: int,
    advance: Callable[[int], None] | None = None,
) -> list[str]:
    """A reply to each prompt, bubbles one per line; `advance` hears how many are done."""
    batched = getattr(generator, "generate_batch", None)
    if batched is None:
        return _one_by_one(generator, prompts, settings, advance)
    # Prompts that begin alike share a batch (the generator runs a shared beginning once).
    order = sorted(range(len(prompts)), key=lambda i: [m["content"] for m in prompts[i]])
    replies: dict[int, str] = {}
    for k, start in enumerate(range(0, len(order), batch_size)):
        chunk = order[start : start + batch_size]
        written = batched([prompts[i] for i in chunk], _seeded(settings, k))
        replies.update(zip(chunk, written, strict=True))
        if advance is not None:
            advance(len(chunk))
    return [_bubbles(replies[i]) for i in range(len(prompts))]


def _one_by_one(
    generator: Generator,
    prompts: Sequence[Sequence[ChatMessage]],
    settings: GenerationSettings,
    advance: Callable[[int], None] | None,
) -> list[str]:
    """A generator without batches (a remote model): a few replies in flight at once."""

    def one(k: int) -> str:
        text = "".join(generator.stream(prompts[k], _seeded(settings, k)))
        if advance is not None:
            advance(1)
        return _bubbles(text)

    return in_flight(one, range(len(prompts)), WORKERS, "eval")


def _seeded(settings: GenerationSettings, k: int) -> GenerationSettings:
    return replace(settings, seed=None if settings.seed is None else settings.seed + k)


def _bubbles(text: str) -> str:
    return "\n".join(split_bubbles(text))
