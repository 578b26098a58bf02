"""`chatclone serve`: load the clone once, then answer OpenAI-compatible requests and the page.

Binds 127.0.0.1 unless told otherwise. Any other address needs an API key: `--api-key KEY`, the
`CHATCLONE_API_KEY` environment variable (kept out of the process list), or `--api-key auto` for
one generated now and printed once. `BackgroundServer` runs the same app in a thread on a free
port, for tests and benchmarks.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from chatclone.chat.engine import Engine, open_engine
from chatclone.chat.server.worker import DEFAULT_MAX_WAITING, GenerationQueue
from chatclone.errors import ChatcloneError
from chatclone.workspace import Workspace

KEY_ENV = "CHATCLONE_API_KEY"
AUTO_KEY = "auto"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


@dataclass
class ServeOptions:
    run: str | None = None
    model: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    api_key: str | None = None
    allowed_hosts: Sequence[str] = field(default_factory=list)
    cors_origins: Sequence[str] = field(default_factory=list)
    max_queue: int = DEFAULT_MAX_WAITING
    memory: bool = True


def resolve_key(
    host: str, given: str | None, env: dict[str, str] | None = None
) -> tuple[str | None, bool]:
    """The API key to require (given, from the environment, or generated for `auto`) and whether
    it was generated (then it is shown once); refused absent when the server would listen beyond
    this machine."""
    env = dict(os.environ) if env is None else env
    key = given if given is not None else env.get(KEY_ENV) or None
    generated = key == AUTO_KEY
    if generated:
        key = "cc-" + secrets.token_urlsafe(24)
    if key is not None and len(key) < 8:
        raise ChatcloneError("an API key must be at least 8 characters (or use --api-key auto)")
    if key is None and not is_loopback(host):
        raise ChatcloneError(
            f"refusing to serve on {host} without an API key: anyone who can reach this machine "
            f"could talk to your clone. Use --api-key auto (a key is made and printed once), "
            f"set {KEY_ENV}, or keep the default --host {DEFAULT_HOST}"
        )
    return key, generated


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def start_queue(
    ws: Workspace, options: ServeOptions, notify: Callable[[str], None] | None = None
) -> GenerationQueue:
    def load() -> Engine:
        return open_engine(ws, options.run, options.model, notify, options.memory)

    if options.max_queue < 0:
        raise ChatcloneError("--max-queue must be 0 or more")
    queue = GenerationQueue(load, options.max_queue)
    queue.start()
    return queue


def run_serve(ws: Workspace, options: ServeOptions) -> None:
    """The command: blocks until Ctrl-C."""
    try:
        import uvicorn

        from chatclone.chat.server.app import ServeConfig, create_app, model_id
    except ImportError as e:
        raise ChatcloneError(
            f"chatclone serve needs the serve extra ({e.name} is missing): "
            "pip install 'chatclone[serve]'"
        ) from e

    key, generated = resolve_key(options.host, options.api_key)
    _check_port_free(options.host, options.port)

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    queue = start_queue(ws, options, say)
    assert queue.engine is not None
    config = ServeConfig(key, options.allowed_hosts, options.cors_origins)
    app = create_app(queue, config)
    url = f"http://{_url_host(options.host)}:{options.port}"
    say(
        f"Serving {queue.engine.target.describe()} as model '{model_id(queue.engine)}' "
        f"({queue.engine.describe_memory()})\n"
        f"  web page:        {url}/\n"
        f"  OpenAI base URL: {url}/v1"
    )
    if generated:
        say(f"  API key (shown only now): {key}")
    elif key:
        say("  API key: required (Authorization: Bearer KEY)")
    say("Ctrl-C stops it.")
    try:
        uvicorn.run(
            app,
            host=options.host,
            port=options.port,
            log_level="warning",
            server_header=False,
            access_log=False,
            timeout_graceful_shutdown=5,  # Ctrl-C: replies in progress get a few seconds
        )
    finally:
        queue.stop()


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return DEFAULT_HOST
    return f"[{host}]" if ":" in host else host


def _check_port_free(host: str, port: int) -> None:
    """Say so before loading a model for a minute, rather than after."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise ChatcloneError(
                f"cannot listen on {host}:{port} ({e.strerror}); is another server running "
                "there? Choose another --port"
            ) from e


class BackgroundServer:
    """The app served by uvicorn in a thread on 127.0.0.1 and a free port (tests, benchmarks).

    `with BackgroundServer(app) as url:` gives `http://127.0.0.1:PORT`."""

    def __init__(self, app: Any, host: str = DEFAULT_HOST, port: int = 0) -> None:
        import uvicorn

        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", server_header=False, access_log=False
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        socket_ = self.server.servers[0].sockets[0]
        host, port = socket_.getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ChatcloneError("the test server did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
