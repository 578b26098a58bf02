"""The optional LLM judge, through the official SDK, against a recording OpenAI-compatible server on
127.0.0.1 (a real HTTP server: the SDK's timeout, retries and errors are the real ones)."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chatclone.config import DatasetSettings
from chatclone.errors import ChatcloneError
from chatclone.openai.judge import PROMPT, LLMJudge, judge_from_settings

from helpers import SAMPLE, cli


class Judge(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[tuple[str, dict[str, str], dict[str, Any]]]
    answer: str
    failures: int  # answer this many requests with a 500 first
    delays: dict[str, float]  # seconds to wait before answering a reply
    in_flight: int
    most_in_flight: int
    lock: threading.Lock


class Handler(BaseHTTPRequestHandler):
    server: Judge

    def do_POST(self) -> None:
        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        reply = body["messages"][1]["content"].split("REPLY: ", 1)[1]
        with srv.lock:
            srv.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            failing = srv.failures > 0
            srv.failures -= failing
            srv.in_flight += 1
            srv.most_in_flight = max(srv.most_in_flight, srv.in_flight)
        try:
            time.sleep(srv.delays.get(reply, 0))
            if failing:
                self._send(500, b'{"error": {"message": "the model is still loading"}}')
                return
            # Rates replies about Biscuit the cat high, everything else by the server's answer.
            content = "9" if "biscuit" in reply.casefold() else srv.answer
            message = {"role": "assistant", "content": content}
            self._send(200, json.dumps({"choices": [{"message": message}]}).encode())
        finally:
            with srv.lock:
                srv.in_flight -= 1

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("retry-after-ms", "10")  # keeps the SDK's backoff short in tests
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Judge]:
    srv = Judge(("127.0.0.1", 0), Handler)
    srv.requests, srv.answer, srv.failures, srv.delays = [], "2", 0, {}
    srv.in_flight = srv.most_in_flight = 0
    srv.lock = threading.Lock()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url(srv: Judge) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/v1"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_off_by_default_sends_nothing() -> None:
    assert judge_from_settings(DatasetSettings()) is None


def test_request_body_follows_the_chat_completions_api(server: Judge) -> None:
    judge = LLMJudge(url(server), "tiny-judge", api_key="sk-test")
    assert judge.score(["biscuit is asleep", "ok"], ["how's the cat?", ""]) == [0.9, 0.2]
    requests = sorted(server.requests, key=lambda r: "(none" in r[2]["messages"][1]["content"])
    path, headers, body = requests[0]
    assert path == "/v1/chat/completions"
    assert headers["authorization"] == "Bearer sk-test"
    assert body["model"] == "tiny-judge" and body["temperature"] == 0
    assert body["messages"][0] == {"role": "system", "content": PROMPT}
    assert body["messages"][1]["content"] == "MESSAGE: how's the cat?\nREPLY: biscuit is asleep"
    assert "(none" in requests[1][2]["messages"][1]["content"]


def test_a_judge_without_a_key_never_sends_the_openai_key(
    server: Judge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-local-servers")
    assert LLMJudge(url(server), "m").score(["hm"], ["?"]) == [0.2]
    (_, headers, _), *_ = server.requests
    assert "sk-not-for-local-servers" not in json.dumps(headers)


def test_a_few_requests_at_a_time_and_scores_in_the_order_given(server: Judge) -> None:
    replies = [f"reply {i}" for i in range(8)]
    replies[3] = "reply 3 about biscuit"
    # The first replies take longest, so the answers arrive in roughly reverse order.
    server.delays = {r: 0.05 * (8 - i) for i, r in enumerate(replies)}
    scores = LLMJudge(url(server), "m", workers=4).score(replies, ["?"] * 8)
    assert scores == [0.2, 0.2, 0.2, 0.9, 0.2, 0.2, 0.2, 0.2]
    assert server.most_in_flight == 4  # the pool's size, never more
    assert len(server.requests) == 8


def test_a_server_error_is_retried_then_succeeds(server: Judge) -> None:
    server.failures = 1
    assert LLMJudge(url(server), "m", max_retries=2).score(["biscuit!"], ["?"]) == [0.9]
    assert len(server.requests) == 2  # the 500, then the same request again
    assert server.requests[0][2] == server.requests[1][2]


def test_errors_are_one_clear_line(server: Judge) -> None:
    server.failures = 5
    with pytest.raises(ChatcloneError) as failed:
        LLMJudge(url(server), "m", max_retries=1).score(["hm"], ["?"])
    assert str(failed.value) == (
        f"the judge ({url(server)}) answered 500: the model is still loading"
    )
    assert len(server.requests) == 2  # tried once more, then gave up

    server.failures, server.answer = 0, "I think it's informative"
    with pytest.raises(ChatcloneError, match="not a number"):
        LLMJudge(url(server), "m").score(["hm"], ["?"])


def test_an_unreachable_judge_is_one_clear_line() -> None:
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    with pytest.raises(ChatcloneError) as failed:
        LLMJudge(dead, "m", timeout=2, max_retries=0).score(["hm", "ok"], ["?", "?"])
    assert str(failed.value) == f"could not reach the judge ({dead}): Connection error."


def test_a_judge_that_takes_too_long_times_out(server: Judge) -> None:
    server.delays = {"hm": 2.0}
    start = time.monotonic()
    with pytest.raises(ChatcloneError) as failed:
        LLMJudge(url(server), "m", timeout=0.2, max_retries=0).score(["hm"], ["?"])
    assert str(failed.value) == f"could not reach the judge ({url(server)}): Request timed out."
    assert time.monotonic() - start < 1.5


def test_settings_must_name_a_model_and_an_existing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ChatcloneError, match="judge_model"):
        judge_from_settings(DatasetSettings(judge_url="http://127.0.0.1:1/v1"))
    monkeypatch.delenv("JUDGE_KEY", raising=False)
    settings = DatasetSettings(
        judge_url="http://x/v1", judge_model="m", judge_api_key_env="JUDGE_KEY"
    )
    with pytest.raises(ChatcloneError, match="JUDGE_KEY"):
        judge_from_settings(settings)
    monkeypatch.setenv("JUDGE_KEY", "k")
    judge = judge_from_settings(settings)
    assert judge is not None and judge.api_key == "k" and judge.key_env == "JUDGE_KEY"


def test_a_configured_judge_changes_which_replies_are_trained_on(
    server: Judge, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    assert cli("ingest", SAMPLE["WhatsApp Chat with Family.txt"], "-w", ws).code == 0
    cli("me", "Sam Rivera", "-w", ws)
    plain = json.loads(cli("build", "-w", ws, "--json", "--name", "plain", "--no-memory").out)
    settings = (ws / "chatclone.toml").read_text()
    settings = settings.replace('judge_url = ""', f'judge_url = "{url(server)}"')
    (ws / "chatclone.toml").write_text(settings.replace('judge_model = ""', 'judge_model = "j"'))
    server.answer = "0"  # the judge finds everything but the cat uninformative
    judged = json.loads(cli("build", "-w", ws, "--json", "--name", "judged", "--no-memory").out)
    # One request per reply of mine, each with the message it answers, already pseudonymised.
    replies = [r[2]["messages"][1]["content"].split("\nREPLY: ", 1)[1] for r in server.requests]
    written = {
        m["content"]
        for f in ("train.jsonl", "valid.jsonl")
        for line in (Path(judged["path"]) / f).read_text("utf-8").splitlines()
        for m in json.loads(line)["messages"]
        if m["role"] == "assistant"
    }
    assert written and written <= set(replies)  # every reply in the dataset was judged
    sent = " ".join(r[2]["messages"][1]["content"] for r in server.requests)
    assert "https://" not in sent and "<url 1>" in sent
    assert judged["drops"]["low_information_reply"] > plain["drops"]["low_information_reply"]
    shutil.rmtree(ws / "datasets")
