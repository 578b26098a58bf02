"""The OpenAI backend's second half: following a fine-tuning job once it exists.

Poll the job, show and keep its events, record how it ended; pick a job up again (`--follow
JOB_ID`, also for a job started elsewhere); and turn the SDK's errors and Ctrl-C into one clear
line and a run record that says what exists on OpenAI's side. `openai_ft` starts the jobs.

Everything needed to pick a job up again is in the run folder: `run.json` names the job and its
files, `events.jsonl` holds the events already seen, oldest first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from chatclone import render
from chatclone.errors import ChatcloneError
from chatclone.train import runs
from chatclone.train.base import TrainRequest
from chatclone.train.runs import RunRecord, save_record
from chatclone.workspace import Workspace

KEY_ENV = "OPENAI_API_KEY"
INSTALL_HINT = "pip install 'chatclone[train]'"
# Which job parameter each dataset file fills, in upload order.
PARTS = (("training_file", "train.jsonl"), ("validation_file", "valid.jsonl"))
EVENTS_FILE = "events.jsonl"
EVENTS_PAGE = 100  # events per request; the API's default page (20) would need more requests
TERMINAL = ("succeeded", "failed", "cancelled")
_LEVELS = {"warn": "warning: ", "error": "error: "}


def follow_job(
    client: Any, run_dir: Path, record: RunRecord, *, poll_seconds: float, interactive: bool
) -> Any:
    """Poll the run's job until it ends, showing and saving each new event; the final job.

    The job is read before its events, so that once it reads as ended, the events fetched right
    after include everything it logged up to the end.
    """
    job_id = record.extra["job_id"]
    seen = last_event_id(run_dir)
    with EventDisplay(enabled=interactive and render.err.is_terminal) as display:
        while True:
            job = client.fine_tuning.jobs.retrieve(job_id)
            for event in new_events(client, job_id, seen):
                save_event(run_dir, event)
                display.show(event)
                seen = event.id
            if record.status != job.status:
                record.status = job.status
                save_record(run_dir, record)
            if job.status in TERMINAL:
                return job
            time.sleep(poll_seconds)


def new_events(client: Any, job_id: str, seen: str | None) -> list[Any]:
    """The job's events after `seen` (all of them when None), oldest first.

    The API lists events newest first and its `after` cursor pages towards older ones, so new
    events are the head of the list down to the last one already seen.
    """
    found: list[Any] = []
    page = client.fine_tuning.jobs.list_events(job_id, limit=EVENTS_PAGE)
    while True:
        for event in page.data:
            if event.id == seen:
                return found[::-1]
            found.append(event)
        if not page.has_more or not page.data:
            return found[::-1]
        page = client.fine_tuning.jobs.list_events(
            job_id, limit=EVENTS_PAGE, after=page.data[-1].id
        )


def last_event_id(run_dir: Path) -> str | None:
    """The newest event already saved in the run's events.jsonl."""
    path = run_dir / EVENTS_FILE
    if not path.is_file():
        return None
    lines = [line for line in path.read_text("utf-8").splitlines() if line.strip()]
    for line in reversed(lines):
        try:
            event_id = json.loads(line).get("id")
        except (ValueError, AttributeError):
            continue  # a line cut short by a crash mid-write: the one before it still counts
        if isinstance(event_id, str):
            return event_id
    return None


def save_event(run_dir: Path, event: Any) -> None:
    with (run_dir / EVENTS_FILE).open("a", encoding="utf-8") as f:
        f.write(json.dumps(as_dict(event), ensure_ascii=False) + "\n")


def as_dict(obj: Any) -> dict[str, Any]:
    """An SDK object as the API sent it (unset fields left out)."""
    if hasattr(obj, "to_dict"):
        data: dict[str, Any] = obj.to_dict()
        return data
    return dict(obj)


def say(text: str, console: Console | None = None) -> None:
    """A plain line on stderr, never wrapped: ids and commands in it stay copyable."""
    (console or render.err).print(text, markup=False, highlight=False, soft_wrap=True)


def event_line(event: Any) -> str:
    """One event for people: its local time, its level when not info, and OpenAI's message."""
    when = datetime.fromtimestamp(event.created_at).strftime("%H:%M:%S")
    return f"{when} {_LEVELS.get(event.level, '')}{event.message}"


class EventDisplay(render.LiveProgress):
    """Events on stderr. On a terminal, a progress bar follows the steps and the training loss
    from the metrics events, and only the other events are printed as lines; elsewhere (a pipe,
    `--json`) every event is a line, as a log."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[loss]}"),
            console=render.err,
            transient=True,
            disable=not enabled,
        )
        self.task: TaskID | None = None

    def show(self, event: Any) -> None:
        data = event.data if isinstance(event.data, dict) else {}
        if self.enabled and event.type == "metrics" and "step" in data:
            self._advance(data)
            return
        say(event_line(event), self.progress.console)

    def _advance(self, data: dict[str, Any]) -> None:
        loss = data.get("train_loss")
        text = f"loss {loss:.3f}" if isinstance(loss, int | float) else ""
        total = data.get("total_steps")
        if self.task is None:
            self.task = self.progress.add_task("training", total=total, loss=text)
        self.progress.update(self.task, completed=data["step"], total=total, loss=text)


def job_summary(run_dir: Path, record: RunRecord, job: Any) -> dict[str, Any]:
    """Record how the job ended and say it: the model on success; a failure is an error."""
    record.status = job.status
    record.extra["trained_tokens"] = job.trained_tokens
    summary: dict[str, Any] = {
        "run": record.name,
        "job_id": job.id,
        "status": job.status,
        "base": job.model,
        "trained_tokens": job.trained_tokens,
    }
    if job.status == "succeeded":
        record.model = job.fine_tuned_model
        save_record(run_dir, record)
        message = f"Fine-tuned model {job.fine_tuned_model} is ready (run {record.name})."
        return {
            "message": message,
            "model": job.fine_tuned_model,
            **summary,
            "next": f"chatclone chat --run {record.name}",
        }
    error = job.error.message if job.error is not None else None
    record.extra["error"] = error
    save_record(run_dir, record)
    if job.status == "failed":
        raise ChatcloneError(
            f"fine-tuning job {job.id} failed: {error or 'OpenAI gave no reason'} "
            f"(recorded in {run_dir / 'run.json'})"
        )
    message = f"Fine-tuning job {job.id} was {job.status}; no model was made."
    return {"message": message, "model": None, **summary, "error": error}


# --- picking a job up again ------------------------------------------------------------------


def check_new_run(ws: Workspace, name: str) -> Path:
    run_dir = runs.runs_root(ws) / runs.check_name(name)
    if run_dir.exists():
        raise ChatcloneError(
            f"run '{name}' already exists in {runs.runs_root(ws)}: pick another --name"
        )
    return run_dir


def find_job_run(ws: Workspace, job_id: str) -> tuple[Path, RunRecord] | None:
    """The newest run that recorded this job id."""
    found = [
        (d, r)
        for d, r in runs.list_runs(ws)
        if r.backend == "openai" and r.extra.get("job_id") == job_id
    ]
    return found[-1] if found else None


def adopt_job(ws: Workspace, request: TrainRequest, job: Any) -> tuple[Path, RunRecord]:
    """A run record for a job this workspace did not start. Whom it clones comes from
    `--dataset` when given; otherwise it is left empty (the job does not say)."""
    run_dir = check_new_run(ws, request.name or runs.new_run_name(ws))
    dataset, sha, identity = "", "", ("", "", "")
    if request.dataset:
        dataset_dir = runs.find_dataset(ws, request.dataset)
        dataset, sha = dataset_dir.name, runs.dataset_sha256(dataset_dir)
        identity = runs.dataset_identity(dataset_dir)
    run_dir.mkdir(parents=True)
    record = RunRecord(
        name=run_dir.name,
        backend="openai",
        base=job.model,
        dataset=dataset,
        dataset_sha256=sha,
        me=identity[0],
        source=identity[1],
        persona=identity[2],
        status=job.status,
        extra={
            "job_id": job.id,
            "training_file": job.training_file,
            "validation_file": job.validation_file,
            "started_elsewhere": True,
        },
    )
    save_record(run_dir, record)
    return run_dir, record


# --- the SDK, its errors and interruptions -----------------------------------------------------


def import_openai() -> Any:
    try:
        import openai
    except ImportError:
        raise ChatcloneError(
            f"the openai backend needs the openai package: {INSTALL_HINT}"
        ) from None
    return openai


def follow_hint(job_id: str) -> str:
    return f"chatclone train --backend openai --follow {job_id}"


@contextmanager
def api_errors(run_dir: Path | None = None, record: RunRecord | None = None) -> Iterator[None]:
    """OpenAI's errors as one line each. Before a job exists the run is marked failed; after,
    the job may well be running on, so the line says how to pick it up again."""
    openai = import_openai()
    try:
        yield
    except openai.APIError as e:
        message = describe_api_error(openai, e)
        job_id = record.extra.get("job_id") if record else None
        if job_id:
            message += f"; the job may still be running: `{follow_hint(job_id)}`"
        elif run_dir is not None and record is not None:
            record.status, record.extra["error"] = "failed", message
            save_record(run_dir, record)
        raise ChatcloneError(message) from None


def describe_api_error(openai: Any, error: Any) -> str:
    body = error.body if isinstance(error.body, dict) else {}
    detail = " ".join(str(body.get("message") or error.message).split())
    kinds = (
        (openai.AuthenticationError, f"OpenAI did not accept the API key in {KEY_ENV}"),
        (openai.PermissionDeniedError, "OpenAI refused the request"),
        (
            openai.RateLimitError,
            "OpenAI's rate limit or quota was reached (wait, or check billing)",
        ),
        (openai.APIConnectionError, "could not reach OpenAI"),
        (openai.APIStatusError, f"OpenAI answered {getattr(error, 'status_code', '?')}"),
    )
    what = next((text for kind, text in kinds if isinstance(error, kind)), "OpenAI API error")
    return f"{what}: {detail}"


@contextmanager
def interruption(run_dir: Path, record: RunRecord) -> Iterator[None]:
    """Ctrl-C: record what exists on OpenAI's side and say what to do about it, then let the
    interrupt end the command (exit 130)."""
    try:
        yield
    except KeyboardInterrupt:
        job_id = record.extra.get("job_id")
        if job_id:
            note = (
                f"the job keeps running on OpenAI's side; pick it up again with "
                f"`{follow_hint(job_id)}`"
            )
        else:
            record.status = "interrupted"
            files = [record.extra[k] for k, _ in PARTS if k in record.extra]
            note = "interrupted before OpenAI confirmed a fine-tuning job"
            if files:
                note += (
                    f"; the uploaded files stay in your OpenAI storage ({', '.join(files)}); "
                    "should a job for them show up on the dashboard, "
                    f"`{follow_hint('JOB_ID')}` picks it up"
                )
        save_record(run_dir, record)
        say(note)
        raise
