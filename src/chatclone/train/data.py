"""Dataset → token ids and a loss mask → length-grouped micro-batches, for the local backend.

A conversation is rendered once with the tokenizer's own chat template and tokenized once; the mask
says which tokens the model learns from: the assistant's replies (their text and the end-of-turn
token that teaches the clone when to stop), and nothing else. The system prompt, every user turn,
the role headers and replies with `"weight": 0` (low-information ones, kept as context) carry no
loss. Masks come from character spans of the rendered text, never from string tricks on the ids.

Batches group samples of similar length under a token budget (padding included), so little compute
goes to padding, and the order is a pure function of (seed, epoch): a resumed run sees exactly the
batches the interrupted one would have.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatclone.errors import ChatcloneError, InputError

IGNORE = -100  # the label PyTorch's cross-entropy skips


@dataclass(frozen=True)
class Encoded:
    """One training sample: token ids, and labels equal to the ids where the model learns from
    the token and IGNORE elsewhere."""

    ids: list[int]
    labels: list[int]

    @property
    def trained(self) -> int:
        return sum(label != IGNORE for label in self.labels)


def read_conversations(path: Path) -> list[list[dict[str, Any]]]:
    """The `messages` lists of an OpenAI-format JSONL file (what `chatclone build` writes)."""
    conversations = []
    try:
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    messages = json.loads(line)["messages"]
                except (ValueError, KeyError, TypeError) as e:
                    raise InputError(str(path), f"not a chat sample ({e})", number) from None
                conversations.append(messages)
    except UnicodeDecodeError as e:
        raise InputError(str(path), f"not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise InputError(str(path), f"cannot read it ({e.strerror})") from None
    return conversations


def encode_conversation(tokenizer: Any, messages: Sequence[dict[str, Any]]) -> Encoded:
    """Token ids of the whole conversation and the assistant-only labels."""
    chat = [{"role": m["role"], "content": m["content"]} for m in messages]
    text = _render(tokenizer, chat)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant" or message.get("weight", 1) == 0:
            continue
        prompt = _render(tokenizer, chat[:i], generation_prompt=True)
        upto = _render(tokenizer, chat[: i + 1])
        start, end = len(prompt), len(upto.rstrip())
        if not (text.startswith(upto) and upto.startswith(prompt)) or start > end:
            raise ChatcloneError(
                f"the chat template of this tokenizer renders a conversation differently from "
                f"its beginning (turn {i + 1}), so replies cannot be masked; use another model"
            )
        spans.append((start, end))
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = encoding["input_ids"]
    labels = [IGNORE] * len(ids)
    for k, (token_start, token_end) in enumerate(encoding["offset_mapping"]):
        if token_end > token_start and any(s <= token_start < e for s, e in spans):
            labels[k] = ids[k]
    return Encoded(ids, labels)


def _render(tokenizer: Any, chat: list[dict[str, str]], generation_prompt: bool = False) -> str:
    if not chat:
        return ""
    text: str = tokenizer.apply_chat_template(
        chat, tokenize=False, add_generation_prompt=generation_prompt
    )
    return text


def encode_file(tokenizer: Any, path: Path, max_tokens: int) -> tuple[list[Encoded], int]:
    """Every sample of a dataset file; samples with nothing to learn are skipped, and samples
    longer than `max_tokens` are cut at the end (both counted: (samples, skipped))."""
    encoded, skipped = [], 0
    for messages in read_conversations(path):
        sample = encode_conversation(tokenizer, messages)
        if len(sample.ids) > max_tokens:
            sample = Encoded(sample.ids[:max_tokens], sample.labels[:max_tokens])
        if sample.trained == 0:
            skipped += 1
            continue
        encoded.append(sample)
    return encoded, skipped


def length_grouped_batches(
    lengths: Sequence[int], batch_tokens: int, seed: int, epoch: int
) -> list[list[int]]:
    """Sample indices in micro-batches: similar lengths together, each batch's padded size
    (longest × count) within `batch_tokens` (a longer sample goes alone), batch order shuffled by
    (seed, epoch). Deterministic, so a resumed run recomputes the same batches."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)  # ties in length are broken differently each epoch
    order.sort(key=lambda i: lengths[i])
    batches = group_by_tokens(order, lengths, batch_tokens)
    rng.shuffle(batches)
    return batches


def group_by_tokens(order: Sequence[int], lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Consecutive runs of `order` whose padded size (longest so far × count) fits `budget`;
    with `order` sorted by length, the longest so far is the newest."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and lengths[i] * (len(current) + 1) > budget:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


@dataclass
class Batch:
    input_ids: Any  # LongTensor [batch, longest]
    attention_mask: Any
    labels: Any
    tokens: int  # real tokens, padding excluded
    trained: int  # tokens with a loss


def collate(samples: Sequence[Encoded], pad_id: int) -> Batch:
    """Right-pad to the longest sample in the batch; padding carries no attention and no loss."""
    import torch

    longest = max(len(s.ids) for s in samples)
    ids = torch.full((len(samples), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(samples), longest), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(samples), longest), dtype=torch.long)
    for row, s in enumerate(samples):
        n = len(s.ids)
        ids[row, :n] = torch.tensor(s.ids)
        labels[row, :n] = torch.tensor(s.labels)
        mask[row, :n] = 1
    return Batch(
        ids, mask, labels, sum(len(s.ids) for s in samples), sum(s.trained for s in samples)
    )


def micro_batches(
    samples: Sequence[Encoded], batch_tokens: int, seed: int, start_epoch: int = 0
) -> Iterator[tuple[int, list[int]]]:
    """(epoch, batch indices) for epoch after epoch, forever; the caller decides when to stop."""
    lengths = [len(s.ids) for s in samples]
    epoch = start_epoch
    while True:
        for batch in length_grouped_batches(lengths, batch_tokens, seed, epoch):
            yield epoch, batch
        epoch += 1
