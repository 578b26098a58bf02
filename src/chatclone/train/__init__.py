"""Training backends: `chatclone train --backend local|openai` (see `runs.py` for the run folder).

Backends register here by name, the way parsers register in `chatclone.parsers`: the built-in
ones through the same `register_backend()` that a plugin would call. `backend_for(name)` makes one;
every backend implements `base.Backend`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from chatclone.errors import ChatcloneError
from chatclone.train.base import Backend, TrainRequest

_REGISTRY: dict[str, Callable[[], Backend]] = {}


def register_backend(name: str, factory: Callable[[], Backend]) -> None:
    """Make `--backend NAME` available; a later registration of the same name wins."""
    _REGISTRY[name] = factory


def backend_names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def backend_for(name: str) -> Backend:
    _load_builtins()
    factory = _REGISTRY.get(name)
    if factory is None:
        raise ChatcloneError(
            f"unknown backend '{name}' (choose from {', '.join(sorted(_REGISTRY))})"
        )
    return factory()


@cache
def _load_builtins() -> None:
    """The built-in entries, registered once, on first use, through the same hook a plugin uses."""
    from chatclone.train.local import LocalBackend
    from chatclone.train.openai_ft import OpenAIBackend

    register_backend("local", LocalBackend)
    register_backend("openai", OpenAIBackend)


__all__ = ["Backend", "TrainRequest", "backend_for", "backend_names", "register_backend"]
