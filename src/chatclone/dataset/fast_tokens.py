"""Token counts straight from a tokenizer's own files, without transformers (or torch).

A model folder saved in Hugging Face's format holds `tokenizer.json` (what the `tokenizers`
package reads) and its chat template (`chat_template.jinja`, or a `chat_template` string in
`tokenizer_config.json`). Rendering that template with jinja2 the way transformers does and
encoding the text with `tokenizers` gives the same count as transformers' `apply_chat_template`,
at a fraction of the start-up cost: importing transformers takes seconds, these two packages a few
hundredths. `tests/test_build_tokens.py` checks the counts against transformers'.

`counter_in(folder, name)` is a `FastCounter` when the folder has what it needs, else None (the
caller falls back to the transformers tokenizer).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

Messages = Sequence[Mapping[str, object]]

BATCH = 1000  # messages per call to the tokenizer when counting many
TEMPLATE_FILE = "chat_template.jinja"
CONFIG_FILE = "tokenizer_config.json"
# The special tokens a template may refer to by name (`{{ bos_token }}`), as transformers passes.
_SPECIAL = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token")


def counter_in(folder: Path, name: str) -> FastCounter | None:
    """A counter for the tokenizer saved in `folder`, or None when it lacks `tokenizer.json` or
    the `tokenizers`/jinja2 packages are missing."""
    saved = saved_tokenizer(folder)
    return None if saved is None else FastCounter(name, saved.tokenizer, saved.render)


@dataclass(frozen=True)
class SavedTokenizer:
    """A model folder's `tokenizer.json` (a `tokenizers.Tokenizer`), its chat template compiled
    (None where it has none) and the special tokens the template may name."""

    tokenizer: Any
    render: Callable[[list[dict[str, str]]], str] | None
    special: dict[str, str | None]


def saved_tokenizer(folder: Path, generation_prompt: bool = False) -> SavedTokenizer | None:
    """The tokenizer saved in `folder`, its template rendering as transformers' does (with
    `generation_prompt`, ending with the assistant's opening, as `add_generation_prompt=True`);
    None when it lacks `tokenizer.json`, the template does not compile, or `tokenizers`/jinja2
    are missing."""
    if not (folder / "tokenizer.json").is_file():
        return None
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return None
    config = _config(folder)
    template = _template(folder, config)
    special = {k: _token_text(config.get(k)) for k in _SPECIAL}
    render = None
    if template is not None:
        render = _renderer(template, special, generation_prompt)
        if render is None:
            return None
    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception:  # a damaged file: the transformers path reports (or repairs) it
        return None
    return SavedTokenizer(tokenizer, render, special)


class TemplateCount:
    """The one rule both counters (`FastCounter`, `tokens.HFCounter`) count a templated chat by:
    some templates (SmolLM2's) add a default system prompt to a chat without one, so messages
    counted alone are measured as they appear after a system message instead."""

    _head: int | None  # the empty system message's tokens, measured once

    def _ids(self, plain: list[dict[str, str]]) -> int:
        raise NotImplementedError

    def _templated(self, plain: list[dict[str, str]]) -> int:
        if plain[0]["role"] == "system":
            return self._ids(plain)
        head = [{"role": "system", "content": ""}]
        try:
            if self._head is None:
                self._head = self._ids(head)
            return self._ids(head + plain) - self._head
        except Exception:  # a template that refuses a system message
            return self._ids(plain)


@dataclass
class FastCounter(TemplateCount):
    """`tokens.HFCounter`'s counts (the same rules, message for message) from `tokenizers` and a
    jinja2 rendering of the chat template; without a template, the contents' tokens plus a small
    per-message overhead."""

    name: str
    tokenizer: Any  # tokenizers.Tokenizer
    render: Callable[[list[dict[str, str]]], str] | None
    exact: bool = True
    note: str = ""
    per_message: int = 4
    _head: int | None = field(default=None, init=False, repr=False)
    _overheads: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def count(self, messages: Messages) -> int:
        plain = plain_messages(messages)
        if not plain:
            return 0
        if self.render is None:
            return sum(self._length(m["content"]) for m in plain) + self.per_message * len(plain)
        return self._templated(plain)

    def count_each(self, messages: Messages) -> list[int]:
        """Each message's share of a sample's count: its content's tokens plus its role's template
        overhead. A text repeated ("ok", "haha") is encoded once."""
        plain = plain_messages(messages)
        unique = list(dict.fromkeys(m["content"] for m in plain))
        lengths: dict[str, int] = {}
        encode = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)
        for start in range(0, len(unique), BATCH):
            chunk = unique[start : start + BATCH]
            for text, encoding in zip(chunk, encode(chunk, add_special_tokens=False), strict=True):
                lengths[text] = len(encoding.ids)
        return [lengths[m["content"]] + self._overhead(m["role"]) for m in plain]

    def _overhead(self, role: str) -> int:
        if role not in self._overheads:
            probe = "x"
            self._overheads[role] = self.count([{"role": role, "content": probe}]) - self._length(
                probe
            )
        return self._overheads[role]

    def _length(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def _ids(self, plain: list[dict[str, str]]) -> int:
        assert self.render is not None
        return self._length(self.render(plain))


def _config(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / CONFIG_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _template(folder: Path, config: dict[str, Any]) -> str | None:
    path = folder / TEMPLATE_FILE
    if path.is_file():
        return path.read_text("utf-8")
    template = config.get("chat_template")
    return template if isinstance(template, str) and template else None


def _token_text(value: object) -> str | None:
    """A special token as tokenizer_config.json writes it: a string, or {"content": …}."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _renderer(
    template: str, special: dict[str, str | None], generation_prompt: bool = False
) -> Callable[[list[dict[str, str]]], str] | None:
    """The template compiled as transformers compiles it (sandboxed, trim_blocks, lstrip_blocks,
    loop controls, its `tojson`, `raise_exception` and `strftime_now`)."""
    try:
        import jinja2
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError:
        return None

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(
        x: object,
        ensure_ascii: bool = False,
        indent: int | None = None,
        separators: tuple[str, str] | None = None,
        sort_keys: bool = False,
    ) -> str:
        return json.dumps(
            x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
        )

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        compiled = env.from_string(template)
    except jinja2.TemplateError:
        return None
    tokens = {k: v for k, v in special.items() if v is not None}

    def render(messages: list[dict[str, str]]) -> str:
        return compiled.render(messages=messages, add_generation_prompt=generation_prompt, **tokens)

    return render


def plain_messages(messages: Messages) -> list[dict[str, str]]:
    """Only what a chat template reads: role and content (never the OpenAI-only weight)."""
    return [{"role": _text(m.get("role")), "content": _text(m.get("content"))} for m in messages]


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)
