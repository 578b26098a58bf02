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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from chatclone.config import DatasetSettings
from chatclone.errors import ChatcloneError
from chatclone.openai.client import NO_KEY, api_errors, api_key, make_client

PROMPT = (
    "You rate chat replies for a dataset that teaches a model to text like one person. Rate how "
    "much the REPLY reveals about the person who wrote it: facts about their life, opinions, plans, "
    "feelings, or a real answer to the message. 0 = nothing (ok, lol, an emoji); 10 = a lot. "
    "Answer with the number only."
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
WORKERS = 4  # requests in flight at once: enough to hide the latency, gentle on a local server


class LLMJudge:
    """Scores replies through the chat completions API at `url` (an API base URL ending in /v1).

    `api_key` may be None: local servers need none. `key_env` only names where the key came from,
    for the error that says it was refused."""

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
        self.url = url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.key_env = key_env
        self.workers = max(1, workers)
        self.client = make_client(
            api_key or NO_KEY,
            base_url=self.url,
            timeout=timeout,
            max_retries=max_retries,
            needed_by="the LLM judge (judge_url)",
        )

    def score(self, replies: Sequence[str], contexts: Sequence[str]) -> list[float]:
        """A 0–1 score per reply, in the order given; the first error stops the rest."""
        pairs = list(zip(replies, contexts, strict=True))
        if not pairs:
            return []
        pool = ThreadPoolExecutor(min(self.workers, len(pairs)), thread_name_prefix="judge")
        futures = [pool.submit(self._one, reply, context) for reply, context in pairs]
        try:
            return [f.result() for f in futures]
        finally:  # on an error, requests not yet sent never are
            pool.shutdown(wait=False, cancel_futures=True)

    def _one(self, reply: str, context: str) -> float:
        user = f"MESSAGE: {context or '(none: the person starts the conversation)'}\nREPLY: {reply}"
        answer = self._ask(user)
        m = _NUMBER.search(answer)
        if m is None:
            raise ChatcloneError(f"the judge at {self.url} answered {answer!r}, not a number")
        return min(10.0, float(m.group())) / 10

    def _ask(self, user: str) -> str:
        try:
            with api_errors(f"the judge ({self.url})", self.key_env):
                completion = self.client.chat.completions.create(
                    model=self.model,
                    messages=[
                        {"role": "system", "content": PROMPT},
                        {"role": "user", "content": user},
                    ],
                    temperature=0,
                    max_tokens=5,
                )
            return str(completion.choices[0].message.content)
        except (AttributeError, IndexError, TypeError, ValueError):
            raise ChatcloneError(
                f"the judge at {self.url} did not answer like an OpenAI-compatible API"
            ) from None


def judge_from_settings(ds: DatasetSettings) -> LLMJudge | None:
    """The configured judge, or None (the default: nothing is sent)."""
    if not ds.judge_url:
        return None
    if not ds.judge_model:
        raise ChatcloneError("judge_url is set but judge_model is not: name the model to ask")
    key = api_key(ds.judge_api_key_env) if ds.judge_api_key_env else None
    if ds.judge_api_key_env and not key:
        raise ChatcloneError(f"judge_api_key_env names ${ds.judge_api_key_env}, which is not set")
    return LLMJudge(ds.judge_url, ds.judge_model, key, key_env=ds.judge_api_key_env or None)
