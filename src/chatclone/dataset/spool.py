"""Samples on their way to disk: a build writes each sample once, as its OpenAI JSONL line, into a
spool file as soon as it is made, and keeps only a few small facts about it (its conversation,
tokens, turns, validation problems). Once every sample is known, the chronological split says
which lines go to `train.jsonl` and which to `valid.jsonl`, and the spool is copied out line by
line. Peak memory stays flat however many samples there are; the files are byte for byte what
writing the whole list at once gives (`formats.write_openai`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from chatclone.dataset import formats
from chatclone.dataset.model import Sample
from chatclone.dataset.report import VALID_META_FILE
from chatclone.dataset.samples import held_out_sessions
from chatclone.dataset.tokens import TokenCounter


@dataclass(frozen=True, slots=True)
class SampleFacts:
    """What a build needs of a sample once it is spooled."""

    session: int  # index into `SampleSpool.sessions`
    tokens: int
    turns: int  # messages after the system prompt
    problems: tuple[str, ...]  # `formats.sample_problems`, unlabelled

    @classmethod
    def of(cls, sample: Sample, session: int, counter: TokenCounter, limit: int) -> SampleFacts:
        problems = formats.sample_problems(sample.messages, counter, limit, sample.tokens)
        return cls(session, sample.tokens, len(sample.messages) - 1, tuple(problems))


def openai_line(sample: Sample) -> bytes:
    """The sample's line in OpenAI's JSONL, as `formats.write_openai` writes it."""
    row = {"messages": [dict(m) for m in sample.messages]}
    return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


class SampleSpool:
    """Spooled samples in the order they were made (see the module docstring)."""

    def __init__(self, folder: Path, counter: TokenCounter, max_tokens: int) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix=".samples-", dir=folder)  # noqa: SIM115
        self._counter = counter
        self._max_tokens = max_tokens
        self._session_ids: dict[tuple[str, str], int] = {}
        self.sessions: list[tuple[str, str]] = []  # (session_start, chat)
        self.facts: list[SampleFacts] = []

    def add(self, sample: Sample) -> None:
        key = (sample.session_start, sample.chat)
        session = self._session_ids.setdefault(key, len(self.sessions))
        if session == len(self.sessions):
            self.sessions.append(key)
        self._file.write(openai_line(sample))
        self.facts.append(SampleFacts.of(sample, session, self._counter, self._max_tokens))

    def split(self, fraction: float) -> list[bool]:
        """For each spooled sample, whether it is held out (`samples.chronological_split`)."""
        held_out = held_out_sessions(self.sessions, fraction)
        out = [key in held_out for key in self.sessions]
        return [out[f.session] for f in self.facts]

    def lines(self) -> Iterator[bytes]:
        self._file.flush()
        self._file.seek(0)
        yield from self._file
        self._file.seek(0, 2)

    def close(self) -> None:
        self._file.close()


def write_split(
    folder: Path, spool: SampleSpool, held_out: list[bool], extra_train: list[Sample]
) -> None:
    """`train.jsonl` (spooled training samples, then `extra_train`), `valid.jsonl` and
    `valid.meta.jsonl` (each held-out sample's chat and conversation start)."""
    with (
        (folder / "train.jsonl").open("wb") as train,
        (folder / "valid.jsonl").open("wb") as valid,
        (folder / VALID_META_FILE).open("w", encoding="utf-8") as meta,
    ):
        for line, facts, out in zip(spool.lines(), spool.facts, held_out, strict=True):
            if not out:
                train.write(line)
                continue
            valid.write(line)
            start, chat = spool.sessions[facts.session]
            meta.write(json.dumps({"chat": chat, "session_start": start}, ensure_ascii=False))
            meta.write("\n")
        for sample in extra_train:
            train.write(openai_line(sample))


def read_split(path: Path) -> list[list[dict[str, object]]]:
    """A written JSONL split's samples, for the formats made from it (ShareGPT, Hugging Face)."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["messages"] for line in f]
