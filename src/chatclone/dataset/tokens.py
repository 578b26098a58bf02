"""Token counts with the training model's tokenizer.

`counter_for(model)` picks how a whole chat sample is counted, the way the model sees it:

- "default" (the packaged SmolLM2), a Hugging Face id or a local path: that tokenizer, exactly,
  through its chat template; read straight from its saved files with `tokenizers` and jinja2
  (`fast_tokens`, no transformers or torch import) when they are on disk, as the default model's
  are once its first load has converted them into the cache;
- an OpenAI model name: tiktoken with OpenAI's documented per-message overhead when its encoding
  is already on this machine, else a labelled approximation (`chatclone.openai.tokens`).

What OpenAI would charge for the tokens is `chatclone.openai.pricing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from chatclone.dataset.fast_tokens import Messages, TemplateCount, counter_in, plain_messages
from chatclone.models import DEFAULT_MODEL, load_tokenizer, tokenizer_dir
from chatclone.openai.tokens import is_openai_model, openai_counter

BATCH = 1000  # messages per call to a fast tokenizer when counting many


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


def counter_for(model: str) -> TokenCounter:
    """The token counter for the dataset's model (see the module docstring)."""
    if is_openai_model(model):
        return openai_counter(model)
    label = "SmolLM2-135M-Instruct (default)" if model == DEFAULT_MODEL else model
    # The tokenizer's own files, read without transformers, when they are on disk: the default
    # model's once converted into the cache (the first load below does it), or a local folder.
    saved = tokenizer_dir(model)
    fast = counter_in(saved, label) if saved is not None else None
    if fast is not None:
        return fast
    return HFCounter(label, load_tokenizer(model))


@dataclass
class HFCounter(TemplateCount):
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
        return self._templated(plain)

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


_plain = plain_messages


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)
