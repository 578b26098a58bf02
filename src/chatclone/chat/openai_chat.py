"""An OpenAI (fine-tuned) model in a chat, streamed through chat.completions; the key and the
client come from `chatclone.openai.client` and nothing is sent anywhere else."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from chatclone.chat.generation import GenerationSettings, GeneratorSpec
from chatclone.openai.client import KEY_ENV, api_errors, make_client, require_api_key
from chatclone.prompt import ChatMessage

if TYPE_CHECKING:
    import openai

NEEDED_BY = "chatting with an OpenAI model"


def openai_client() -> openai.OpenAI:
    """An OpenAI client with the key from OPENAI_API_KEY (a clear error without one)."""
    key = require_api_key(f"{NEEDED_BY} needs your API key in the {KEY_ENV} environment variable")
    return make_client(key, needed_by=NEEDED_BY)


class OpenAIGenerator:
    """A (fine-tuned) OpenAI chat model, streamed through chat.completions."""

    def __init__(self, model: str, client: Any) -> None:
        self.model = model
        self.client = client

    @classmethod
    def from_spec(cls, spec: GeneratorSpec) -> OpenAIGenerator:
        return cls(spec.model, openai_client())

    def stream(
        self, messages: Sequence[ChatMessage], settings: GenerationSettings
    ) -> Iterator[str]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "stream": True,
            "max_completion_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
        }
        if settings.seed is not None:
            request["seed"] = settings.seed
        with api_errors():  # HTTP errors and lost connections alike, as one line
            for chunk in self.client.chat.completions.create(**request):
                text = chunk.choices[0].delta.content if chunk.choices else None
                if text:
                    yield text
