"""An optional LLM judge of how much a reply says about the person, through any OpenAI-compatible
chat completions endpoint (a local llama.cpp or vLLM server, or OpenAI itself).

Off by default: nothing is sent anywhere unless `judge_url` is set in chatclone.toml. What is sent
is the already pseudonymised reply and the message it answers, one request per reply, a few at a
time. The judge's 0–10 rating is averaged with the local score (heuristics and embeddings) in
`lowinfo`. The requests go through the official SDK (`client.make_client`): its timeout, its
retries with backoff (on 408, 429 and 5xx answers and lost connections) and its errors, as one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from chatclone.config import DatasetSettings
from chatclone.errors import ChatcloneError
from chatclone.openai.client import NO_KEY, api_errors, api_key, in_flight, make_client

T = TypeVar("T")
R = TypeVar("R")

PROMPT = (
    "You rate chat replies for a dataset that teaches a model to text like one person. Rate how "
    "much the REPLY reveals about the person who wrote it: facts about their life, opinions, plans, "
    "feelings, or a real answer to the message. 0 = nothing (ok, lol, an emoji); 10 = a lot. "
    "Answer with the number only."
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
WORKERS = 4  # requests in flight at once: enough to hide the latency, gentle on a local server


class JudgeEndpoint:
    """An OpenAI-compatible chat completions endpoint at `url` (ending in /v1) that answers a
    judge's questions in a few words: the dataset's reply rater and eval's fact judge alike.

    `api_key` may be None: local servers need none. `key_env` only names where the key came from,
    for the error that says it was refused. `name` ("judge", "fact judge") starts its errors;
    `client` replaces the SDK client (tests)."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        name: str,
        needed_by: str,
        api_key: str | None = None,
        timeout: float = 60,
        max_retries: int = 2,
        workers: int = WORKERS,
        key_env: str | None = None,
        client: Any = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.name = name
        self.key_env = key_env
        self.workers = max(1, workers)
        self.client = client or make_client(
            api_key or NO_KEY,
            base_url=self.url,
            timeout=timeout,
            max_retries=max_retries,
            needed_by=needed_by,
        )

    def each(self, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """`work` for each item, a few requests in flight; the first error stops the rest."""
        return in_flight(work, items, self.workers, self.name.replace(" ", "-"))

    def ask(self, system: str, user: str, max_tokens: int) -> str:
        """The endpoint's answer to one question, greedy."""
        try:
            with api_errors(f"the {self.name} ({self.url})", self.key_env):
                completion = self.client.chat.completions.create(
                    model=self.model,
                    messages=[
                        {"role": "system", "content": system},
                        {"role": "user", "content": user},
                    ],
                    temperature=0,
                    max_tokens=max_tokens,
                )
            return str(completion.choices[0].message.content)
        except (AttributeError, IndexError, TypeError, ValueError):
            raise ChatcloneError(
                f"the {self.name} at {self.url} did not answer like an OpenAI-compatible API"
            ) from None


def judge_key(env: str, setting: str) -> str | None:
    """The key a judge endpoint's settings name (None when they name none); an error when the
    variable they name is not set."""
    key = api_key(env) if env else None
    if env and not key:
        raise ChatcloneError(f"{setting} names ${env}, which is not set")
    return key


class LLMJudge:
    """Scores replies through a `JudgeEndpoint` at `url` (an API base URL ending in /v1)."""

    def __init__(
        self,
        url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60,
        max_retries: int = 2,
        workers: int = WORKERS,
        key_env: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.key_env = key_env
        self.endpoint = JudgeEndpoint(
            url, model, name="judge", needed_by="the LLM judge (judge_url)", api_key=api_key,
            timeout=timeout, max_retries=max_retries, workers=workers, key_env=key_env,
        )  # fmt: skip

    def score(self, replies: Sequence[str], contexts: Sequence[str]) -> list[float]:
        """A 0–1 score per reply, in the order given; the first error stops the rest."""
        return self.endpoint.each(self._one, list(zip(replies, contexts, strict=True)))

    def _one(self, pair: tuple[str, str]) -> float:
        reply, context = pair
        user = f"MESSAGE: {context or '(none: the person starts the conversation)'}\nREPLY: {reply}"
        answer = self.endpoint.ask(PROMPT, user, max_tokens=5)
        m = _NUMBER.search(answer)
        if m is None:
            raise ChatcloneError(
                f"the judge at {self.endpoint.url} answered {answer!r}, not a number"
            )
        return min(10.0, float(m.group())) / 10


def judge_from_settings(ds: DatasetSettings) -> LLMJudge | None:
    """The configured judge, or None (the default: nothing is sent)."""
    if not ds.judge_url:
        return None
    if not ds.judge_model:
        raise ChatcloneError("judge_url is set but judge_model is not: name the model to ask")
    env = ds.judge_api_key_env
    key = judge_key(env, "judge_api_key_env")
    return LLMJudge(ds.judge_url, ds.judge_model, key, key_env=env or None)
