"""Fact probes, replies to them read from JSONL files, and the vocabulary of their verdicts.

The probe file is a contract (acceptance checks write such files): one JSON object a line with
`id`, `question`, `kind`, `answers` and `wrong`; extra keys are allowed and ignored. Every problem is
reported as an `InputError` naming the file and the line, so a hand-written file is quick to fix.

`Judgement` and `FactJudge` live here, not in `judge.py`, so that the rule judge (`judge.py`) and the
LLM judge (`llm_judge.py`) share them without importing each other; `judge.py` re-exports them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chatclone.errors import InputError

KINDS = ("answerable", "unanswerable", "false_premise", "changed")
VERDICTS = ("correct", "wrong", "abstain", "hallucinated")
# Kinds whose probes have an established value: a probe of these kinds without any accepted
# answer could never be judged correct.
NEEDS_ANSWERS = ("answerable", "changed")


@dataclass(frozen=True)
class Probe:
    """One question put to the clone, with what a correct reply contains and what a wrong one
    typically says (a stale value for `changed`, playing along for `false_premise`)."""

    id: str
    question: str
    kind: str
    answers: tuple[str, ...]
    wrong: tuple[str, ...]


@dataclass(frozen=True)
class Judgement:
    """A verdict, one short line saying why, and whether the rules are sure of it."""

    verdict: str
    reason: str
    sure: bool = True


class FactJudge(Protocol):
    """Anything that gives each (probe, reply) pair a verdict: the rules, an LLM, or both."""

    def judge_all(self, pairs: Sequence[tuple[Probe, str]]) -> list[Judgement]: ...


def load_probes(path: Path) -> list[Probe]:
    """Every probe in the JSONL file `path`, in file order."""
    probes: list[Probe] = []
    seen: set[str] = set()
    for line, row in _rows(path):
        probe = _probe(row, str(path), line)
        if probe.id in seen:
            raise InputError(str(path), f"duplicate probe id '{probe.id}'", line)
        seen.add(probe.id)
        probes.append(probe)
    if not probes:
        raise InputError(str(path), "no probes in the file")
    return probes


def load_replies(path: Path) -> list[tuple[str, str]]:
    """Every `(probe_id, reply)` pair in the JSONL file `path`, in file order."""
    replies = [
        (_text(row, "probe_id", str(path), line), _text(row, "reply", str(path), line))
        for line, row in _rows(path)
    ]
    if not replies:
        raise InputError(str(path), "no replies in the file")
    return replies


def pair_replies(
    probes: Sequence[Probe], replies: Sequence[tuple[str, str]], path: Path
) -> list[tuple[Probe, str]]:
    """Each reply with its probe; a reply to a probe id the probe file lacks is an error naming
    the line of `path` it is on (replies are numbered by their non-blank lines' order)."""
    by_id = {p.id: p for p in probes}
    lines = _content_lines(path)
    pairs: list[tuple[Probe, str]] = []
    for index, (probe_id, reply) in enumerate(replies):
        if probe_id not in by_id:
            line = lines[index] if index < len(lines) else None
            raise InputError(str(path), f"reply to an unknown probe id '{probe_id}'", line)
        pairs.append((by_id[probe_id], reply))
    return pairs


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line."""
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(str(path), f"cannot read it as UTF-8 text ({e})") from None
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as e:
            raise InputError(str(path), f"not JSON ({e.msg})", number) from None
        if not isinstance(row, dict):
            raise InputError(str(path), "not a JSON object", number)
        yield number, row


def _content_lines(path: Path) -> list[int]:
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return []
    return [n for n, raw in enumerate(text.splitlines(), 1) if raw.strip()]


def _probe(row: dict[str, Any], where: str, line: int) -> Probe:
    kind = _text(row, "kind", where, line)
    if kind not in KINDS:
        raise InputError(where, f"unknown kind '{kind}' (known: {', '.join(KINDS)})", line)
    answers = _strings(row, "answers", where, line)
    if kind in NEEDS_ANSWERS and not answers:
        raise InputError(
            where, f"a probe of kind '{kind}' needs at least one accepted answer", line
        )
    return Probe(
        id=_text(row, "id", where, line),
        question=_text(row, "question", where, line),
        kind=kind,
        answers=answers,
        wrong=_strings(row, "wrong", where, line),
    )


def _text(row: dict[str, Any], key: str, where: str, line: int) -> str:
    if key not in row:
        raise InputError(where, f"missing key '{key}'", line)
    value = row[key]
    if not isinstance(value, str):
        raise InputError(where, f"'{key}' must be a string, not {value!r}", line)
    return value


def _strings(row: dict[str, Any], key: str, where: str, line: int) -> tuple[str, ...]:
    if key not in row:
        raise InputError(where, f"missing key '{key}'", line)
    value = row[key]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(where, f"'{key}' must be a list of strings, not {value!r}", line)
    return tuple(item for item in value if item.strip())
