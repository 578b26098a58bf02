"""The OpenAI chat-completions contract, as the openai SDK and real clients use it.

A request is read leniently where clients differ (content as a string or a list of text parts,
`developer` for `system`, `max_completion_tokens` for `max_tokens`, fields nobody here uses are
ignored) and strictly where a silent guess would mislead (`n` above 1, a `tool` message, a model
this server does not serve). Replies, stream chunks and errors have the exact shapes the SDK
parses: a chunk stream starts with the role, then content, then a chunk with `finish_reason`,
then `data: [DONE]`; an error is `{"error": {"message", "type", "param", "code"}}`.

The client's own system (or developer) messages are dropped: the clone's system prompt, built
server-side with its memory, is the only one the model sees (the README says so).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from chatclone.chat.generation import GenerationSettings
from chatclone.prompt import ASSISTANT, USER, ChatMessage

# `chatclone chat`'s defaults (temperature 0.7, not OpenAI's 1.0: what the clone is tried with).
DEFAULTS = GenerationSettings()
DROPPED_ROLES = ("system", "developer")
PARTNER_CHARACTERS = 80


class ApiError(Exception):
    """An error answered as OpenAI answers it: an HTTP status and the error object."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.code, self.param)


def error_body(
    message: str, type_: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


@dataclass
class CompletionRequest:
    model: str
    messages: list[ChatMessage]
    """The conversation without system/developer messages; consecutive messages of one side
    joined into one turn, as the dataset joins a burst."""
    settings: GenerationSettings
    stream: bool = False
    include_usage: bool = False
    stop: list[str] = field(default_factory=list)
    partner: str | None = None
    """chatclone's own field: whom the clone thinks it is texting (default: a friend)."""
    dropped_system: int = 0


def parse_request(body: Any, served: str) -> CompletionRequest:
    """A `POST /v1/chat/completions` body, checked; `served` is the model id this server has."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "'model' is required (GET /v1/models lists it)", param="model")
    if model != served:
        raise ApiError(
            404,
            f"The model '{model}' does not exist on this server; it serves '{served}'",
            code="model_not_found",
            param="model",
        )
    raw = body.get("messages")
    if not isinstance(raw, list):
        raise ApiError(400, "'messages' must be a list of messages", param="messages")
    messages, dropped = _conversation(raw)
    n = body.get("n")
    if n not in (None, 1):
        raise ApiError(400, "only n=1 is supported: the clone writes one reply", param="n")
    stream = _flag(body, "stream")
    options = body.get("stream_options")
    include_usage = stream and isinstance(options, dict) and bool(options.get("include_usage"))
    return CompletionRequest(
        model,
        messages,
        _settings(body),
        stream,
        include_usage,
        _stop(body.get("stop")),
        _partner(body.get("partner")),
        dropped,
    )


def _partner(value: Any) -> str | None:
    """A name for the system prompt's "a chat with NAME": one short line, since it goes into the
    prompt the server owns."""
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > PARTNER_CHARACTERS
        or any(not c.isprintable() for c in value)
    ):
        raise ApiError(
            400,
            f"'partner' must be a name: one line of at most {PARTNER_CHARACTERS} characters",
            param="partner",
        )
    return value.strip()


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiError(400, f"'{name}' must be true or false", param=name)
    return value


def _conversation(raw: list[Any]) -> tuple[list[ChatMessage], int]:
    turns: list[ChatMessage] = []
    dropped = 0
    for i, message in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise ApiError(400, f"{where} must be an object", param=where)
        role = message.get("role")
        if role in DROPPED_ROLES:
            dropped += 1
            continue
        if role not in (USER, ASSISTANT):
            raise ApiError(
                400,
                f"{where} has role {role!r}: the clone takes user and assistant messages "
                "(system and developer messages are replaced by its own; tools are not supported)",
                param=where,
            )
        text = _text(message.get("content"), where)
        if turns and turns[-1]["role"] == role:
            turns[-1] = {"role": role, "content": f"{turns[-1]['content']}\n{text}".strip("\n")}
        else:
            turns.append({"role": role, "content": text})
    return turns, dropped


def _text(content: Any, where: str) -> str:
    """A message's text: a string, or the text parts of a list (other parts are refused: the
    clone reads text only)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for j, part in enumerate(content):
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and part.get("type") == "text":
                texts.append(str(part.get("text", "")))
            elif isinstance(part, dict) and part.get("type") == "refusal":
                texts.append(str(part.get("refusal", "")))
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise ApiError(
                    400,
                    f"{where}.content[{j}] is a {kind!r} part: the clone reads text only",
                    param=f"{where}.content",
                )
        return "\n".join(t for t in texts if t)
    raise ApiError(400, f"{where}.content must be a string or a list of parts", param=where)


def _settings(body: dict[str, Any]) -> GenerationSettings:
    max_tokens = body.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_tokens")
    if max_tokens is None:
        max_tokens = DEFAULTS.max_new_tokens
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ApiError(400, "'max_tokens' must be a whole number of at least 1", param="max_tokens")
    temperature = _number(body, "temperature", DEFAULTS.temperature, 0.0, 2.0)
    top_p = _number(body, "top_p", DEFAULTS.top_p, 0.0, 1.0)
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ApiError(400, "'seed' must be a whole number", param="seed")
    if top_p == 0:  # only the likeliest token: greedy, as OpenAI treats it
        temperature, top_p = 0.0, DEFAULTS.top_p
    return GenerationSettings(max_tokens, temperature, seed, top_p)


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ApiError(400, f"'{name}' must be a number from {low:g} to {high:g}", param=name)
    return float(value)


def _stop(value: Any) -> list[str]:
    if value is None:
        return []
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops) or len(stops) > 4:
        raise ApiError(400, "'stop' must be a string or a list of up to 4 strings", param="stop")
    return [s for s in stops if s]


# --- replies ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    def body(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


@dataclass
class Reply:
    """The identity of one completion: its id, time and model, shared by all its chunks."""

    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))

    def _head(self, kind: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
        }

    def completion(self, text: str, finish: str, usage: Usage) -> dict[str, Any]:
        message = {"role": ASSISTANT, "content": text, "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        return {**self._head("chat.completion"), "choices": [choice], "usage": usage.body()}

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**self._head("chat.completion.chunk"), "choices": [choice]}

    def usage_chunk(self, usage: Usage) -> dict[str, Any]:
        return {**self._head("chat.completion.chunk"), "choices": [], "usage": usage.body()}


def sse(data: dict[str, Any] | str) -> bytes:
    """One server-sent event."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


DONE = sse("[DONE]")


def models_list(model: str, created: int) -> dict[str, Any]:
    entry = {"id": model, "object": "model", "created": created, "owned_by": "chatclone"}
    return {"object": "list", "data": [entry]}
