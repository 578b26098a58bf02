"""OpenAI fine-tuning jobs: plan one without the network, then start, follow again or cancel it.

Validate the dataset as OpenAI would and estimate the cost (`plan_job`, no network and no key),
upload train.jsonl and valid.jsonl, start a supervised fine-tuning job and follow it (`follow`)
until the fine-tuned model id can be recorded in `runs/NAME/run.json`.

run.json is saved after every step, so an interruption anywhere leaves a record of what exists on
OpenAI's side: the uploaded files' ids, then the job's id (`follow_again` picks it up,
`cancel_job` stops it). Lines and events for people go to the `JobReporter` handed in.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatclone.dataset.formats import check_openai_file, example_token_limit
from chatclone.dataset.tokens import TokenCounter, counter_for
from chatclone.errors import ChatcloneError
from chatclone.openai.follow import (
    PARTS,
    adopt_job,
    api_errors,
    check_new_run,
    find_job_run,
    follow_job,
    interruption,
    job_summary,
)
from chatclone.openai.pricing import CostEstimate, estimate_cost
from chatclone.openai.report import JobReporter
from chatclone.openai.tokens import is_openai_model
from chatclone.train import runs
from chatclone.train.base import TrainRequest
from chatclone.train.runs import RunRecord, save_record
from chatclone.workspace import Workspace

SUFFIX_LIMIT = 64  # OpenAI's documented maximum for `suffix`
SHOWN_PROBLEMS = 5


@dataclass
class Plan:
    """Everything a job would be, worked out without the network."""

    dataset_dir: Path
    model: str
    suffix: str
    epochs: int
    examples: dict[str, int]  # per file name: train.jsonl, valid.jsonl
    counter: TokenCounter
    estimate: CostEstimate

    def uploads(self) -> list[tuple[str, Path]]:
        """(the job parameter it fills, file) for each file to upload: valid.jsonl only when it
        has examples, since OpenAI rejects an empty file."""
        return [(key, self.dataset_dir / f) for key, f in PARTS if self.examples.get(f)]

    def job_request(self, training_file: str, validation_file: str | None) -> dict[str, Any]:
        """The body of POST /fine_tuning/jobs: epochs go in `method`, where the API documents
        them now (the top-level `hyperparameters` is deprecated)."""
        body: dict[str, Any] = {"model": self.model, "training_file": training_file}
        if validation_file:
            body["validation_file"] = validation_file
        if self.suffix:
            body["suffix"] = self.suffix
        hyper = {"n_epochs": self.epochs}
        body["method"] = {"type": "supervised", "supervised": {"hyperparameters": hyper}}
        return body


# --- before the network: validate, estimate, confirm ------------------------------------------


def plan_job(ws: Workspace, request: TrainRequest) -> Plan:
    """Check the settings and the dataset as OpenAI would, and count what training costs."""
    settings = request.settings
    model = settings.openai_model
    if not is_openai_model(model):
        raise ChatcloneError(
            f"'{model}' is not an OpenAI model name: set [train] openai_model in chatclone.toml "
            "or pass --base (e.g. gpt-4.1-mini-2025-04-14)"
        )
    if len(settings.suffix) > SUFFIX_LIMIT:
        raise ChatcloneError(f"the suffix '{settings.suffix}' is over {SUFFIX_LIMIT} characters")
    settings.check()
    dataset_dir = runs.find_dataset(ws, request.dataset)
    counter = counter_for(model)
    _validate(dataset_dir, counter, model)
    examples = {f: len(_lines(dataset_dir / f)) for _, f in PARTS}
    tokens = sum(counter.count(_messages(line)) for line in _lines(dataset_dir / "train.jsonl"))
    estimate = estimate_cost(
        tokens, settings.epochs, model, request.price_per_million, exact_tokens=counter.exact
    )
    return Plan(dataset_dir, model, settings.suffix, settings.epochs, examples, counter, estimate)


def _validate(dataset_dir: Path, counter: TokenCounter, model: str) -> None:
    limit = example_token_limit(model)
    problems = check_openai_file(dataset_dir / "train.jsonl", counter, limit, limit=SHOWN_PROBLEMS)
    valid = dataset_dir / "valid.jsonl"
    if valid.is_file():  # a validation file has no minimum size
        problems += check_openai_file(valid, counter, limit, min_examples=0, limit=SHOWN_PROBLEMS)
    if problems:
        raise ChatcloneError(
            f"OpenAI would reject dataset '{dataset_dir.name}': " + "; ".join(problems)
        )


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [line for line in path.read_text("utf-8").splitlines() if line.strip()]


def _messages(line: str) -> list[dict[str, object]]:
    messages: list[dict[str, object]] = json.loads(line)["messages"]
    return messages


def cost_text(estimate: CostEstimate) -> str:
    return f"${estimate.usd:,.2f}" if estimate.usd is not None else "an unknown amount"


def describe(plan: Plan) -> str:
    """The estimate in one paragraph: what is sent, how many tokens, what it costs and why."""
    e = plan.estimate
    tokens = f"{e.tokens:,} training tokens"
    if not e.exact_tokens:
        tokens += f" ({plan.counter.note})"
    if e.price_per_million is None:
        price = f"no known price for {plan.model} (pass --price-per-million)"
    else:
        source = f"OpenAI's price as of {e.prices_as_of}" if e.prices_as_of else "your price"
        price = f"${e.price_per_million:,.2f} per 1M tokens ({source})"
    return (
        f"Dataset {plan.dataset_dir.name}: {plan.examples['train.jsonl']} training and "
        f"{plan.examples['valid.jsonl']} validation examples for {plan.model}, {tokens}. "
        f"{plan.epochs} epochs = {e.billed_tokens:,} billed tokens at {price}: about "
        f"{cost_text(e)}."
    )


def confirmed(plan: Plan, request: TrainRequest) -> bool:
    """Whether to spend the money: --yes, else the answer to a question asked on a terminal."""
    if request.yes:
        return True
    cost = cost_text(plan.estimate)
    if not (request.interactive and sys.stdin.isatty()):
        raise ChatcloneError(f"pass --yes to confirm the cost of about {cost}")
    import click

    question = (
        f"Upload {plan.examples['train.jsonl']} examples ({plan.estimate.tokens:,} tokens) to "
        f"OpenAI and start a fine-tuning job costing about {cost}?"
    )
    try:
        return click.confirm(question, default=False, err=True)
    except click.Abort:  # end of input or Ctrl-C at the question: nothing was started
        return False


def dry_run_summary(plan: Plan) -> dict[str, Any]:
    ids = {key: f"<id of the uploaded {path.name}>" for key, path in plan.uploads()}
    request = plan.job_request(ids["training_file"], ids.get("validation_file"))
    return {
        "message": f"{describe(plan)}\nDry run: nothing was sent to OpenAI.",
        "status": "dry run",
        **estimate_fields(plan),
        "uploads": [str(path) for _, path in plan.uploads()],
        "job_request": request,
        "next": f"chatclone train --backend openai --dataset {plan.dataset_dir.name}",
    }


def declined_summary(plan: Plan) -> dict[str, Any]:
    declined = {"message": "Not started: nothing was uploaded.", "status": "not started"}
    return {**declined, **estimate_fields(plan)}


def estimate_fields(plan: Plan) -> dict[str, Any]:
    e = plan.estimate
    return {
        "dataset": plan.dataset_dir.name,
        "base": plan.model,
        "examples": plan.examples["train.jsonl"],
        "valid_examples": plan.examples["valid.jsonl"],
        "tokens": e.tokens,
        "tokens_exact": e.exact_tokens,
        "token_counter": plan.counter.name,
        "epochs": e.epochs,
        "billed_tokens": e.billed_tokens,
        "cost_usd": e.usd,
        "price_per_million": e.price_per_million,
        "prices_as_of": e.prices_as_of,
        "cost_note": e.note,
    }


# --- on the network: start, follow again, cancel -----------------------------------------------


def start_job(
    client: Any,
    ws: Workspace,
    request: TrainRequest,
    plan: Plan,
    reporter: JobReporter,
    poll_seconds: float,
) -> dict[str, Any]:
    """Upload the dataset, start the job and follow it to its end; the summary."""
    run_dir, record = new_run(ws, request.name, plan)
    with api_errors(run_dir, record), interruption(run_dir, record, reporter):
        for key, path in plan.uploads():
            record.extra[key] = upload(client, path, plan.dataset_dir.name, reporter)
            save_record(run_dir, record)
        files = (record.extra["training_file"], record.extra.get("validation_file"))
        job = client.fine_tuning.jobs.create(**plan.job_request(*files))
        record.extra["job_id"], record.status = job.id, job.status
        save_record(run_dir, record)
        reporter.say(
            f"Started fine-tuning job {job.id} (run {record.name}). Ctrl-C stops following "
            "it here, not the job."
        )
        job = _follow(client, run_dir, record, reporter, poll_seconds)
    return job_summary(run_dir, record, job)


def follow_again(
    client: Any, ws: Workspace, request: TrainRequest, reporter: JobReporter, poll_seconds: float
) -> dict[str, Any]:
    """Follow `request.follow` to its end, recording it first when it was started elsewhere."""
    job_id = str(request.follow)
    found = find_job_run(ws, job_id)
    if found is None:  # started elsewhere (another machine, the dashboard): record it now
        with api_errors():
            job = client.fine_tuning.jobs.retrieve(job_id)
        found = adopt_job(ws, request, job)
    run_dir, record = found
    reporter.say(f"Following fine-tuning job {job_id} (run {record.name}).")
    with api_errors(run_dir, record), interruption(run_dir, record, reporter):
        job = _follow(client, run_dir, record, reporter, poll_seconds)
    return job_summary(run_dir, record, job)


def cancel_job(client: Any, ws: Workspace, job_id: str) -> dict[str, Any]:
    """Ask OpenAI to cancel the job, and record its new status in its run, if there is one."""
    with api_errors():
        job = client.fine_tuning.jobs.cancel(job_id)
    found = find_job_run(ws, job_id)
    if found is not None:
        found[1].status = job.status
        save_record(*found)
    return {
        "message": f"Asked OpenAI to cancel fine-tuning job {job_id}; it is now {job.status}.",
        "job_id": job_id,
        "status": job.status,
        "run": found[1].name if found else None,
    }


def _follow(
    client: Any, run_dir: Path, record: RunRecord, reporter: JobReporter, poll_seconds: float
) -> Any:
    with reporter.following() as on_event:
        return follow_job(client, run_dir, record, poll_seconds=poll_seconds, on_event=on_event)


# --- runs and uploads --------------------------------------------------------------------------


def new_run(ws: Workspace, name: str | None, plan: Plan) -> tuple[Path, RunRecord]:
    """runs/NAME/ with its first run.json, before anything is sent."""
    run_dir = check_new_run(ws, name or runs.new_run_name(ws))
    run_dir.mkdir(parents=True)
    record = runs.new_record(
        run_dir.name,
        "openai",
        plan.model,
        plan.dataset_dir,
        status="uploading",
        extra={"suffix": plan.suffix, "epochs": plan.epochs, "cost_usd": plan.estimate.usd},
    )
    save_record(run_dir, record)
    return run_dir, record


def upload(client: Any, path: Path, dataset: str, reporter: JobReporter) -> str:
    """Upload one file unchanged (weight keys included: they are OpenAI's own); its file id.

    The name says where it came from in OpenAI's storage list ("chatclone-NAME-train.jsonl").
    """
    reporter.say(f"Uploading {path} …")
    name = f"chatclone-{dataset}-{path.name}"
    uploaded = client.files.create(file=(name, path.read_bytes()), purpose="fine-tune")
    return str(uploaded.id)
