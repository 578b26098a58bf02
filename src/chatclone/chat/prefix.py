"""The last prompt's key/value cache, kept on disk beside its merged model for the next process.

Every prompt of a chat starts with the same system head (who the clone is, the persona) before
its memory block, about 280 of the demo's 630 tokens. Within a process, a warm turn reuses the
last prompt's cache for that shared beginning (`LocalGenerator._reused_cache`); across processes
(`chat --once` run again) this file carries it over, so a cold process skips that part of its
prefill too. The file lives in the merged model's cache entry (`merged.py`): a changed adapter
or base makes another entry, and pruning removes it with its entry. It is written after the
reply, in a thread the process waits for at exit, into a temporary file that is then renamed.

Reusing a cache gives the replies a fresh prefill gives (tests/test_chat_prefix.py): the keys
and values are the same float32 numbers, stored as they are.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

PREFIX_FILE = "prefix.safetensors"


def load_prefix(
    path: Path, config: Any, new_cache: Callable[[], Any] | None = None
) -> tuple[list[int], Any] | None:
    """The prompt ids and key/value cache saved at `path`; None when there is none or it does
    not fit this model (a damaged file is as good as none). The cache is transformers'
    `DynamicCache`, or what `new_cache` makes (the native path's: `native_model.KVCache`, which
    holds the same tensors)."""
    if not path.is_file():
        return None
    try:
        from safetensors.torch import load_file

        tensors = load_file(str(path))
        ids = [int(i) for i in tensors.pop("ids").tolist()]
        layers = len(tensors) // 2
        if layers != config.num_hidden_layers or len(tensors) % 2:
            return None
        if new_cache is None:
            from transformers import DynamicCache

            cache = DynamicCache(config=config)
        else:
            cache = new_cache()
        for i in range(layers):
            keys, values = tensors[f"k.{i}"], tensors[f"v.{i}"]
            if keys.shape[-2] != len(ids) or values.shape[-2] != len(ids):
                return None
            cache.update(keys, values, i)
    except Exception:  # a damaged or foreign file: prefill as without it
        return None
    return ids, cache


def save_prefix(path: Path, ids: list[int], cache: Any) -> threading.Thread | None:
    """Save the cache of the prompt `ids` (its first len(ids) positions) to `path`, in a thread
    that the process waits for at exit; returns the thread (None when nothing is saved)."""
    try:
        layers = _layers(cache)
    except (AttributeError, TypeError):
        return None
    if not layers or any(k is None or k.shape[-2] < len(ids) for k, _ in layers):
        return None
    n = len(ids)
    # Slices of the tensors as they are now: the next reply concatenates into new tensors.
    views = [(k[..., :n, :], v[..., :n, :]) for k, v in layers]
    thread = threading.Thread(target=_write, args=(path, ids, views), daemon=False)
    thread.start()
    return thread


def _layers(cache: Any) -> list[tuple[Any, Any]]:
    """(keys, values) of every layer: `layers` in transformers 5, `key_cache` before."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    return list(zip(cache.key_cache, cache.value_cache, strict=True))


def _write(path: Path, ids: list[int], layers: list[tuple[Any, Any]]) -> None:
    import torch
    from safetensors.torch import save_file

    tensors = {"ids": torch.tensor(ids, dtype=torch.long)}
    for i, (keys, values) in enumerate(layers):
        tensors[f"k.{i}"] = keys.detach().to("cpu").contiguous()
        tensors[f"v.{i}"] = values.detach().to("cpu").contiguous()
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".prefix.", dir=path.parent)
        os.close(fd)
        save_file(tensors, tmp)
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass  # a read-only or vanished cache: the next process prefills in full
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
