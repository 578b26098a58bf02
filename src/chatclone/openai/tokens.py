"""OpenAI model names and how their tokens are counted, offline.

`openai_counter(model)` counts with tiktoken and OpenAI's documented per-message overhead, but only
when tiktoken and its encoding file are already on this machine: tiktoken downloads encodings on
first use, which cannot happen offline, so otherwise the count is an approximation (about 4
characters per token) and says so (`exact = False`, `note`). `dataset.tokens.counter_for` picks
this counter for OpenAI models.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Messages = Sequence[Mapping[str, object]]

OPENAI_PREFIXES = ("gpt-", "o1", "o3", "o4", "ft:")
APPROX_NOTE = "approximation: tiktoken's encodings are not available offline"

# OpenAI's counting recipe ("How to count tokens with tiktoken", openai-cookbook): every message
# costs 3 tokens besides its role and content, and every reply is primed with 3 more.
OPENAI_TOKENS_PER_MESSAGE = 3
OPENAI_REPLY_PRIMING = 3
# Where tiktoken (tiktoken_ext/openai_public.py) downloads each encoding from, and the SHA-256 it
# checks the file against: a cached file with another hash is downloaded again.
TIKTOKEN_ENCODINGS = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}


# --- model names -------------------------------------------------------------------------------


def is_openai_model(model: str) -> bool:
    """An OpenAI model name (gpt-…, o1/o3/o4…, ft:…), not a local path that happens to match."""
    return model.startswith(OPENAI_PREFIXES) and not Path(model).exists()


def base_model(model: str) -> str:
    """A fine-tuned model's base ("ft:gpt-4.1-mini-2025-04-14:org::id" → "gpt-4.1-mini-2025-04-14");
    any other name unchanged."""
    return model.split(":")[1] if model.startswith("ft:") and ":" in model[3:] else model


def openai_encoding(model: str) -> str:
    """tiktoken's encoding for an OpenAI model: cl100k_base for gpt-3.5 and gpt-4 (not 4o/4.1),
    o200k_base for everything newer. Fine-tuned models ("ft:BASE:org::id") use their base's."""
    base = base_model(model)
    if base.startswith("gpt-3.5") or re.match(r"gpt-4(?![o.])", base):
        return "cl100k_base"
    return "o200k_base"


# --- which counter -----------------------------------------------------------------------------


def openai_counter(model: str) -> TiktokenCounter | ApproximateCounter:
    """tiktoken's exact count when its encoding is already here, else the labelled approximation."""
    encoding = openai_encoding(model)
    try:
        tiktoken = importlib.import_module("tiktoken")  # optional: not a dependency
    except ImportError:
        return ApproximateCounter(
            f"approximate ({model})", note=f"{APPROX_NOTE} (tiktoken is not installed)"
        )
    missing = _missing_encoding(encoding)
    if missing:
        return ApproximateCounter(f"approximate ({model})", note=f"{APPROX_NOTE} ({missing})")
    try:
        enc = tiktoken.get_encoding(encoding)
    except Exception as e:  # a broken cache or install: fall back rather than fail the build
        return ApproximateCounter(
            f"approximate ({model})", note=f"{APPROX_NOTE} (tiktoken failed: {e})"
        )
    return TiktokenCounter(f"tiktoken {encoding} ({model})", enc)


def counts_exactly(model: str) -> bool:
    """Whether `openai_counter(model)` would count exactly: tiktoken and the encoding are here."""
    if importlib.util.find_spec("tiktoken") is None:
        return False
    return not _missing_encoding(openai_encoding(model))


# --- tiktoken's cache, checked without downloading ---------------------------------------------


def tiktoken_cache_dir() -> Path | None:
    """Where tiktoken keeps downloaded encodings; None when its cache is switched off.

    tiktoken's own rule (tiktoken/load.py `read_file_cached`): $TIKTOKEN_CACHE_DIR, else
    $DATA_GYM_CACHE_DIR, else a default: `<tempdir>/data-gym-cache`, or, in versions that define
    `_default_cache_dir()`, whatever that returns. An empty variable disables the cache.
    """
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return Path(os.environ[var]) if os.environ[var] else None
    try:
        default = getattr(importlib.import_module("tiktoken.load"), "_default_cache_dir", None)
    except ImportError:
        default = None
    if callable(default):
        return Path(default())
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def cached_encoding_file(encoding: str) -> Path:
    """The file tiktoken would read `encoding` from: named by the SHA-1 of the download URL."""
    url, _ = TIKTOKEN_ENCODINGS[encoding]
    folder = tiktoken_cache_dir() or Path(tempfile.gettempdir()) / "data-gym-cache"
    return folder / hashlib.sha1(url.encode()).hexdigest()


def _missing_encoding(encoding: str) -> str:
    """Why tiktoken would have to download `encoding` ("" when it is cached and intact)."""
    if tiktoken_cache_dir() is None:
        return "tiktoken's cache is switched off"
    path = cached_encoding_file(encoding)
    if not path.is_file():
        return f"no cached {encoding} encoding in {path.parent}"
    _, sha256 = TIKTOKEN_ENCODINGS[encoding]
    if hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
        return f"the cached {encoding} encoding in {path.parent} is damaged"
    return ""


# --- counters ----------------------------------------------------------------------------------


@dataclass
class ApproximateCounter:
    """About 4 characters per token, plus OpenAI's per-message overhead. Never exact: text in
    scripts without spaces between words (Chinese, Japanese) or full of emoji is undercounted."""

    name: str = "approximate (4 characters per token)"
    exact: bool = False
    note: str = APPROX_NOTE
    chars_per_token: float = 4.0

    def count(self, messages: Messages) -> int:
        total = OPENAI_REPLY_PRIMING
        for m in messages:
            total += OPENAI_TOKENS_PER_MESSAGE + 1  # the role is one token
            total += math.ceil(len(_text(m.get("content"))) / self.chars_per_token)
        return total

    def count_each(self, messages: Messages) -> list[int]:
        return [self.count([m]) - OPENAI_REPLY_PRIMING for m in messages]


@dataclass
class TiktokenCounter:
    """OpenAI's documented count: per message 3 tokens + role + content (+1 for a name), and 3
    for the reply's priming."""

    name: str
    encoding: Any  # tiktoken.Encoding
    exact: bool = True
    note: str = ""

    def count(self, messages: Messages) -> int:
        total = OPENAI_REPLY_PRIMING
        for m in messages:
            total += OPENAI_TOKENS_PER_MESSAGE
            for key in ("role", "content", "name"):
                value = m.get(key)
                if isinstance(value, str):
                    total += len(self.encoding.encode(value, disallowed_special=()))
                    if key == "name":
                        total += 1
        return total

    def count_each(self, messages: Messages) -> list[int]:
        return [self.count([m]) - OPENAI_REPLY_PRIMING for m in messages]


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)
