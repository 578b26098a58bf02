"""The one OpenAI client path (`chatclone.openai.client`): the key, the SDK, the errors, and that
nothing else in the source reads a key or builds a client."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

import chatclone
from chatclone.errors import ChatcloneError
from chatclone.openai import client
from chatclone.openai.client import APIFailure, api_errors, describe_api_error

SRC = Path(chatclone.__file__).parent
HOME = SRC / "openai" / "client.py"


def modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path, ast.parse(path.read_text("utf-8"), str(path))


def environment_reads(tree: ast.Module) -> Iterator[ast.expr]:
    """What each `os.environ.get(X)`, `os.getenv(X)` and `os.environ[X]` reads: the X's."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            name = ast.unparse(node.func)
            if name in ("os.environ.get", "os.getenv", "environ.get", "getenv"):
                yield node.args[0]
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in (
            "os.environ",
            "environ",
        ):
            yield node.slice


def test_the_key_is_read_in_one_place_only() -> None:
    """Only `client.api_key` reads the environment for a key; elsewhere OPENAI_API_KEY appears in
    help text only, never as a value of its own (as a lookup would need)."""
    elsewhere = []
    for path, tree in modules():
        if path == HOME:
            (read,) = environment_reads(tree)  # the one, in api_key()
            continue
        for read in environment_reads(tree):
            if "key" in ast.unparse(read).casefold():
                elsewhere.append(f"{path.relative_to(SRC)}: {ast.unparse(read)}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value == client.KEY_ENV:
                elsewhere.append(f"{path.relative_to(SRC)}:{node.lineno}: {client.KEY_ENV!r}")
    assert not elsewhere


def test_the_sdk_client_is_built_in_one_place_only() -> None:
    builders = {
        str(path.relative_to(SRC))
        for path, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("OpenAI")
    }
    assert builders == {"openai/client.py"}


def test_inside_the_package_import_openai_is_the_sdk() -> None:
    assert client.import_openai() is openai
    made = client.make_client("sk-x", base_url="http://127.0.0.1:1/v1", timeout=3, max_retries=0)
    assert isinstance(made, openai.OpenAI)
    assert (made.api_key, str(made.base_url), made.max_retries) == (
        "sk-x",
        "http://127.0.0.1:1/v1/",
        0,
    )


def test_without_the_sdk_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # as if not installed
    with pytest.raises(ChatcloneError) as missing:
        client.make_client("sk-x", needed_by="the openai backend")
    assert str(missing.value) == (
        "the openai backend needs the openai package: pip install 'chatclone[train]'"
    )


def test_the_key_comes_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-a")
    monkeypatch.setenv("MY_JUDGE_KEY", "")
    assert client.api_key() == "sk-a"
    assert client.api_key("MY_JUDGE_KEY") is None  # empty counts as unset
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ChatcloneError, match=r"^set it$"):
        client.require_api_key("set it")


def failing(answer: Callable[[httpx2.Request], httpx2.Response]) -> openai.OpenAI:
    transport = httpx2.MockTransport(answer)
    return openai.OpenAI(
        api_key="sk-x", max_retries=0, http_client=httpx2.Client(transport=transport)
    )


def status(code: int, message: str) -> Callable[[httpx2.Request], httpx2.Response]:
    return lambda request: httpx2.Response(code, json={"error": {"message": message}})


def refuse(request: httpx2.Request) -> Any:
    raise httpx2.ConnectError("connection refused", request=request)


@pytest.mark.parametrize(
    ("answer", "line"),
    [
        (
            status(401, "Incorrect API key provided"),
            "OpenAI did not accept the API key in OPENAI_API_KEY: Incorrect API key provided",
        ),
        (
            status(403, "Not allowed\nin this region"),
            "OpenAI refused the request: Not allowed in this region",
        ),
        (
            status(429, "Quota exceeded"),
            "OpenAI's rate limit or quota was reached (wait, or check billing): Quota exceeded",
        ),
        (status(503, "Overloaded"), "OpenAI answered 503: Overloaded"),
        (refuse, "could not reach OpenAI: Connection error."),
    ],
)
def test_every_kind_of_api_error_is_one_line(
    answer: Callable[[httpx2.Request], httpx2.Response], line: str
) -> None:
    with pytest.raises(APIFailure) as failed, api_errors():
        failing(answer).models.list()
    assert str(failed.value) == line
    assert isinstance(failed.value.__cause__, openai.APIError)  # kept for --debug


def test_the_line_names_the_api_and_where_its_key_came_from() -> None:
    with pytest.raises(openai.AuthenticationError) as refused:
        failing(status(401, "no")).models.list()
    line = describe_api_error(refused.value, "the judge (http://x/v1)", "JUDGE_KEY")
    assert line == "the judge (http://x/v1) did not accept the API key in JUDGE_KEY: no"
    assert describe_api_error(refused.value, "a local server", None).startswith(
        "a local server did not accept the API key: "
    )
