"""The data an evaluation stands on: the dataset's chronological validation split (the latest
sessions, never trained on) as (context, real reply) pairs, and the training split's texts.

Every assistant turn of `valid.jsonl` is a held-out turn: the context is the sample's messages
before it, system prompt included, exactly as the clone would see them. Windows of one session
overlap by their last exchange, so a turn seen twice is kept once. Low-information replies ("ok",
"lol"), context-only in training, are held out too: they are part of how the person texts.

From `train.jsonl` come the person's replies (for the copy rate and the authorship classifier)
and everyone else's messages (the classifier's other side; in a group, each line's "Name: "
prefix is removed so the classifier learns how people write, not whose name comes first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from chatclone.dataset.report import TRAIN_FILE, VALID_FILE
from chatclone.errors import ChatcloneError
from chatclone.memory.block import strip_memory
from chatclone.prompt import ASSISTANT, OPENER, USER, ChatMessage
from chatclone.train.data import read_conversations

_SENDER = re.compile(r"^[^\n:]{1,60}: ")


@dataclass(frozen=True)
class HeldOutTurn:
    """One reply the person really sent, and everything before it in its sample."""

    context: list[ChatMessage]  # system prompt first, ends with the message being answered
    real: str  # the person's reply: bubbles joined by newlines
    sample: int = -1  # the line of valid.jsonl it comes from (0-based)

    @property
    def last_message(self) -> str:
        return self.context[-1]["content"] if self.context else ""


@dataclass(frozen=True)
class TrainingTexts:
    person: list[str]  # the person's replies in the training split
    others: list[str]  # the messages they answered, one text per bubble-group, names removed


def heldout_turns(dataset_dir: Path, limit: int = 0) -> tuple[list[HeldOutTurn], int]:
    """The validation split's turns (at most `limit`, spread evenly over the split when it has
    more; 0: all) and how many sessions-samples they come from."""
    path = dataset_dir / VALID_FILE
    if not path.is_file():
        raise ChatcloneError(f"{path} is missing: rebuild the dataset with `chatclone build`")
    conversations = read_conversations(path)
    turns: list[HeldOutTurn] = []
    last: tuple[str, str, str] | None = None  # the previous sample's last exchange
    for n, messages in enumerate(conversations):
        for i, message in enumerate(messages):
            if message.get("role") != ASSISTANT or i == 0:
                continue
            if i == 2 and _exchange(messages, i) == last:  # a window opens with the one before's
                continue
            context = [_plain(m) for m in messages[:i]]
            turns.append(HeldOutTurn(context, str(message["content"]), n))
        last = _exchange(messages, len(messages) - 1) if len(messages) >= 3 else None
    if not turns:
        raise ChatcloneError(
            f"{path} holds no replies to evaluate on: rebuild the dataset with a validation "
            "split (valid_fraction above 0 in chatclone.toml's [dataset], and at least two "
            "sessions)"
        )
    return spread(turns, limit), len(conversations)


def spread(items: list[HeldOutTurn], limit: int) -> list[HeldOutTurn]:
    """`limit` items evenly spaced over the list (first and last included), in order."""
    if limit <= 0 or len(items) <= limit:
        return items
    if limit == 1:
        return [items[-1]]
    step = (len(items) - 1) / (limit - 1)
    return [items[round(k * step)] for k in range(limit)]


def training_texts(dataset_dir: Path) -> TrainingTexts:
    """The person's replies and the others' messages in the training split."""
    path = dataset_dir / TRAIN_FILE
    if not path.is_file():
        raise ChatcloneError(f"{path} is missing: rebuild the dataset with `chatclone build`")
    person: dict[str, None] = {}
    others: dict[str, None] = {}
    for messages in read_conversations(path):
        for m in messages:
            text = str(m.get("content") or "").strip()
            if not text or text == OPENER:
                continue
            if m.get("role") == ASSISTANT:
                person[text] = None
            elif m.get("role") == USER:
                others[_without_senders(text)] = None
    return TrainingTexts(list(person), [t for t in others if t])


def _without_senders(text: str) -> str:
    """A group turn's lines are "Name: text"; only when every line is, the names go."""
    lines = text.split("\n")
    if all(_SENDER.match(line) for line in lines):
        return "\n".join(_SENDER.sub("", line, count=1) for line in lines)
    return text


def _exchange(messages: list[dict[str, object]], i: int) -> tuple[str, str, str]:
    """The exchange ending at message `i` of a sample, with the sample's system prompt (its
    memory block left out: two windows of one conversation may recall different things)."""
    return (strip_memory(str(messages[0].get("content"))), str(messages[i - 1].get("content")),
            str(messages[i].get("content")))  # fmt: skip


def _plain(message: dict[str, object]) -> ChatMessage:
    """A message as a prompt has it (no training `weight`)."""
    return {"role": str(message.get("role")), "content": str(message.get("content") or "")}
