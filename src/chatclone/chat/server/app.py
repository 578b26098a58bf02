"""The Starlette app behind `chatclone serve`.

Routes: `GET /v1/models`, `POST /v1/chat/completions` (streamed or not), `GET /api/clone` (what
the page shows: whose clone, which run, memory on or off), `GET /health`, and the page at `/`
with its files under `/static/`.

Safe by default, in this order for every request:
1. the Host header must name this machine (an IP address, `localhost`, or a name allowed with
   `--allowed-host`): a web page elsewhere that rebinds its own domain name to 127.0.0.1 (DNS
   rebinding) sends its own name, and is refused; so is a request whose `Origin` is neither this
   server nor one given with `--cors-origin` (a page elsewhere cannot even make the clone write);
2. CORS headers only for the origins given (`--cors-origin`), none by default;
3. with an API key, every `/v1/` and `/api/` request must carry it (`Authorization: Bearer KEY`);
   the page itself holds no data and asks for the key.
No external assets, no telemetry, no server header.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatclone.chat.engine import DEFAULT_PARTNER, Engine
from chatclone.chat.server.api import (
    DONE,
    ApiError,
    CompletionRequest,
    Reply,
    error_body,
    models_list,
    parse_request,
    sse,
)
from chatclone.chat.server.worker import Event, GenerationQueue, Job, QueueFull
from chatclone.errors import ChatcloneError

STATIC = Path(__file__).parent / "static"
LOCAL_NAMES = ("localhost",)
PROTECTED = ("/v1/", "/api/")
# The page and its files load only from this server: no CDN, no inline script or style.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
CLIENT_CLOSED = 499  # nginx's code for "the client closed the connection": nobody reads it


@dataclass
class ServeConfig:
    api_key: str | None = None
    allowed_hosts: Sequence[str] = ()
    """Host names besides this machine's addresses and `localhost` (e.g. a LAN name)."""
    cors_origins: Sequence[str] = ()
    model_id: str = ""
    """The id clients send as `model` (default: the run's name)."""
    started: int = field(default_factory=lambda: int(time.time()))


def create_app(queue: GenerationQueue, config: ServeConfig) -> Starlette:
    """The app for a started `queue` (its engine loaded)."""
    engine = queue.engine
    if engine is None:
        raise ChatcloneError("start the generation queue before making the app")
    served = config.model_id or model_id(engine)
    handlers = _Handlers(queue, engine, served, config)
    routes = [
        Route("/", handlers.page, methods=["GET"]),
        Route("/health", handlers.health, methods=["GET"]),
        Route("/api/clone", handlers.clone, methods=["GET"]),
        Route("/v1/models", handlers.models, methods=["GET"]),
        Route("/v1/models/{model:path}", handlers.model, methods=["GET"]),
        Route("/v1/chat/completions", handlers.completions, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(SiteCheck, allowed=config.allowed_hosts, origins=config.cors_origins)]
    if config.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )
    middleware.append(Middleware(KeyCheck, key=config.api_key))
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={})
    app.state.queue = queue
    return app


def model_id(engine: Engine) -> str:
    """What clients call the clone: its run's name (or the OpenAI model it fronts)."""
    return engine.target.run or engine.target.model


class _Handlers:
    def __init__(
        self, queue: GenerationQueue, engine: Engine, served: str, config: ServeConfig
    ) -> None:
        self.queue = queue
        self.engine = engine
        self.served = served
        self.config = config

    async def page(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "waiting": self.queue.waiting})

    async def clone(self, request: Request) -> Response:
        target = self.engine.target
        me = target.identity.me
        return JSONResponse(
            {
                "model": self.served,
                "name": me,
                "run": target.run,
                "base": target.model,
                "backend": target.backend,
                "memory": self.engine.memory is not None,
                "partner": DEFAULT_PARTNER,
                "notice": f"An AI clone of {me}, trained on their messages: its replies are "
                f"generated, not written by {me}.",
            }
        )

    async def models(self, request: Request) -> Response:
        return JSONResponse(models_list(self.served, self.config.started))

    async def model(self, request: Request) -> Response:
        name = request.path_params["model"]
        if name != self.served:
            return _error(
                ApiError(404, f"The model '{name}' does not exist", code="model_not_found")
            )
        return JSONResponse(models_list(self.served, self.config.started)["data"][0])

    async def completions(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError as e:
            return _error(ApiError(400, f"the request body is not valid JSON ({e})"))
        try:
            parsed = parse_request(body, self.served)
            job = Job(parsed, asyncio.get_running_loop())
            self.queue.submit(job)
        except ApiError as e:
            return _error(e)
        except QueueFull as e:
            return _error(
                ApiError(
                    503,
                    f"the clone is busy: {self.queue.max_waiting} requests are waiting; retry "
                    f"in about {e.retry_after} s",
                    "server_error",
                    code="queue_full",
                    headers={"Retry-After": str(e.retry_after)},
                )
            )
        # Until a stream takes the job over, this request owns it: the watcher stops it when the
        # caller disconnects (waiting, or mid-reply), and so does anything ending the handler.
        watcher = asyncio.create_task(_cancel_on_disconnect(request, job))
        streaming = False
        try:
            first = await job.events.get()
            if first.kind == "error":
                return _error(_failure(first.error))
            if first.kind == "gone":
                return Response(status_code=CLIENT_CLOSED)
            reply = Reply(self.served)
            if parsed.stream:
                streaming = True
                return JobStream(job, _chunks(job, parsed, reply, first))
            return await _whole(job, reply, first)
        finally:
            watcher.cancel()
            if not streaming:
                job.cancel()


async def _cancel_on_disconnect(request: Request, job: Job) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
    job.cancel()
    job.events.put_nowait(Event("gone"))


async def _whole(job: Job, reply: Reply, event: Event) -> Response:
    text: list[str] = []
    while event.kind == "piece":
        text.append(event.text)
        event = await job.events.get()
    if event.kind == "error":
        return _error(_failure(event.error))
    if event.kind == "gone":
        return Response(status_code=CLIENT_CLOSED)
    assert event.usage is not None and event.finish is not None
    return JSONResponse(reply.completion("".join(text), event.finish, event.usage))


async def _chunks(
    job: Job, request: CompletionRequest, reply: Reply, event: Event
) -> AsyncIterator[bytes]:
    yield sse(reply.chunk({"role": "assistant", "content": ""}))
    while event.kind == "piece":
        yield sse(reply.chunk({"content": event.text}))
        event = await job.events.get()
    if event.kind == "error":
        error = _failure(event.error)
        yield sse(error_body(error.message, error.type, error.code))
        return
    if event.kind == "gone":
        return
    yield sse(reply.chunk({}, event.finish))
    if request.include_usage and event.usage is not None:
        yield sse(reply.usage_chunk(event.usage))
    yield DONE


class JobStream(StreamingResponse):
    """A server-sent event stream that stops its job however it ends (a closed connection
    included)."""

    def __init__(self, job: Job, content: AsyncIterator[bytes]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self.job = job

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.job.cancel()


def _failure(error: BaseException | None) -> ApiError:
    if isinstance(error, ApiError):
        return error
    if isinstance(error, ChatcloneError):  # the prompt does not fit, or the like: the request's
        return ApiError(400, str(error), code="invalid_request")
    return ApiError(500, f"generation failed: {error}", "server_error")


def _error(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


# --- the guards ------------------------------------------------------------------------------


class SiteCheck:
    """Refuses a request that does not come to this machine from this machine's pages: a Host
    header that is not this server's (DNS rebinding), or an `Origin` other than the server's own
    or one given with `--cors-origin` (a page elsewhere posting to 127.0.0.1 without reading the
    answer, which CORS alone does not stop). Adds the security headers to every response."""

    def __init__(
        self, app: ASGIApp, allowed: Sequence[str] = (), origins: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.allowed = {_host_name(h) for h in (*LOCAL_NAMES, *allowed)}
        self.origins = {o.rstrip("/").lower() for o in origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host").decode("latin-1")
        refusal = self.refusal(host, _header(scope, b"origin").decode("latin-1"))
        if refusal is not None:
            code, message = refusal
            response = JSONResponse(error_body(message, "invalid_request_error", code), 403)
            await response(scope, receive, _secured(send))
            return
        await self.app(scope, receive, _secured(send))

    def refusal(self, host: str, origin: str) -> tuple[str, str] | None:
        if not self.accepts(host):
            return (
                "host_not_allowed",
                f"Host '{host[:100]}' is not this server's: requests must name it by IP address "
                "or localhost (start it with --allowed-host NAME to allow a name)",
            )
        if origin and origin.rstrip("/").lower() not in self.origins:
            scheme, _, rest = origin.lower().partition("://")
            if scheme not in ("http", "https") or rest.rstrip("/") != host.lower():
                return (
                    "origin_not_allowed",
                    f"Requests from pages at '{origin[:100]}' are refused (start the server with "
                    "--cors-origin ORIGIN to allow them)",
                )
        return None

    def accepts(self, host: str) -> bool:
        name = _host_name(host)
        if not name:
            return False
        if name in self.allowed:
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True  # an address, not a name: no other site's page can send it as its own


def _secured(send: Send) -> Send:
    """`send` with the security headers added to the response's start (the page's CSP on HTML)."""

    async def secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in SECURITY_HEADERS.items():
                headers.setdefault(name, value)
            if headers.get("content-type", "").startswith("text/html"):
                headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        await send(message)

    return secured


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


class KeyCheck:
    """With a key, `/v1/` and `/api/` need `Authorization: Bearer KEY` (401 otherwise)."""

    def __init__(self, app: ASGIApp, key: str | None = None) -> None:
        self.app = app
        self.key = key.encode() if key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.key is not None
            and scope["type"] == "http"
            and scope["method"] != "OPTIONS"
            and scope["path"].startswith(PROTECTED)
            and not self._valid(_header(scope, b"authorization"))
        ):
            response = JSONResponse(
                error_body(
                    "Incorrect or missing API key: send it as 'Authorization: Bearer KEY' (the "
                    "key `chatclone serve` was started with)",
                    "invalid_request_error",
                    "invalid_api_key",
                ),
                401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _valid(self, header: bytes) -> bool:
        assert self.key is not None
        scheme, _, given = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.key)


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value)
    return b""
