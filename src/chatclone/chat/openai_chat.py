"""An OpenAI (fine-tuned) model in a chat, streamed through chat.completions; the key comes from
OPENAI_API_KEY and nothing is sent anywhere else."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from chatclone.chat.engine import GenerationSettings, Message
from chatclone.errors import ChatcloneError


def openai_client() -> Any:
    """An OpenAI client with the key from OPENAI_API_KEY (a clear error without one)."""
    key = os.environ.get("OPENAI_API_KEY")
    if not key:
        raise ChatcloneError(
            "chatting with an OpenAI model needs your API key in the OPENAI_API_KEY environment "
            "variable"
        )
    try:
        import openai
    except ImportError as e:
        raise ChatcloneError(
            f"chatting with an OpenAI model needs the openai package: pip install "
            f"'chatclone[train]' ({e})"
        ) from e
    return openai.OpenAI(api_key=key)


class OpenAIGenerator:
    """A (fine-tuned) OpenAI chat model, streamed through chat.completions."""

    def __init__(self, model: str, client: Any) -> None:
        self.model = model
        self.client = client

    def stream(self, messages: list[Message], settings: GenerationSettings) -> Iterator[str]:
        import openai

        request: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "max_completion_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
        }
        if settings.seed is not None:
            request["seed"] = settings.seed
        try:
            for chunk in self.client.chat.completions.create(**request):
                text = chunk.choices[0].delta.content if chunk.choices else None
                if text:
                    yield text
        except openai.APIError as e:  # HTTP errors and lost connections alike
            raise ChatcloneError(f"OpenAI ({self.model}): {_one_line(e)}") from e


def _one_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__
