"""The `openai` SDK, its key and its errors, in one place for training, chat and the judge alike.

`api_key()` is the only place a key is read from the environment (OPENAI_API_KEY unless another
variable is named); `import_openai()` the only import of the SDK, done when the network is really
needed, with an install hint when it is missing; `make_client()` the only factory of clients; and
`describe_api_error()` turns any of the SDK's errors into one line that says what went wrong.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from chatclone.errors import ChatcloneError

if TYPE_CHECKING:
    import openai

KEY_ENV = "OPENAI_API_KEY"
INSTALL_HINT = "pip install 'chatclone[train]'"
# The SDK refuses to build a client without a key; a local server (llama.cpp, vLLM) asks for none
# and ignores this one. Passing it also keeps the SDK from sending OPENAI_API_KEY there instead.
NO_KEY = "not-needed"
T = TypeVar("T")
R = TypeVar("R")


class APIFailure(ChatcloneError):
    """A request to an OpenAI(-compatible) API failed; the message says why in one line."""


def api_key(env: str = KEY_ENV) -> str | None:
    """The API key in the environment variable `env`; None when it is unset or empty."""
    return os.environ.get(env) or None


def require_api_key(missing: str, env: str = KEY_ENV) -> str:
    """The API key in `env`, or a ChatcloneError saying `missing`."""
    key = api_key(env)
    if key is None:
        raise ChatcloneError(missing)
    return key


def import_openai(needed_by: str = "talking to OpenAI") -> ModuleType:
    """The `openai` SDK (an optional dependency), or a clear error saying how to install it."""
    try:
        import openai
    except ImportError:
        raise ChatcloneError(f"{needed_by} needs the openai package: {INSTALL_HINT}") from None
    return openai


def make_client(
    key: str,
    *,
    base_url: str | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    needed_by: str = "talking to OpenAI",
) -> openai.OpenAI:
    """An SDK client with this key. What is not given is left to the SDK: its default endpoint
    (or $OPENAI_BASE_URL), its timeout and its retries (2, with backoff)."""
    sdk = import_openai(needed_by)
    options: dict[str, Any] = {"api_key": key}
    if base_url is not None:
        options["base_url"] = base_url
    if timeout is not None:
        options["timeout"] = timeout
    if max_retries is not None:
        options["max_retries"] = max_retries
    client: openai.OpenAI = sdk.OpenAI(**options)
    return client


def describe_api_error(error: Exception, who: str = "OpenAI", key_env: str | None = KEY_ENV) -> str:
    """One of the SDK's errors as one line: what happened, then the API's own words.

    `who` names the API in the line ("OpenAI", "the judge (URL)"); `key_env` is the variable the
    key came from, when there is one."""
    sdk = import_openai()
    body = getattr(error, "body", None)
    detail = " ".join(
        str((body if isinstance(body, dict) else {}).get("message") or _message(error)).split()
    )
    in_env = f" in {key_env}" if key_env else ""
    kinds = (
        (sdk.AuthenticationError, f"{who} did not accept the API key{in_env}"),
        (sdk.PermissionDeniedError, f"{who} refused the request"),
        (sdk.RateLimitError, f"{who}'s rate limit or quota was reached (wait, or check billing)"),
        (sdk.APIConnectionError, f"could not reach {who}"),
        (sdk.APIStatusError, f"{who} answered {getattr(error, 'status_code', '?')}"),
    )
    what = next((text for kind, text in kinds if isinstance(error, kind)), f"{who} API error")
    return f"{what}: {detail}" if detail else what


@contextmanager
def api_errors(who: str = "OpenAI", key_env: str | None = KEY_ENV) -> Iterator[None]:
    """Turn the SDK's errors raised inside into an `APIFailure` with one clear line."""
    sdk = import_openai()
    try:
        yield
    except sdk.APIError as e:
        raise APIFailure(describe_api_error(e, who, key_env)) from e


def _message(error: Exception) -> str:
    message = getattr(error, "message", None)
    return message if isinstance(message, str) else str(error)


def in_flight(
    work: Callable[[T], R], items: Sequence[T], workers: int, name: str = "requests"
) -> list[R]:
    """`work(item)` for each item with up to `workers` requests in flight (enough to hide an
    endpoint's latency, gentle on a local server); results in the order given. The first error
    stops the rest: requests not yet sent never are."""
    if not items:
        return []
    pool = ThreadPoolExecutor(min(max(1, workers), len(items)), thread_name_prefix=name)
    futures = [pool.submit(work, item) for item in items]
    try:
        return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
