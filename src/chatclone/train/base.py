"""The one interface every training backend implements, and what the CLI hands it.

`chatclone train` resolves the settings (`[train]` in chatclone.toml, then command-line flags) into
a `TrainRequest` with `resolve_request` and calls `backend_for(name).train(ws, request)` (the
registry: `chatclone.train`). A backend reports progress only through the request's callbacks
(`display` and `notify` for a local run, `job_reporter` for an OpenAI job): what shows it (a
terminal bar, plain lines, nothing with `--json`) is the caller's choice, so `train/` never draws
anything itself. It records its run under `runs/NAME/` (see
`runs.py`) and returns a JSON-able summary that the CLI prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Protocol, Self

from chatclone.config import TrainSettings
from chatclone.errors import ChatcloneError
from chatclone.openai.report import JobReporter, PlainLines
from chatclone.workspace import Workspace


class TrainDisplay(Protocol):
    """Shows a local run's steps while the loop runs (entered once loading is done)."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def update(self, step: int, loss: float, tokens_per_s: float) -> None: ...

    def note(self, text: str) -> None:
        """A line for people: a validation loss, "stopping after this step…"."""
        ...


DisplayFactory = Callable[[int, int], TrainDisplay]
"""(total steps, steps already done) → a display."""


class QuietDisplay:
    """Shows nothing: `--json`, tests, and the other processes of a multi-GPU run."""

    def __init__(self, total: int = 0, done: int = 0) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, step: int, loss: float, tokens_per_s: float) -> None:
        pass

    def note(self, text: str) -> None:
        pass


def _silent(text: str) -> None:
    pass


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
    """Whether questions may be asked (False with --json)."""
    display: DisplayFactory = QuietDisplay
    """Local: what shows the training steps."""
    notify: Callable[[str], None] = _silent
    """A line for people about what is happening ("Loading the model…")."""
    job_reporter: JobReporter = field(default_factory=PlainLines)
    """OpenAI: the job's lines and events. Unlike `notify`, kept with --json (as a log on stderr):
    they say what exists on OpenAI's side, and how to pick the job up again."""


class Backend(Protocol):
    def train(self, ws: Workspace, request: TrainRequest) -> dict[str, Any]:
        """Run (or continue, follow, cancel) a training job; the summary for `--json`."""
        ...


@dataclass
class TrainFlags:
    """What `chatclone train` was given on the command line; None: not given."""

    backend: str | None = None
    base: str | None = None
    epochs: int | None = None
    max_steps: int | None = None
    learning_rate: float | None = None
    suffix: str | None = None


def resolve_request(
    settings: TrainSettings, flags: TrainFlags, request: TrainRequest
) -> TrainRequest:
    """The request with chatclone.toml's `[train]` overridden by the flags. Flags that would be
    silently ignored are refused instead."""
    backend = flags.backend or settings.backend
    if flags.backend is None and (request.follow or request.cancel):
        backend = "openai"  # only OpenAI jobs can be followed or cancelled
    local_only = [
        f
        for f, v in (("--max-steps", flags.max_steps), ("--lr", flags.learning_rate))
        if v is not None
    ]
    if backend == "openai" and (local_only or request.resume):
        raise ChatcloneError(f"{', '.join(local_only) or '--resume'} only apply to --backend local")
    given = (
        flags.base,
        flags.epochs,
        flags.max_steps,
        flags.learning_rate,
        request.dataset,
        request.name,
    )
    if request.resume and any(v is not None for v in given):
        raise ChatcloneError(
            "--resume continues a run with its own settings: drop --max-steps, --lr, --epochs, "
            "--base, --dataset and --name"
        )
    overrides: dict[str, Any] = {
        k: v
        for k, v in (
            ("epochs", flags.epochs),
            ("max_steps", flags.max_steps),
            ("learning_rate", flags.learning_rate),
            ("suffix", flags.suffix),
        )
        if v is not None
    }
    if flags.base is not None:
        overrides["openai_model" if backend == "openai" else "base"] = flags.base
    # The backends check the settings (`TrainSettings.check`) where they start a run or a job.
    return replace(request, settings=replace(settings, backend=backend, **overrides))
