"""A fine-tuning job once it exists: follow it, pick it up again, and say what exists after an error.

Poll the job, hand each new event to the reporter and keep it, record how it ended; adopt a job
started elsewhere (`--follow JOB_ID`); and turn the SDK's errors and Ctrl-C into one clear line
and a run record that says what exists on OpenAI's side. `jobs` starts the jobs.

Everything needed to pick a job up again is in the run folder: `run.json` names the job and its
files, `events.jsonl` holds the events already seen, oldest first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chatclone.errors import ChatcloneError
from chatclone.openai import client
from chatclone.openai.report import JobEvent, JobReporter
from chatclone.train import runs
from chatclone.train.base import TrainRequest
from chatclone.train.runs import RunRecord, save_record
from chatclone.workspace import Workspace

# Which job parameter each dataset file fills, in upload order.
PARTS = (("training_file", "train.jsonl"), ("validation_file", "valid.jsonl"))
EVENTS_FILE = "events.jsonl"
EVENTS_PAGE = 100  # events per request; the API's default page (20) would need more requests
TERMINAL = ("succeeded", "failed", "cancelled")


def follow_job(
    sdk_client: Any,
    run_dir: Path,
    record: RunRecord,
    *,
    poll_seconds: float,
    on_event: Callable[[JobEvent], None],
) -> Any:
    """Poll the run's job until it ends, saving each new event and handing it to `on_event`; the
    final job.

    The job is read before its events, so that once it reads as ended, the events fetched right
    after include everything it logged up to the end.
    """
    job_id = record.extra["job_id"]
    seen = last_event_id(run_dir)
    while True:
        job = sdk_client.fine_tuning.jobs.retrieve(job_id)
        for event in new_events(sdk_client, job_id, seen):
            save_event(run_dir, event)
            on_event(event)
            seen = event.id
        if record.status != job.status:
            record.status = job.status
            save_record(run_dir, record)
        if job.status in TERMINAL:
            return job
        time.sleep(poll_seconds)


def new_events(sdk_client: Any, job_id: str, seen: str | None) -> list[Any]:
    """The job's events after `seen` (all of them when None), oldest first.

    The API lists events newest first and its `after` cursor pages towards older ones, so new
    events are the head of the list down to the last one already seen.
    """
    found: list[Any] = []
    page = sdk_client.fine_tuning.jobs.list_events(job_id, limit=EVENTS_PAGE)
    while True:
        for event in page.data:
            if event.id == seen:
                return found[::-1]
            found.append(event)
        if not page.has_more or not page.data:
            return found[::-1]
        page = sdk_client.fine_tuning.jobs.list_events(
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
    run_dir = ws.runs_dir / runs.check_name(name)
    if run_dir.exists():
        raise ChatcloneError(f"run '{name}' already exists in {ws.runs_dir}: pick another --name")
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
    extra = {
        "job_id": job.id,
        "training_file": job.training_file,
        "validation_file": job.validation_file,
        "started_elsewhere": True,
    }
    dataset_dir = runs.find_dataset(ws, request.dataset) if request.dataset else None
    run_dir.mkdir(parents=True)
    if dataset_dir is not None:
        record = runs.new_record(
            run_dir.name, "openai", job.model, dataset_dir, status=job.status, extra=extra
        )
    else:
        record = RunRecord(
            run_dir.name, "openai", job.model, "", "", "", "", status=job.status, extra=extra
        )
    save_record(run_dir, record)
    return run_dir, record


# --- errors and interruptions ----------------------------------------------------------------


def follow_hint(job_id: str) -> str:
    return f"chatclone train --backend openai --follow {job_id}"


@contextmanager
def api_errors(run_dir: Path | None = None, record: RunRecord | None = None) -> Iterator[None]:
    """OpenAI's errors as one line each (`client.api_errors`). Before a job exists the run is
    marked failed; after, the job may well be running on, so the line says how to pick it up."""
    try:
        with client.api_errors():
            yield
    except client.APIFailure as e:
        message = str(e)
        job_id = record.extra.get("job_id") if record else None
        if job_id:
            message += f"; the job may still be running: `{follow_hint(job_id)}`"
        elif run_dir is not None and record is not None:
            record.status, record.extra["error"] = "failed", message
            save_record(run_dir, record)
        raise client.APIFailure(message) from e.__cause__


@contextmanager
def interruption(run_dir: Path, record: RunRecord, reporter: JobReporter) -> Iterator[None]:
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
        reporter.say(note)
        raise
