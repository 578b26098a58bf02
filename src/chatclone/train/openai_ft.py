"""The OpenAI backend: `chatclone train --backend openai` fine-tunes through OpenAI's API.

Validate the dataset as OpenAI would, estimate the cost and ask before spending it (`--yes` skips
the question; `--dry-run` stops there, without touching the network or needing a key), then
upload, start and follow the job until the fine-tuned model id is recorded in
`runs/NAME/run.json`; `--follow JOB_ID` picks a job up again and `--cancel JOB_ID` stops it.
The work is `chatclone.openai.jobs`; this class picks which part runs, and builds the SDK client
(`chatclone.openai.client`) only once the network is really needed.
"""

from __future__ import annotations

import math
import os
from typing import Any

from chatclone.errors import ChatcloneError
from chatclone.openai import jobs
from chatclone.openai.client import KEY_ENV, make_client, require_api_key
from chatclone.openai.follow import check_new_run
from chatclone.train.base import TrainRequest
from chatclone.workspace import Workspace

POLL_ENV = "CHATCLONE_OPENAI_POLL"  # seconds between polls; tests set 0


class OpenAIBackend:
    """Fine-tuning through OpenAI's API (see the module docstring)."""

    def __init__(self, client: Any | None = None, poll_seconds: float = 10.0) -> None:
        self.client = client
        self.poll_seconds = _poll_seconds(poll_seconds)

    def train(self, ws: Workspace, request: TrainRequest) -> dict[str, Any]:
        _check_modes(request)
        reporter = request.job_reporter
        if request.cancel:
            return jobs.cancel_job(self._client(), ws, request.cancel)
        if request.follow:
            return jobs.follow_again(self._client(), ws, request, reporter, self.poll_seconds)
        plan = jobs.plan_job(ws, request)
        if request.dry_run:
            return jobs.dry_run_summary(plan)
        if request.name:
            check_new_run(ws, request.name)  # before the question, not after a "yes"
        reporter.say(jobs.describe(plan))
        if not jobs.confirmed(plan, request):
            return jobs.declined_summary(plan)
        return jobs.start_job(self._client(), ws, request, plan, reporter, self.poll_seconds)

    def _client(self) -> Any:
        """The SDK client, built on first use: only here are the key and the SDK needed."""
        if self.client is None:
            key = require_api_key(
                f"set {KEY_ENV} to your OpenAI API key to train with the openai backend "
                "(`--dry-run` validates the dataset and estimates the cost without one)"
            )
            self.client = make_client(key, needed_by="the openai backend")
        return self.client


def _check_modes(request: TrainRequest) -> None:
    if request.follow and request.cancel:
        raise ChatcloneError("pass --follow or --cancel, not both")
    if request.dry_run and (request.follow or request.cancel):
        raise ChatcloneError("--dry-run only applies to starting a job")
    if request.resume:
        raise ChatcloneError(
            "--resume continues a local run; an OpenAI job is picked up with --follow JOB_ID"
        )


def _poll_seconds(default: float) -> float:
    value = os.environ.get(POLL_ENV)
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ChatcloneError(f"{POLL_ENV} must be a number of seconds, not '{value}'")
    return seconds
