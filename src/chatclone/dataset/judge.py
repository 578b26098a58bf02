"""An optional LLM judge of how much a reply says about the person, through any OpenAI-compatible
chat completions endpoint (a local llama.cpp or vLLM server, or OpenAI itself).

Off by default: nothing is sent anywhere unless `judge_url` is set in chatclone.toml. What is sent
is the already pseudonymised reply and the message it answers, one request per reply. The judge's
0–10 rating is averaged with the local score (heuristics and embeddings) in `lowinfo`.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Sequence

from chatclone.config import DatasetSettings
from chatclone.errors import ChatcloneError

PROMPT = (
    "You rate chat replies for a dataset that teaches a model to text like one person. Rate how "
    "much the REPLY reveals about the person who wrote it: facts about their life, opinions, plans, "
    "feelings, or a real answer to the message. 0 = nothing (ok, lol, an emoji); 10 = a lot. "
    "Answer with the number only."
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


class LLMJudge:
    def __init__(
        self, url: str, model: str, api_key: str | None = None, timeout: float = 60
    ) -> None:
        self.endpoint = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    def score(self, replies: Sequence[str], contexts: Sequence[str]) -> list[float]:
        """A 0–1 score per reply."""
        return [self._one(r, c) for r, c in zip(replies, contexts, strict=True)]

    def _one(self, reply: str, context: str) -> float:
        user = f"MESSAGE: {context or '(none: the person starts the conversation)'}\nREPLY: {reply}"
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": PROMPT}, {"role": "user", "content": user}],
            "temperature": 0,
            "max_tokens": 5,
        }
        answer = self._post(body)
        m = _NUMBER.search(answer)
        if m is None:
            raise ChatcloneError(f"the judge at {self.endpoint} answered {answer!r}, not a number")
        return min(10.0, float(m.group())) / 10

    def _post(self, body: dict[str, object]) -> str:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            self.endpoint, json.dumps(body).encode(), headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = json.load(response)
            return str(data["choices"][0]["message"]["content"])
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise ChatcloneError(
                f"the judge at {self.endpoint} could not be reached: {e}"
            ) from None
        except (ValueError, KeyError, IndexError, TypeError):
            raise ChatcloneError(
                f"the judge at {self.endpoint} did not answer like an OpenAI-compatible API"
            ) from None


def judge_from_settings(ds: DatasetSettings) -> LLMJudge | None:
    """The configured judge, or None (the default: nothing is sent)."""
    if not ds.judge_url:
        return None
    if not ds.judge_model:
        raise ChatcloneError("judge_url is set but judge_model is not: name the model to ask")
    key = os.environ.get(ds.judge_api_key_env) if ds.judge_api_key_env else None
    if ds.judge_api_key_env and not key:
        raise ChatcloneError(f"judge_api_key_env names ${ds.judge_api_key_env}, which is not set")
    return LLMJudge(ds.judge_url, ds.judge_model, key)
