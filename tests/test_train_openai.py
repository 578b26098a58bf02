"""The OpenAI fine-tuning backend against replayed HTTP exchanges (tests/fixtures/openai/).

The real `openai` SDK sends every request; an httpx2 MockTransport answers it from a cassette and
fails the test when the request is not the one the cassette expects next. Nothing touches the
network, and no test needs a real key.
"""

from __future__ import annotations

import functools
import io
import json
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.parser import BytesParser
from email.policy import default as email_policy
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from openai.types.fine_tuning import SupervisedHyperparametersParam, SupervisedMethodParam
from openai.types.fine_tuning.job_create_params import JobCreateParams, Method
from rich.console import Console

from chatclone import render
from chatclone.config import TrainSettings
from chatclone.errors import ChatcloneError
from chatclone.openai.follow import EVENTS_FILE
from chatclone.train.base import TrainRequest
from chatclone.train.openai_ft import POLL_ENV, OpenAIBackend
from chatclone.train.runs import list_runs, load_record
from chatclone.workspace import Workspace

from helpers import build_sample, cli

CASSETTES = Path(__file__).parent / "fixtures" / "openai"
BASE_URL = "https://api.openai.test/v1"  # never resolved: the transport answers every request
KEY = "test-key"
JOB_A = "ftjob-Ab12Cd34Ef56Gh78Ij90Kl1A"
JOB_B = "ftjob-Ab12Cd34Ef56Gh78Ij90Kl2B"
JOB_C = "ftjob-Ab12Cd34Ef56Gh78Ij90Kl3C"


# --- the replay ---------------------------------------------------------------------------------


class Replay:
    """Answers requests from cassettes, in order; remembers what was uploaded and the first
    request that did not match (the SDK would hide an exception raised in a transport behind
    its own error, so `check` raises it again at the end of the test)."""

    def __init__(self, *names: str) -> None:
        self.exchanges: list[dict[str, Any]] = []
        for name in names:
            self.exchanges += json.loads((CASSETTES / name).read_text("utf-8"))
        self.used = 0
        self.uploads: dict[str, bytes] = {}
        self.keys: set[str] = set()
        self.mismatch: str | None = None

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if self.used >= len(self.exchanges):
            self._fail(
                f"unexpected request past the cassette's end: {request.method} {request.url}"
            )
        exchange = self.exchanges[self.used]
        self.used += 1
        self._match(exchange["request"], request)
        self.keys.add(request.headers.get("authorization", ""))
        if "interrupt" in exchange:
            raise KeyboardInterrupt
        answer = exchange["response"]
        return httpx2.Response(answer["status"], headers=answer["headers"], json=answer["json"])

    def _match(self, expected: dict[str, Any], request: httpx2.Request) -> None:
        where = f"exchange {self.used} ({expected['method']} {expected['path']})"
        got = (request.method, request.url.path, dict(request.url.params))
        if got != (expected["method"], expected["path"], expected.get("query", {})):
            self._fail(f"{where}: the backend sent {got}")
        content = request.read()
        if "multipart" in expected:
            fields = self._form(request, content)
            if fields != expected["multipart"]:
                self._fail(f"{where}: form {fields} != {expected['multipart']}")
        elif "body" in expected:
            if json.loads(content) != expected["body"]:
                self._fail(f"{where}: body {content.decode()} != {expected['body']}")
        elif content:
            self._fail(f"{where}: unexpected body {content[:200]!r}")

    def _form(self, request: httpx2.Request, content: bytes) -> dict[str, str]:
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        message = BytesParser(policy=email_policy).parsebytes(head + content)
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if part.get_filename():
                self.uploads[part.get_filename()] = payload
                fields[name] = part.get_filename()
            else:
                fields[name] = payload.decode()
        return fields

    def _fail(self, message: str) -> None:
        self.mismatch = self.mismatch or message
        raise AssertionError(message)

    def check(self) -> None:
        assert self.mismatch is None, self.mismatch
        left = [e["request"]["path"] for e in self.exchanges[self.used :]]
        assert not left, f"requests the backend never made: {left}"
        assert self.keys <= {f"Bearer {KEY}"}

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(
            api_key=KEY,
            base_url=BASE_URL,
            max_retries=0,  # a replayed 429 must reach the backend, not be retried
            http_client=httpx2.Client(transport=httpx2.MockTransport(self)),
        )


@pytest.fixture
def replay(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Replay]]:
    """Replay these cassettes; the SDK client the CLI builds (`openai.OpenAI()`, with the key
    from OPENAI_API_KEY) talks to them."""
    made: list[Replay] = []
    real = openai.OpenAI

    def start(*names: str) -> Replay:
        made.append(Replay(*names))
        transport = httpx2.MockTransport(made[-1])
        factory = functools.partial(
            real,
            base_url=BASE_URL,
            max_retries=0,
            http_client=httpx2.Client(transport=transport),
        )
        monkeypatch.setattr(openai, "OpenAI", factory)
        return made[-1]

    yield start
    for r in made:
        r.check()


# --- the workspace -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def offline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POLL_ENV, "0")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    for var in ("OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample(tmp_path_factory.mktemp("openai") / "ws")


@pytest.fixture
def ws(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(built, copy)
    return copy


def train(ws: Path, *args: str) -> Any:
    return cli("train", "-w", ws, "--backend", "openai", *args)


def record(ws: Path, name: str) -> Any:
    return load_record(ws / "runs" / name)


def events(ws: Path, name: str) -> list[dict[str, Any]]:
    lines = (ws / "runs" / name / EVENTS_FILE).read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines]


def request(**kw: Any) -> TrainRequest:
    kw.setdefault("interactive", False)
    return TrainRequest(TrainSettings(backend="openai"), **kw)


# --- before the network --------------------------------------------------------------------------


def test_dry_run_needs_no_key_and_no_network(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object) -> None:
        raise AssertionError("a dry run opened a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(openai, "OpenAI", no_network)
    monkeypatch.delenv("OPENAI_API_KEY")
    run = train(ws, "--dry-run", "--json")
    assert run.code == 0, run.err
    summary = run.json()
    assert summary["status"] == "dry run" and summary["dataset"] == "sample"
    assert summary["examples"] == 64 and summary["valid_examples"] == 8
    assert summary["tokens_exact"] is False  # no tiktoken encoding offline: said, not hidden
    assert summary["billed_tokens"] == summary["tokens"] * 3
    assert summary["cost_usd"] == pytest.approx(summary["billed_tokens"] * 5.0 / 1e6, abs=1e-4)
    assert summary["prices_as_of"] and summary["price_per_million"] == 5.0
    assert summary["job_request"] == {
        "model": "gpt-4.1-mini-2025-04-14",
        "training_file": "<id of the uploaded train.jsonl>",
        "validation_file": "<id of the uploaded valid.jsonl>",
        "suffix": "chatclone",
        "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}},
    }
    assert [Path(p).name for p in summary["uploads"]] == ["train.jsonl", "valid.jsonl"]
    assert not (ws / "runs").exists()


def test_dry_run_shows_the_price_and_its_date_and_takes_flags(ws: Path) -> None:
    run = train(ws, "--dry-run", "--epochs", "2", "--price-per-million", "10", "--suffix", "sam")
    assert run.code == 0, run.err
    assert "Dry run: nothing was sent to OpenAI" in run.out
    assert "$10.00 per 1M tokens (your price)" in " ".join(run.out.split())
    summary = train(ws, "--dry-run", "--epochs", "2", "--json", "--suffix", "sam").json()
    body = summary["job_request"]
    assert body["suffix"] == "sam" and body["method"]["supervised"]["hyperparameters"] == {
        "n_epochs": 2
    }


def test_the_job_request_uses_only_documented_parameters(ws: Path) -> None:
    body = train(ws, "--dry-run", "--json").json()["job_request"]
    assert set(body) <= set(JobCreateParams.__annotations__)
    assert set(body["method"]) <= set(Method.__annotations__)
    supervised = body["method"]["supervised"]
    assert set(supervised) <= set(SupervisedMethodParam.__annotations__)
    assert set(supervised["hyperparameters"]) <= set(SupervisedHyperparametersParam.__annotations__)


def test_a_broken_dataset_is_refused_before_anything_is_sent(ws: Path) -> None:
    path = ws / "datasets" / "sample" / "train.jsonl"
    lines = path.read_text("utf-8").splitlines()
    broken = json.loads(lines[2])
    broken["messages"].append(dict(broken["messages"][-1]))  # two assistant messages in a row
    path.write_text("\n".join([lines[0], "{not json", json.dumps(broken), *lines[3:]]) + "\n")
    run = train(ws, "--dry-run")
    assert run.code == 1
    assert "OpenAI would reject dataset 'sample'" in run.err
    assert "train.jsonl line 2: not valid JSON" in run.err
    assert "line 3: message" in run.err and "in a row" in run.err
    assert "Traceback" not in run.err


def test_a_missing_key_is_a_clear_error(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    run = train(ws, "--yes")
    assert run.code == 1
    assert "set OPENAI_API_KEY" in run.err and "--dry-run" in run.err
    assert not (ws / "runs").exists()


def test_without_yes_or_a_terminal_the_cost_must_be_confirmed(ws: Path) -> None:
    run = train(ws)
    assert run.code == 1
    assert "pass --yes to confirm the cost of about $0." in run.err


class Keyboard(io.StringIO):
    """stdin on a terminal, with the user's answers already typed."""

    def isatty(self) -> bool:
        return True


def test_no_at_the_question_starts_nothing(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", Keyboard("n\n"))
    monkeypatch.setattr(openai, "OpenAI", None)  # never built
    run = train(ws)
    assert run.code == 0, run.err
    assert "Upload 64 examples (" in run.err and "costing about $0." in run.err
    assert "[y/N]" in run.err
    assert "not started" in run.out
    assert not (ws / "runs").exists()


# --- a whole job ---------------------------------------------------------------------------------


def test_yes_uploads_starts_and_follows_to_the_model(
    ws: Path, replay: Callable[..., Replay]
) -> None:
    cassette = replay("start_succeeded.json")
    run = train(ws, "--yes", "--name", "first", "--json")
    assert run.code == 0, run.err
    summary = run.json()
    model = "ft:gpt-4.1-mini-2025-04-14:chatclone-tests:chatclone:BqZ7x2kM"
    assert summary["status"] == "succeeded" and summary["model"] == model
    assert summary["job_id"] == JOB_A and summary["trained_tokens"] == 33369
    assert summary["run"] == "first" and summary["next"] == "chatclone chat --run first"
    # The files go up exactly as built, weight keys and all.
    dataset = ws / "datasets" / "sample"
    assert cassette.uploads == {
        "chatclone-sample-train.jsonl": (dataset / "train.jsonl").read_bytes(),
        "chatclone-sample-valid.jsonl": (dataset / "valid.jsonl").read_bytes(),
    }
    assert b'"weight": ' in cassette.uploads["chatclone-sample-train.jsonl"]
    rec = record(ws, "first")
    assert rec.model == model and rec.status == "succeeded" and rec.backend == "openai"
    assert rec.dataset == "sample" and len(rec.dataset_sha256) == 64
    assert rec.me == "Sam Rivera" and rec.source == "whatsapp"
    assert rec.extra["job_id"] == JOB_A
    assert rec.extra["training_file"] == "file-TrainAAAAAAAAAAAAAAAAAAA"
    assert rec.extra["validation_file"] == "file-ValidAAAAAAAAAAAAAAAAAAA"
    # Every event once, oldest first, though the API lists the same ones again on each poll.
    saved = events(ws, "first")
    assert [e["id"][-2:] for e in saved] == [f"{i:02}" for i in range(1, 11)]
    assert saved[3]["data"]["train_loss"] == 2.41
    assert "Step 128/192: training loss=1.87" in run.err  # not a terminal: a log line each
    assert "The job has successfully completed" in run.err


def test_the_summary_for_people_names_the_model_and_what_next(
    ws: Path, replay: Callable[..., Replay]
) -> None:
    replay("start_succeeded.json")
    run = train(ws, "--yes")
    assert run.code == 0, run.err
    assert (
        "Fine-tuned model ft:gpt-4.1-mini-2025-04-14:chatclone-tests:chatclone:BqZ7x2kM" in run.out
    )
    assert "Next: chatclone chat --run " in run.out
    assert "training tokens" in run.err and "about $0." in run.err  # the estimate, then the job


def test_interrupted_then_followed_again(ws: Path, replay: Callable[..., Replay]) -> None:
    replay("start_interrupted.json")
    run = train(ws, "--yes", "--name", "second")
    assert run.code == 130
    hint = f"chatclone train --backend openai --follow {JOB_B}"
    assert "keeps running on OpenAI's side" in run.err and hint in run.err
    rec = record(ws, "second")
    assert rec.status == "running" and rec.extra["job_id"] == JOB_B and rec.model is None
    assert len(events(ws, "second")) == 4

    replay("follow_resumed.json")
    run = train(ws, "--follow", JOB_B, "--json")
    assert run.code == 0, run.err
    assert run.json()["run"] == "second" and run.json()["status"] == "succeeded"
    assert record(ws, "second").model.endswith(":Rz4Lk9Qp")
    assert [e["id"][-2:] for e in events(ws, "second")] == [f"{i:02}" for i in range(1, 11)]
    assert len(list_runs(Workspace(ws))) == 1


def test_interrupted_during_the_upload_records_what_was_sent(
    ws: Path, replay: Callable[..., Replay]
) -> None:
    replay("upload_interrupted.json")
    run = train(ws, "--yes", "--name", "early")
    assert run.code == 130
    assert "file-TrainEEEEEEEEEEEEEEEEEEE" in run.err and "--follow JOB_ID" in run.err
    rec = record(ws, "early")
    assert rec.status == "interrupted" and "job_id" not in rec.extra
    assert rec.extra["training_file"] == "file-TrainEEEEEEEEEEEEEEEEEEE"


def test_following_a_job_started_elsewhere_records_it(
    ws: Path, replay: Callable[..., Replay]
) -> None:
    replay("follow_elsewhere.json")
    run = train(ws, "--follow", JOB_C, "--dataset", "sample", "--name", "adopted", "--json")
    assert run.code == 0, run.err
    rec = record(ws, "adopted")
    assert rec.extra["job_id"] == JOB_C and rec.extra["started_elsewhere"] is True
    assert rec.model and rec.model.endswith(":Cc3Dd4Ee") and rec.dataset == "sample"
    assert rec.me == "Sam Rivera"
    # Two pages of events, newest first, saved oldest first.
    assert [e["id"][-2:] for e in events(ws, "adopted")] == [f"{i:02}" for i in range(1, 11)]


def test_a_terminal_shows_a_progress_bar_instead_of_step_lines(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(render, "err", Console(file=screen, force_terminal=True, width=100))
    cassette = Replay("follow_elsewhere.json")
    backend = OpenAIBackend(client=cassette.client(), poll_seconds=0)
    display = render.OpenAIJobDisplay(enabled=True)
    result = backend.train(Workspace(ws), request(follow=JOB_C, job_reporter=display))
    cassette.check()
    assert result["status"] == "succeeded"
    shown = screen.getvalue()
    assert "Checkpoint created at step 128" in shown
    assert "Step 128/192" not in shown  # metrics move the bar instead


class Recorder:
    """A `JobReporter` that keeps what it is told, and whether events came while following."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.events: list[str] = []
        self.following_now = False

    def say(self, text: str) -> None:
        self.lines.append(text)

    @contextmanager
    def following(self) -> Iterator[Callable[[Any], None]]:
        def on_event(event: Any) -> None:
            assert self.following_now
            self.events.append(event.id)

        self.following_now = True
        try:
            yield on_event
        finally:
            self.following_now = False


def test_lines_and_events_go_to_the_reporter_handed_in(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = Replay("follow_elsewhere.json")
    backend = OpenAIBackend(client=cassette.client(), poll_seconds=0)
    recorder = Recorder()
    backend.train(Workspace(ws), request(follow=JOB_C, job_reporter=recorder))
    cassette.check()
    assert recorder.lines == [f"Following fine-tuning job {JOB_C} (run {record_name(ws)})."]
    assert [e[-2:] for e in recorder.events] == [f"{i:02}" for i in range(1, 11)]
    assert capsys.readouterr().err == ""  # nothing drawn behind the reporter's back


def test_without_a_reporter_lines_and_events_are_a_log_on_stderr(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = Replay("follow_elsewhere.json")
    OpenAIBackend(client=cassette.client(), poll_seconds=0).train(
        Workspace(ws), request(follow=JOB_C)
    )
    cassette.check()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(f"Following fine-tuning job {JOB_C}")
    assert len(lines) == 11 and "Step 128/192" in "\n".join(lines)


def record_name(ws: Path) -> str:
    (run_dir, _), *_ = list_runs(Workspace(ws))
    return run_dir.name


def test_cancel(ws: Path, replay: Callable[..., Replay]) -> None:
    replay("start_interrupted.json", "cancel.json")
    assert train(ws, "--yes", "--name", "stopped").code == 130
    run = train(ws, "--cancel", JOB_B, "--json")
    assert run.code == 0, run.err
    assert run.json() == {
        "message": f"Asked OpenAI to cancel fine-tuning job {JOB_B}; it is now cancelled.",
        "job_id": JOB_B,
        "status": "cancelled",
        "run": "stopped",
    }
    assert record(ws, "stopped").status == "cancelled"


def test_a_failed_job_is_recorded_and_exits_non_zero(
    ws: Path, replay: Callable[..., Replay]
) -> None:
    replay("start_failed.json")
    run = train(ws, "--yes", "--name", "broken")
    assert run.code == 1
    assert "invalid training file" in run.err and "Traceback" not in run.err
    rec = record(ws, "broken")
    assert rec.status == "failed" and rec.model is None
    assert rec.extra["error"].startswith("The job failed due to an invalid training file")
    assert events(ws, "broken")[-1]["level"] == "error"


# --- API errors ----------------------------------------------------------------------------------


def test_a_refused_key_is_one_line_and_the_run_says_failed(
    ws: Path, replay: Callable[..., Replay]
) -> None:
    replay("auth_error.json")
    run = train(ws, "--yes", "--name", "nokey")
    assert run.code == 1
    line = (
        "chatclone: error: OpenAI did not accept the API key in OPENAI_API_KEY: Incorrect API key"
    )
    assert line in run.err and "Traceback" not in run.err
    rec = record(ws, "nokey")
    assert rec.status == "failed" and "job_id" not in rec.extra


def test_a_rate_limit_while_following_says_how_to_pick_up_again(
    ws: Path, replay: Callable[..., Replay]
) -> None:
    replay("start_interrupted.json", "follow_rate_limited.json")
    assert train(ws, "--yes", "--name", "busy").code == 130
    run = train(ws, "--follow", JOB_B)
    assert run.code == 1
    assert "rate limit" in run.err and f"--follow {JOB_B}" in run.err
    assert record(ws, "busy").status == "running"  # the job was not touched


def test_an_unreachable_api_is_a_clear_error(ws: Path) -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    client = openai.OpenAI(
        api_key=KEY,
        base_url=BASE_URL,
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(refuse)),
    )
    with pytest.raises(ChatcloneError, match=r"^could not reach OpenAI: Connection error"):
        OpenAIBackend(client=client, poll_seconds=0).train(Workspace(ws), request(cancel=JOB_B))


def test_follow_and_cancel_do_not_mix_with_each_other_or_dry_run(ws: Path) -> None:
    backend = OpenAIBackend(client=object(), poll_seconds=0)
    with pytest.raises(ChatcloneError, match="not both"):
        backend.train(Workspace(ws), request(follow=JOB_A, cancel=JOB_A))
    with pytest.raises(ChatcloneError, match="only applies to starting"):
        backend.train(Workspace(ws), request(follow=JOB_A, dry_run=True))


# --- the cassettes themselves ------------------------------------------------------------------


def test_a_changed_request_fails_the_replay(ws: Path) -> None:
    cassette = Replay("start_succeeded.json")
    backend = OpenAIBackend(client=cassette.client(), poll_seconds=0)
    settings = TrainSettings(backend="openai", epochs=2)  # the cassette pins n_epochs 3
    with pytest.raises(AssertionError, match="n_epochs"):
        backend.train(Workspace(ws), TrainRequest(settings, yes=True, interactive=False))
    assert cassette.mismatch and "exchange 3 (POST /v1/fine_tuning/jobs)" in cassette.mismatch


def test_cassettes_hold_no_secrets() -> None:
    files = sorted(CASSETTES.glob("*.json"))
    assert len(files) >= 9
    for path in files:
        text = path.read_text("utf-8")
        assert "sk-" not in text, path.name
        assert "authorization" not in text.lower(), path.name
        for exchange in json.loads(text):
            assert "headers" not in exchange["request"], path.name
            if "response" in exchange:
                assert set(exchange["response"]["headers"]) <= {
                    "content-type",
                    "x-request-id",
                    "retry-after",
                }
