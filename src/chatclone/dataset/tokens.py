"""Token counts with the training model's tokenizer, and what OpenAI would charge to train on them.

`counter_for(model)` picks how a whole chat sample is counted, the way the model sees it:

- "default" (the packaged SmolLM2), a Hugging Face id or a local path: that tokenizer, exactly,
  through its chat template;
- an OpenAI model name: tiktoken with OpenAI's documented per-message overhead, but only when
  tiktoken and its encoding file are already on this machine. tiktoken downloads encodings on first
  use, which cannot happen offline, so otherwise the count is an approximation (about 4 characters
  per token) and says so (`exact = False`, `note`).

`estimate_cost` turns training tokens into dollars from `OPENAI_TRAINING_PRICES`, a dated table:
prices change, so the estimate always carries the table's date and accepts an override.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chatclone.errors import ChatcloneError

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

# USD per 1M training tokens for OpenAI's supervised fine-tuning, from OpenAI's pricing page
# (https://openai.com/api/pricing/, "Fine-tuning"; also platform.openai.com/docs/pricing) as
# published around PRICES_AS_OF. Prices change: check the page before relying on the estimate,
# or pass an override (`--price-per-million`).
BATCH = 1000  # messages per call to a fast tokenizer when counting many
PRICES_AS_OF = "2025-06-01"
OPENAI_TRAINING_PRICES: dict[str, float] = {
    "gpt-4.1-2025-04-14": 25.00,
    "gpt-4.1-mini-2025-04-14": 5.00,
    "gpt-4.1-nano-2025-04-14": 1.50,
    "gpt-4o-2024-08-06": 25.00,
    "gpt-4o-mini-2024-07-18": 3.00,
    "gpt-3.5-turbo-0125": 8.00,
}


class TokenCounter(Protocol):
    """Counts the tokens of one whole chat sample as the model sees it."""

    name: str
    exact: bool  # False: an approximation; `note` says why
    note: str

    def count(self, messages: Messages) -> int: ...

    def count_each(self, messages: Messages) -> list[int]:
        """Each message's share of a sample's count, in one batch: a sample's count is
        `count(its system message) + sum(count_each(the rest))`."""
        ...


# --- which counter ---------------------------------------------------------------------------


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


def counter_for(model: str) -> TokenCounter:
    """The token counter for the dataset's model (see the module docstring)."""
    if is_openai_model(model):
        return _openai_counter(model)
    from chatclone.models import DEFAULT_MODEL, load_tokenizer

    label = "SmolLM2-135M-Instruct (default)" if model == DEFAULT_MODEL else model
    return HFCounter(label, load_tokenizer(model))


def _openai_counter(model: str) -> TokenCounter:
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


@dataclass
class HFCounter:
    """A Hugging Face tokenizer through its chat template, special tokens included; without a
    template, the contents' tokens plus a small per-message overhead."""

    name: str
    tokenizer: Any
    exact: bool = True
    note: str = ""
    per_message: int = 4  # role and delimiters, when there is no chat template
    _head: int | None = field(default=None, init=False, repr=False)
    _overheads: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def count(self, messages: Messages) -> int:
        plain = _plain(messages)
        if not plain:
            return 0
        if not getattr(self.tokenizer, "chat_template", None):
            encode = self.tokenizer.encode
            return sum(len(encode(m["content"], add_special_tokens=False)) for m in plain) + (
                self.per_message * len(plain)
            )
        if plain[0]["role"] == "system":
            return self._ids(plain)
        # Some templates (SmolLM2's) add a default system prompt to a chat without one. Counted
        # alone, these messages are measured as they appear after a system message instead.
        head = [{"role": "system", "content": ""}]
        try:
            if self._head is None:
                self._head = self._ids(head)
            return self._ids(head + plain) - self._head
        except Exception:  # a template that refuses a system message
            return self._ids(plain)

    def count_each(self, messages: Messages) -> list[int]:
        """One batch through the fast tokenizer plus each role's template overhead, measured once.
        Exact for templates that wrap each message on its own (ChatML, SmolLM2's); tests check
        the sum against `count`."""
        plain = _plain(messages)
        if not plain:
            return []
        sizes: list[int] = []
        for start in range(0, len(plain), BATCH):  # bounded batches: a session can be huge
            chunk = plain[start : start + BATCH]
            ids = self.tokenizer(
                [m["content"] for m in chunk], add_special_tokens=False, return_attention_mask=False
            )["input_ids"]
            sizes += [len(t) + self._overhead(m["role"]) for t, m in zip(ids, chunk, strict=True)]
        return sizes

    def _overhead(self, role: str) -> int:
        """Tokens a message of this role costs beyond its content (its share of the template)."""
        if role not in self._overheads:
            probe = "x"
            content = len(self.tokenizer(probe, add_special_tokens=False)["input_ids"])
            self._overheads[role] = self.count([{"role": role, "content": probe}]) - content
        return self._overheads[role]

    def _ids(self, plain: list[dict[str, str]]) -> int:
        out = self.tokenizer.apply_chat_template(plain, tokenize=True)
        if hasattr(out, "keys"):  # transformers ≥ 5 returns a BatchEncoding
            out = out["input_ids"]
        return len(out)


def render_for_model(messages: Messages, model: str) -> str:
    """A sample as the training model sees it: the chat template's text for a local model; for
    OpenAI (whose format is not public) each message under its role, weight-0 replies marked."""
    if not is_openai_model(model):
        from chatclone.models import load_tokenizer

        tokenizer = load_tokenizer(model)
        if getattr(tokenizer, "chat_template", None):
            return str(tokenizer.apply_chat_template(_plain(messages), tokenize=False))
    parts = []
    for m in messages:
        label = str(m.get("role", "?"))
        if m.get("weight") == 0:
            label += " (context only, not trained on)"
        parts.append(f"[{label}]\n{_text(m.get('content'))}")
    return "\n\n".join(parts)


def _plain(messages: Messages) -> list[dict[str, str]]:
    """Only what a chat template reads: role and content (never the OpenAI-only weight)."""
    return [{"role": _text(m.get("role")), "content": _text(m.get("content"))} for m in messages]


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


# --- cost --------------------------------------------------------------------------------------


@dataclass
class CostEstimate:
    """What OpenAI would charge to train on the tokens: tokens × epochs × price."""

    model: str
    tokens: int  # training tokens in one epoch
    epochs: int
    billed_tokens: int
    usd: float | None  # None: no known price for the model and no override
    price_per_million: float | None
    prices_as_of: str | None  # None when the price was an override
    exact_tokens: bool
    note: str


def training_price(model: str) -> float | None:
    """USD per 1M training tokens from the dated table; a fine-tuned model ("ft:BASE:…") trains
    at its base's price, and a name without its date ("gpt-4.1-mini") at the dated one's."""
    base = base_model(model)
    if base in OPENAI_TRAINING_PRICES:
        return OPENAI_TRAINING_PRICES[base]
    dated = re.compile(re.escape(base) + r"-\d{4}(?:-\d{2}-\d{2})?")
    matches = [p for name, p in OPENAI_TRAINING_PRICES.items() if dated.fullmatch(name)]
    return matches[0] if len(matches) == 1 else None


def estimate_cost(
    train_tokens: int,
    epochs: int,
    model: str,
    price_per_million: float | None = None,
    *,
    exact_tokens: bool | None = None,
) -> CostEstimate:
    """The training cost of `train_tokens` over `epochs` on `model`.

    `exact_tokens`: whether the tokens were counted with the model's own encoding. None assumes
    they came from `counter_for(model)`, which is exact only with tiktoken's encoding cached;
    pass False when they were counted with another model's tokenizer.
    """
    if train_tokens < 0 or epochs < 1:
        raise ChatcloneError(f"cannot estimate a cost for {train_tokens} tokens × {epochs} epochs")
    if price_per_million is not None and price_per_million < 0:
        raise ChatcloneError(f"a price cannot be negative ({price_per_million})")
    if exact_tokens is None:
        exact_tokens = is_openai_model(model) and not _tiktoken_missing(model)
    billed = train_tokens * epochs
    notes = []
    price: float | None
    as_of: str | None
    if price_per_million is not None:
        price, as_of = price_per_million, None
        notes.append("price given as an override")
    else:
        price, as_of = training_price(model), PRICES_AS_OF
        if price is None:
            known = ", ".join(OPENAI_TRAINING_PRICES)
            notes.append(f"no known training price for {model} (known: {known}); pass a price")
        else:
            notes.append(f"OpenAI's published price as of {PRICES_AS_OF}; prices change")
    if not exact_tokens:
        notes.append(f"tokens are an approximation of {model}'s count")
    usd = round(billed * price / 1_000_000, 4) if price is not None else None
    return CostEstimate(
        model, train_tokens, epochs, billed, usd, price, as_of, exact_tokens, "; ".join(notes)
    )


def _tiktoken_missing(model: str) -> bool:
    if importlib.util.find_spec("tiktoken") is None:
        return True
    return bool(_missing_encoding(openai_encoding(model)))
