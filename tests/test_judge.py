"""The optional LLM judge, against a recording OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from chatclone.config import DatasetSettings
from chatclone.dataset.judge import PROMPT, LLMJudge, judge_from_settings
from chatclone.errors import ChatcloneError

from helpers import SAMPLE, cli


class Judge(HTTPServer):
    requests: list[tuple[str, dict[str, str], dict[str, Any]]]
    answer: str


class Handler(BaseHTTPRequestHandler):
    server: Judge

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, dict(self.headers), body))
        reply = body["messages"][1]["content"].split("REPLY: ", 1)[1]
        # Rates replies about Biscuit the cat high, everything else by the server's answer.
        content = "9" if "biscuit" in reply.casefold() else self.server.answer
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Judge]:
    srv = Judge(("127.0.0.1", 0), Handler)
    srv.requests, srv.answer = [], "2"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url(srv: Judge) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/v1"


def test_off_by_default_sends_nothing() -> None:
    assert judge_from_settings(DatasetSettings()) is None


def test_request_body_follows_the_chat_completions_api(server: Judge) -> None:
    judge = LLMJudge(url(server), "tiny-judge", api_key="sk-test")
    assert judge.score(["biscuit is asleep", "ok"], ["how's the cat?", ""]) == [0.9, 0.2]
    path, headers, body = server.requests[0]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-test"
    assert body["model"] == "tiny-judge" and body["temperature"] == 0
    assert body["messages"][0] == {"role": "system", "content": PROMPT}
    assert body["messages"][1]["content"] == "MESSAGE: how's the cat?\nREPLY: biscuit is asleep"
    assert "(none" in server.requests[1][2]["messages"][1]["content"]


def test_answers_that_are_not_numbers_and_dead_endpoints_are_clear_errors(server: Judge) -> None:
    server.answer = "I think it's informative"
    with pytest.raises(ChatcloneError, match="not a number"):
        LLMJudge(url(server), "m").score(["hm"], ["?"])
    with pytest.raises(ChatcloneError, match="could not be reached"):
        LLMJudge("http://127.0.0.1:9/v1", "m", timeout=2).score(["hm"], ["?"])


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
    assert judge is not None and judge.api_key == "k"


def test_a_configured_judge_changes_which_replies_are_trained_on(
    server: Judge, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    assert cli("ingest", SAMPLE["WhatsApp Chat with Family.txt"], "-w", ws).code == 0
    cli("me", "Sam Rivera", "-w", ws)
    plain = json.loads(cli("build", "-w", ws, "--json", "--name", "plain").out)
    settings = (ws / "chatclone.toml").read_text()
    settings = settings.replace('judge_url = ""', f'judge_url = "{url(server)}"')
    (ws / "chatclone.toml").write_text(settings.replace('judge_model = ""', 'judge_model = "j"'))
    server.answer = "0"  # the judge finds everything but the cat uninformative
    judged = json.loads(cli("build", "-w", ws, "--json", "--name", "judged").out)
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
