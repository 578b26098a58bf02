"""Talking to a clone: the generation engine, its generators and the terminal chat.

Generators register here by backend name, the way parsers register in `chatclone.parsers`: the
built-in ones (`local`, `openai`) through the same `register_generator()` that a plugin or a test
would call. `generator_for(backend, spec)` makes one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from chatclone.chat.generation import Generator, GeneratorSpec
from chatclone.errors import ChatcloneError

GeneratorFactory = Callable[[GeneratorSpec], Generator]
_REGISTRY: dict[str, GeneratorFactory] = {}


def register_generator(backend: str, factory: GeneratorFactory) -> None:
    """Make `backend` available to chats; a later registration of the same name wins."""
    _REGISTRY[backend] = factory


def generator_backends() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def generator_for(backend: str, spec: GeneratorSpec) -> Generator:
    """Load the generator for `backend` (the slow part of opening a chat: model weights)."""
    _load_builtins()
    factory = _REGISTRY.get(backend)
    if factory is None:
        known = ", ".join(sorted(_REGISTRY))
        raise ChatcloneError(f"no chat backend '{backend}' (known: {known})")
    return factory(spec)


@cache
def _load_builtins() -> None:
    """The built-in entries, registered once, on first use, through the same hook a plugin uses."""
    from chatclone.chat.local import LocalGenerator
    from chatclone.chat.openai_chat import OpenAIGenerator

    register_generator("local", LocalGenerator.from_spec)
    register_generator("openai", OpenAIGenerator.from_spec)


__all__ = [
    "Generator",
    "GeneratorSpec",
    "generator_backends",
    "generator_for",
    "register_generator",
]
