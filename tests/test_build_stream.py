"""A build streams its samples to disk: the files and the report are what building everything in
memory gives, however the sessions are chunked, and the spool writes exactly `write_openai`'s
bytes, `chronological_split`'s split and `validate_openai`'s problems."""

from __future__ import annotations

import json
import random
import shutil
import sys
from pathlib import Path

import pytest

from chatclone import forked
from chatclone.dataset import build as build_module
from chatclone.dataset import formats, stream
from chatclone.dataset.model import Sample
from chatclone.dataset.report import VALID_META_FILE
from chatclone.dataset.samples import chronological_split
from chatclone.dataset.spool import SampleSpool, write_split
from chatclone.openai.tokens import ApproximateCounter
from chatclone.prompt import ASSISTANT, USER

from helpers import SAMPLE, cli, forks

FILES = ("train.jsonl", "valid.jsonl", VALID_META_FILE, "train.sharegpt.json", "dataset_info.json")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("stream") / "ws"
    assert cli("ingest", *SAMPLE.values(), "-w", ws).code == 0
    return ws


def _build(ws: Path, name: str) -> dict[str, object]:
    run = cli(
        "build", "-w", ws, "--json", "--no-low-info-filter", "--no-memory", "--name", name,
        "--format", "sharegpt", "--pseudonymize-names",
    )  # fmt: skip
    assert run.code == 0, run.err
    report: dict[str, object] = json.loads(run.out)
    return report


def _comparable(report: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in report.items() if k not in ("name", "path", "created")}


def _copy(ingested: Path, tmp_path: Path, name: str) -> Path:
    ws = tmp_path / name
    shutil.copytree(ingested, ws)
    return ws


@pytest.mark.parametrize("chunk", [1, 7])
def test_chunked_builds_equal_the_one_chunk_build(
    ingested: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    whole_ws, chunked_ws = _copy(ingested, tmp_path, "whole"), _copy(ingested, tmp_path, "chunks")
    monkeypatch.setattr(build_module, "SESSIONS_PER_CHUNK", 10**9)
    whole = _build(whole_ws, "d")
    monkeypatch.setattr(build_module, "SESSIONS_PER_CHUNK", chunk)
    chunked = _build(chunked_ws, "d")
    assert _comparable(chunked) == _comparable(whole)
    assert whole["sessions"] > 10 * chunk  # type: ignore[operator]
    for file in FILES:
        a = (whole_ws / "datasets" / "d" / file).read_bytes()
        assert a == (chunked_ws / "datasets" / "d" / file).read_bytes(), file
    assert (whole_ws / "privacy" / "mapping.json").read_bytes() == (
        chunked_ws / "privacy" / "mapping.json"
    ).read_bytes()
    # Nothing of the spool is left beside the dataset.
    assert sorted(p.name for p in (chunked_ws / "datasets").iterdir()) == ["d"]


@pytest.mark.skipif(sys.platform != "linux", reason="sessions are read in a child only on Linux")
def test_sessions_read_in_a_second_process_build_the_same(
    ingested: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big store's sessions come from a forked reader: the same files, report (counts, drops,
    PII) and pseudonym mapping as reading them here, and the child really ran."""
    here_ws, forked_ws = _copy(ingested, tmp_path, "here"), _copy(ingested, tmp_path, "forked")
    monkeypatch.setattr(stream, "FORK_MESSAGES", 0)
    monkeypatch.setattr(stream, "FORKED_CHUNK", 3)
    monkeypatch.setenv(forked.ENV_VAR, "0")
    here = _build(here_ws, "d")
    monkeypatch.setenv(forked.ENV_VAR, "1")
    children = forks(monkeypatch)
    there = _build(forked_ws, "d")
    assert len(children) == 1
    assert _comparable(there) == _comparable(here)
    assert here["pii"] and here["drops"]
    for file in FILES:
        a = (here_ws / "datasets" / "d" / file).read_bytes()
        assert a == (forked_ws / "datasets" / "d" / file).read_bytes(), file
    assert (here_ws / "privacy" / "mapping.json").read_bytes() == (
        forked_ws / "privacy" / "mapping.json"
    ).read_bytes()


def test_a_persona_with_personal_data_is_pseudonymised_after_the_chats(
    ingested: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its placeholders are numbered after every chat's, as when everything was in memory (the
    build reads all sessions first then, instead of streaming them)."""
    ws = _copy(ingested, tmp_path, "persona")
    (ws / "persona.md").write_text("# Persona\n- write to me at sam.persona@example.org\n", "utf-8")
    monkeypatch.setattr(build_module, "SESSIONS_PER_CHUNK", 1)
    report = _build(ws, "p")
    mapping = json.loads((ws / "privacy" / "mapping.json").read_text("utf-8"))
    emails = mapping["email"]
    last = max(emails.values(), key=lambda p: int(p.strip("<>").split()[1]))
    assert emails["sam.persona@example.org"] == last and len(emails) > 1
    assert last in str(report["persona"]) and "sam.persona" not in str(report["persona"])


def _samples(n: int, seed: int) -> list[Sample]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        messages: list[dict[str, object]] = [{"role": "system", "content": "You are Sam."}]
        for t in range(rng.randint(1, 3)):
            messages.append({"role": USER, "content": f"q{t} ünïcode ✓ {rng.random()}"})
            weight = rng.choice([0, 1, 1])
            messages.append({"role": ASSISTANT, "content": f"a{t}", "weight": weight})
        if i % 9 == 0:
            messages[-1]["content"] = " "  # a problem OpenAI would reject
        start = f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:00:00"
        out.append(Sample(messages, rng.choice(["Ana", "Crew"]), start, rng.randint(5, 120)))  # type: ignore[arg-type]
    return out


def test_the_spool_writes_what_the_in_memory_writers_write(tmp_path: Path) -> None:
    samples = _samples(60, seed=2)
    counter = ApproximateCounter()
    spool = SampleSpool(tmp_path, counter, 100)
    for s in samples:
        spool.add(s)
    held_out = spool.split(0.2)
    train, valid = chronological_split(samples, 0.2)
    assert sum(held_out) == len(valid) > 0
    out = tmp_path / "out"
    out.mkdir()
    write_split(out, spool, held_out, [])
    spool.close()
    formats.write_openai(tmp_path / "train.jsonl", [s.messages for s in train])
    formats.write_openai(tmp_path / "valid.jsonl", [s.messages for s in valid])
    for split in ("train.jsonl", "valid.jsonl"):
        assert (out / split).read_bytes() == (tmp_path / split).read_bytes()
    meta = [json.loads(line) for line in (out / VALID_META_FILE).read_text("utf-8").splitlines()]
    assert meta == [{"chat": s.chat, "session_start": s.session_start} for s in valid]
    # The problems, labelled by position in their file, as validating the lists gives them.
    facts = [f for f, h in zip(spool.facts, held_out, strict=True) if not h]
    labels = [f"example {i}" for i in range(1, len(facts) + 1)]
    problems = formats.labelled_problems(labels, [f.problems for f in facts], 10, 50)
    expected = formats.validate_openai(
        [s.messages for s in train], counter, 100, token_counts=[s.tokens for s in train]
    )
    assert problems == expected and any("over OpenAI's limit" in p for p in expected)
    assert any("non-empty string" in p for p in expected)
