"""Samples → files: OpenAI's chat fine-tuning JSONL (validated), LLaMA-Factory's ShareGPT, and a
Hugging Face `datasets` copy.

A sample is a list of messages in OpenAI's shape, `{"role", "content"[, "weight"]}`, the first
being the system message. `weight` (0 or 1, assistant messages only) is OpenAI's: weight 0 keeps a
reply as context without training on it.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, cast

from chatclone.dataset.tokens import TokenCounter, counter_for
from chatclone.errors import ChatcloneError, InputError
from chatclone.openai.tokens import base_model
from chatclone.prompt import ASSISTANT, SYSTEM, USER

FORMATS = ("openai", "sharegpt", "hf")
Messages = Sequence[Mapping[str, object]]

# OpenAI's documented rules for chat fine-tuning files (platform.openai.com/docs/guides/
# fine-tuning, "Preparing your dataset" and "Token limits"): at least 10 examples; each training
# example at most 65,536 tokens (gpt-4o-mini, gpt-4o, gpt-4.1 families; 16,385 for gpt-3.5-turbo);
# longer examples are truncated from the end, which silently cuts the replies being learned.
OPENAI_MIN_EXAMPLES = 10
OPENAI_EXAMPLE_TOKEN_LIMIT = 65_536
_SMALLER_LIMITS = {"gpt-3.5-turbo": 16_385}
_ROLES = (SYSTEM, USER, ASSISTANT)
_KEYS = {"role", "content", "weight", "name"}


def example_token_limit(model: str) -> int:
    """OpenAI's per-example token limit for training `model`."""
    base = base_model(model)
    for prefix, limit in _SMALLER_LIMITS.items():
        if base.startswith(prefix):
            return limit
    return OPENAI_EXAMPLE_TOKEN_LIMIT


# --- OpenAI: validation ------------------------------------------------------------------------


def validate_openai(
    samples: Sequence[Messages],
    token_counter: TokenCounter,
    max_tokens: int = OPENAI_EXAMPLE_TOKEN_LIMIT,
    *,
    min_examples: int = OPENAI_MIN_EXAMPLES,
    limit: int = 50,
    token_counts: Sequence[int] | None = None,
) -> list[str]:
    """Problems that would make OpenAI reject (or truncate) these examples; empty when valid.

    Each example is checked on its own ("example 3: …"), then the file as a whole (at least
    `min_examples`; pass 0 for a validation file, which has no minimum). At most `limit`
    problems are listed, then how many more there are.
    """
    labelled = [(f"example {i}", s) for i, s in enumerate(samples, 1)]
    return _validate(labelled, token_counter, max_tokens, min_examples, limit, token_counts)


def check_openai_file(
    path: Path,
    token_counter: TokenCounter | None = None,
    max_tokens: int = OPENAI_EXAMPLE_TOKEN_LIMIT,
    *,
    min_examples: int = OPENAI_MIN_EXAMPLES,
    limit: int = 50,
) -> list[str]:
    """Read an OpenAI chat JSONL file and validate it; problems name their line numbers.

    Without a counter, tokens are counted for gpt-4.1-mini (tiktoken when its encoding is cached,
    else approximately).
    """
    counter = token_counter or counter_for("gpt-4.1-mini-2025-04-14")
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(str(path), f"cannot read it ({e})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    problems: list[str] = []
    labelled: list[tuple[str, object]] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            problems.append(f"line {n}: empty line")
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"line {n}: not valid JSON ({e.msg})")
            continue
        if not isinstance(row, dict) or "messages" not in row:
            problems.append(f'line {n}: not an object with a "messages" list')
            continue
        labelled.append((f"line {n}", row["messages"]))
    problems += _validate(labelled, counter, max_tokens, min_examples, limit=len(lines) + 1)
    return _capped([f"{path.name} {p}" for p in problems], limit)


def _validate(
    labelled: Sequence[tuple[str, object]],
    counter: TokenCounter,
    max_tokens: int,
    min_examples: int,
    limit: int,
    token_counts: Sequence[int] | None = None,
) -> list[str]:
    found = [
        # Counts the caller already made (a build counts every sample) save a second pass.
        sample_problems(messages, counter, max_tokens, token_counts[i] if token_counts else None)
        for i, (_, messages) in enumerate(labelled)
    ]
    return labelled_problems([label for label, _ in labelled], found, min_examples, limit)


def sample_problems(
    messages: object, counter: TokenCounter, max_tokens: int, tokens: int | None = None
) -> list[str]:
    """One example's problems (`example_problems`, then its size, counted only when it is
    otherwise valid unless `tokens` gives it)."""
    found = example_problems(messages)
    if not found:
        n = tokens if tokens is not None else counter.count(cast(Messages, messages))
        if n > max_tokens:
            about = "" if counter.exact else "about "
            found.append(f"{about}{n} tokens, over OpenAI's limit of {max_tokens} per example")
    return found


def labelled_problems(
    labels: Sequence[str], found: Sequence[Sequence[str]], min_examples: int, limit: int
) -> list[str]:
    """A file's problems from its examples' (`sample_problems`, one list per example, labelled
    in order), then the file's own (too few examples), at most `limit` listed."""
    problems = [f"{label}: {p}" for label, ps in zip(labels, found, strict=True) for p in ps]
    if len(labels) < min_examples:
        problems.append(
            f"{len(labels)} examples; OpenAI requires at least {min_examples} to fine-tune"
        )
    return _capped(problems, limit)


def example_problems(messages: object) -> list[str]:
    """What is wrong with one example's messages under OpenAI's chat rules (empty: nothing)."""
    if not isinstance(messages, list) or not messages:
        return ["no messages (each example needs a non-empty messages list)"]
    problems: list[str] = []
    roles: list[str] = []
    for i, m in enumerate(messages, 1):
        if not isinstance(m, dict):
            problems.append(f"message {i} is not an object")
            roles.append("?")
            continue
        problems += [f"message {i}: {p}" for p in _message_problems(m)]
        roles.append(str(m.get("role")))
    problems += _order_problems(roles)
    trained = [
        m
        for m in messages
        if isinstance(m, dict) and m.get("role") == ASSISTANT and m.get("weight", 1) == 1
    ]
    if not trained:
        problems.append("no assistant message to learn from (none, or all with weight 0)")
    return problems


def _message_problems(m: Mapping[str, object]) -> list[str]:
    problems = []
    role = m.get("role")
    if role not in _ROLES:
        problems.append(f"role {role!r} is not one of {', '.join(_ROLES)}")
    content = m.get("content")
    if not isinstance(content, str) or not content.strip():
        problems.append("content must be a non-empty string")
    unknown = sorted(set(m) - _KEYS)
    if unknown:
        problems.append(f"unknown keys {', '.join(unknown)}")
    if "weight" in m:
        weight = m["weight"]
        if role != ASSISTANT:
            problems.append("weight is only allowed on assistant messages")
        elif isinstance(weight, bool) or weight not in (0, 1):
            problems.append(f"weight must be 0 or 1, not {weight!r}")
    return problems


def _order_problems(roles: list[str]) -> list[str]:
    """At most one system message, first; then user and assistant strictly alternate."""
    problems = []
    systems = [i for i, r in enumerate(roles, 1) if r == SYSTEM]
    if systems and systems != [1]:
        problems.append(f"system message at position {', '.join(map(str, systems))} (only first)")
    chat = [(i, r) for i, r in enumerate(roles, 1) if r in (USER, ASSISTANT)]
    for (_, previous), (i, role) in pairwise(chat):
        if role == previous:
            problems.append(f"message {i}: two {role} messages in a row (roles must alternate)")
    return problems


def _capped(problems: list[str], limit: int) -> list[str]:
    if len(problems) <= limit:
        return problems
    return [*problems[:limit], f"… and {len(problems) - limit} more problems"]


# --- writers -----------------------------------------------------------------------------------


def write_openai(path: Path, samples: Iterable[Messages]) -> None:
    """OpenAI's chat fine-tuning JSONL: one `{"messages": [...]}` per line, UTF-8."""
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for messages in samples:
            row = {"messages": [dict(m) for m in messages]}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_sharegpt(
    path: Path, samples: Iterable[Messages], dataset_name: str | None = None
) -> None:
    """LLaMA-Factory's ShareGPT format: a JSON array of `{"conversations": [{"from": "human" |
    "gpt", "value"}], "system"}`, and its entry in `dataset_info.json` beside the file (merged
    with the entries already there), so that `dataset: NAME` finds it.

    ShareGPT has no per-turn weight: assistant turns with weight 0 (low-information replies,
    meant as context only) are kept as ordinary `gpt` turns, and LLaMA-Factory trains on them.
    Use the OpenAI or Hugging Face copy where that distinction matters.

    `dataset_name` defaults to the file name up to its first dot ("train" for
    `train.sharegpt.json`).
    """
    rows = [_sharegpt_row(i, messages) for i, messages in enumerate(samples, 1)]
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", "utf-8")
    name = dataset_name or path.name.split(".")[0]
    info_path = path.parent / "dataset_info.json"
    info: dict[str, Any] = {}
    if info_path.exists():
        try:
            info = json.loads(info_path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(str(info_path), f"not valid JSON ({e})") from None
    info[name] = {
        "file_name": path.name,
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system"},
        "tags": {
            "role_tag": "from",
            "content_tag": "value",
            "user_tag": "human",
            "assistant_tag": "gpt",
        },
    }
    info_path.write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", "utf-8")


_SHAREGPT_ROLES = {USER: "human", ASSISTANT: "gpt"}


def _sharegpt_row(number: int, messages: Messages) -> dict[str, object]:
    system = ""
    conversations = []
    for i, m in enumerate(messages):
        role, content = m.get("role"), str(m.get("content", ""))
        if role == SYSTEM and i == 0:
            system = content
        elif isinstance(role, str) and role in _SHAREGPT_ROLES:
            conversations.append({"from": _SHAREGPT_ROLES[role], "value": content})
        else:
            raise ChatcloneError(f"sample {number}: message {i + 1} has role {role!r}")
    # LLaMA-Factory wants human turns at odd positions and gpt turns at even ones.
    if conversations and conversations[0]["from"] != "human":
        raise ChatcloneError(f"sample {number}: ShareGPT needs the first turn to be the user's")
    return {"conversations": conversations, "system": system}


def write_hf(folder: Path, splits: Mapping[str, Iterable[Messages]]) -> None:
    """A Hugging Face `datasets.DatasetDict` (one split per key, a `messages` column) written with
    `save_to_disk`; read it back with `datasets.load_from_disk(folder)`.

    Every message has role, content and weight; weight is null where the sample had none (user
    and system messages), since Arrow gives all rows one shape.
    """
    try:
        datasets = importlib.import_module("datasets")  # optional: the `hf` extra
    except ImportError:
        raise ChatcloneError(
            "the Hugging Face copy (--format hf) needs the datasets package: "
            "pip install 'chatclone[hf]'"
        ) from None
    message = {
        "role": datasets.Value("string"),
        "content": datasets.Value("string"),
        "weight": datasets.Value("int64"),
    }
    features = datasets.Features({"messages": [message]})  # a list of message structs
    parts = {}
    for split, samples in splits.items():
        rows = [[_hf_message(m) for m in messages] for messages in samples]
        parts[split] = datasets.Dataset.from_dict({"messages": rows}, features=features)
    # One shard per split: an empty split saved with zero shards cannot be loaded back.
    shards = dict.fromkeys(parts, 1)
    bars_on = datasets.is_progress_bar_enabled()
    if bars_on:
        datasets.disable_progress_bars()  # the CLI shows its own progress
    try:
        datasets.DatasetDict(parts).save_to_disk(str(folder), num_shards=shards)
    finally:
        if bars_on:
            datasets.enable_progress_bars()


def _hf_message(m: Mapping[str, object]) -> dict[str, object]:
    return {"role": m.get("role"), "content": m.get("content"), "weight": m.get("weight")}
