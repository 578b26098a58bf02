"""A local run's model with its LoRA adapter merged into the base weights, cached on disk.

A chat loads the run's model in every new process (`chat --once` above all). Loading the adapter
with peft costs its import (seconds: it pulls in transformers model families of its own) and
adds the adapter's two small matrix products to every layer of every token. So the adapter is
merged into the base once (`merge_and_unload`, float32) and saved as plain safetensors under
`models.cache_dir()/merged/KEY`; later processes load that folder as an ordinary model (memory
mapped, no conversion, no peft).

KEY is a hash of the adapter's files (every byte), of what the base is (its folder's config and
the size and time of its weight files, or its Hugging Face id) and of this cache's format, so a
retrained adapter or another base makes a new entry and never reads a stale one. Entries are
written into a temporary folder and renamed; the least recently used are removed once the cache
outgrows `BUDGET_BYTES`.

Merging changes the order of floating-point sums (W·x + B·A·x becomes (W + B·A)·x): logits move
by about 1e-5, and greedy replies stay the same (tests/test_chat_merged.py and the demo's
probes check it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from chatclone import models
from chatclone.errors import ChatcloneError

MERGED_DIR = "merged"
FORMAT = "merged-float32-v1"  # a change here invalidates every entry
# The cache's size once pruned: about three 135M models in float32 (540 MB each). The entry in
# use is always kept, whatever its size.
BUDGET_BYTES = 2 << 30
WEIGHT_SUFFIXES = (".safetensors", ".bin")
SOURCE_FILE = "source.json"  # what an entry was merged from, for people looking at the cache
STALE_TMP_S = 3600.0  # a temporary folder this old was left by a process that died


def cache_root() -> Path:
    return models.cache_dir() / MERGED_DIR


def merge_key(adapter_dir: Path, base: str) -> str:
    """The cache key of `adapter_dir` merged into `base`: it changes when the adapter's files,
    the base model or this cache's format change."""
    digest = hashlib.sha256(FORMAT.encode() + b"\0")
    files = sorted(p for p in adapter_dir.iterdir() if p.is_file())
    if not any(p.name.startswith("adapter_model") for p in files):
        raise ChatcloneError(f"no adapter weights in {adapter_dir}")
    for path in files:
        digest.update(b"adapter\0" + path.name.encode() + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    digest.update(b"base\0" + _base_identity(base).encode())
    return digest.hexdigest()


def _base_identity(base: str) -> str:
    """What the base model is, cheaply: a folder's config.json and the name, size and time of
    each weight file (hashing 540 MB would cost more than the merge saves); a Hugging Face id
    as given."""
    where = Path(models.base_model_path(base))
    if not where.is_dir():
        return f"id:{base}"
    parts = [f"dir:{where.resolve()}"]
    config = where / "config.json"
    if config.is_file():
        parts.append(hashlib.sha256(config.read_bytes()).hexdigest())
    for path in sorted(where.iterdir()):
        if path.suffix in WEIGHT_SUFFIXES:
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


def cached_entry(adapter_dir: Path, base: str) -> Path | None:
    """The cache entry of the adapter in `adapter_dir` merged into `base`, marked used, when
    one is there (its files not yet read); else None. The native path (`native_model.py`)
    reads it without transformers."""
    entry = cache_root() / merge_key(adapter_dir, base)
    if not (entry / "config.json").is_file():
        return None
    _touch(entry)
    return entry


def load_merged(adapter_dir: Path, base: str) -> tuple[Any, Path | None]:
    """The float32 model of `base` with the adapter in `adapter_dir` merged in: from the cache,
    else merged now (with peft) and cached for the next process; and its cache entry (None for
    an adapter peft could not merge), where other files about this model may be kept."""
    import torch

    entry = cache_root() / merge_key(adapter_dir, base)
    if (entry / "config.json").is_file():
        try:
            with models.quiet_loading():
                model = models.load_causal_lm(str(entry), dtype=torch.float32)
        except ChatcloneError:  # a damaged entry: merge again below
            shutil.rmtree(entry, ignore_errors=True)
        else:
            _touch(entry)
            return model, entry
    model, merged = merge(adapter_dir, base)
    if not merged:
        return model, None
    save_entry(model, entry, {"adapter": str(adapter_dir.resolve()), "base": base})
    prune(entry.parent, BUDGET_BYTES)
    return model, entry


def merge(adapter_dir: Path, base: str) -> tuple[Any, bool]:
    """`base` in float32 with the adapter loaded by peft and merged into its weights, and
    whether it could be merged (an adapter peft cannot merge is used as it is, uncached)."""
    import torch
    from peft import PeftModel

    with models.quiet_loading():
        model = models.load_causal_lm(base, dtype=torch.float32)
        adapted = PeftModel.from_pretrained(model, str(adapter_dir))
        try:
            return adapted.merge_and_unload(), True
        except (ValueError, NotImplementedError, AttributeError, TypeError):
            return adapted, False


def save_entry(model: Any, entry: Path, source: dict[str, str]) -> None:
    """Write the model into a temporary folder beside `entry`, then rename it: a half-written
    entry is never read. A failure to write (a read-only cache, a full disk, another process
    that won the race) only costs the next process another merge."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name[:16]}.", dir=entry.parent))
    except OSError:
        return
    try:
        model.save_pretrained(str(tmp))
        (tmp / SOURCE_FILE).write_text(json.dumps(source, indent=2) + "\n", "utf-8")
        tmp.rename(entry)
    except OSError:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def prune(root: Path, budget: int) -> list[Path]:
    """Remove the least recently used entries beyond `budget` bytes (the most recent one always
    stays), and temporary folders left by a process that died; returns what was removed."""
    try:
        children = list(root.iterdir())
    except OSError:
        return []
    entries = [p for p in children if p.is_dir() and _is_key(p.name)]
    entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    removed: list[Path] = []
    used = 0
    for i, path in enumerate(entries):
        used += _size(path)
        if i > 0 and used > budget:
            removed.append(path)
    now = time.time()
    removed += [
        p
        for p in children
        if p.is_dir() and p.name.startswith(".") and now - p.stat().st_mtime > STALE_TMP_S
    ]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def _is_key(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def _touch(entry: Path) -> None:
    """Mark an entry used, so pruning keeps it."""
    with contextlib.suppress(OSError):
        os.utime(entry)
