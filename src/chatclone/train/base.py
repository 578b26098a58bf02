"""The one interface every training backend implements, and what the CLI hands it.

`chatclone train` resolves the settings (`[train]` in chatclone.toml, then command-line flags) into
a `TrainRequest` and calls `backend_for(name).train(ws, request)`. A backend draws its own progress
on stderr (never stdout: `--json` output stays one JSON document), records its run under
`runs/NAME/` (see `runs.py`) and returns a JSON-able summary that the CLI prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from chatclone.config import TrainSettings
from chatclone.errors import ChatcloneError
from chatclone.workspace import Workspace

BACKENDS = ("local", "openai")


@dataclass
class TrainRequest:
    settings: TrainSettings
    """Resolved: chatclone.toml's [train] with the command-line flags applied."""
    dataset: str | None = None
    """A dataset name under datasets/; None: the latest built."""
    name: str | None = None
    """The run's folder name under runs/; None: a timestamp."""
    resume: str | None = None
    """Local: continue this run from its latest checkpoint."""
    yes: bool = False
    """OpenAI: skip the cost confirmation."""
    dry_run: bool = False
    """OpenAI: validate and estimate only; no network access at all."""
    follow: str | None = None
    """OpenAI: follow this existing job id instead of starting one."""
    cancel: str | None = None
    """OpenAI: cancel this job id."""
    price_per_million: float | None = None
    """OpenAI: override the training price used for the estimate (USD per 1M tokens)."""
    interactive: bool = True
    """Whether progress may be drawn and questions asked (False with --json)."""


class Backend(Protocol):
    def train(self, ws: Workspace, request: TrainRequest) -> dict[str, Any]:
        """Run (or continue, follow, cancel) a training job; the summary for `--json`."""
        ...


def backend_for(name: str) -> Backend:
    if name == "local":
        from chatclone.train.local import LocalBackend

        return LocalBackend()
    if name == "openai":
        from chatclone.train.openai_ft import OpenAIBackend

        return OpenAIBackend()
    raise ChatcloneError(f"unknown backend '{name}' (choose from {', '.join(BACKENDS)})")
