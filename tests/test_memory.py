"""The memory index and `chatclone recall`: documents with provenance, the index kept in step with
the store, time filters, full text in any script, and retrieval on the demo sample with the real
embedding model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatclone.embeddings import HashEmbedder
from chatclone.errors import ChatcloneError
from chatclone.memory.index import MemoryIndex, documents, my_names
from chatclone.memory.recall import recall
from chatclone.workspace import Workspace

from helpers import SAMPLE, android_export, cli

QUESTIONS = Path(__file__).parent / "fixtures" / "memory" / "recall_questions.jsonl"


def chat(folder: Path, name: str, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return android_export(folder / f"WhatsApp Chat with {name}.txt", lines)


@pytest.fixture
def small(tmp_path: Path) -> Workspace:
    export = chat(
        tmp_path,
        "Mei",
        [
            "01/03/2024, 10:00 - Mei: 你周末去哪里了？",
            "01/03/2024, 10:05 - Sam: 我去了杭州看西湖",
            "01/03/2024, 10:06 - Sam: 天气很好",
            "02/04/2024, 09:00 - Mei: new job?",
            "02/04/2024, 09:01 - Sam: yes! starting at the bakery on monday",
        ],
    )
    ws = Workspace(tmp_path / "ws")
    assert cli("ingest", export, "-w", ws.root).code == 0
    assert cli("me", "Sam", "-w", ws.root).code == 0
    return ws


def test_documents_are_my_messages_and_my_bursts_with_what_they_answered(
    small: Workspace,
) -> None:
    docs = list(documents(small, my_names(small)))
    mine = [d for d in docs if d.kind == "message"]
    assert [d.text for d in mine] == [
        "我去了杭州看西湖",
        "天气很好",
        "yes! starting at the bakery on monday",
    ]
    assert all(d.sender == "Sam" and d.chat == "Mei" for d in docs)
    burst = next(d for d in docs if d.kind == "exchange")
    assert burst.text == "我去了杭州看西湖\n天气很好" and burst.context == "你周末去哪里了？"
    assert burst.ts == "2024-03-01T10:05"


def test_full_text_finds_words_in_scripts_without_spaces(small: Workspace) -> None:
    with MemoryIndex(small, HashEmbedder()) as index:
        index.refresh()
        hits = recall(index, "西湖", k=3)
    assert hits and "西湖" in hits[0].text
    assert {"chat", "ts", "sender", "text", "score"} <= set(hits[0].to_json())


def test_before_keeps_only_what_was_said_earlier(small: Workspace) -> None:
    with MemoryIndex(small, HashEmbedder()) as index:
        index.refresh()
        assert any("bakery" in h.text for h in recall(index, "bakery job", k=5))
        earlier = recall(index, "bakery job", k=5, before="2024-04-01")
    assert earlier and all(h.ts < "2024-04-01" for h in earlier)
    with pytest.raises(ChatcloneError, match="--before 'last week'"):
        recall(index, "x", before="last week")


def test_the_index_follows_the_store(small: Workspace, tmp_path: Path) -> None:
    with MemoryIndex(small, HashEmbedder()) as index:
        assert index.refresh() > 0
        assert index.refresh() == 0  # nothing new: nothing embedded, nothing rebuilt
        more = chat(
            (tmp_path / "more").resolve(),
            "Jo",
            ["05/05/2024, 12:00 - Jo: lunch?", "05/05/2024, 12:01 - Sam: only if it's ramen"],
        )
        assert cli("ingest", more, "-w", small.root).code == 0
        assert index.refresh() == 2  # the new exchange, as itself and as what was asked
        assert any("ramen" in h.text for h in recall(index, "ramen", k=2))


def test_without_me_the_index_says_what_to_do(tmp_path: Path) -> None:
    export = chat(tmp_path, "A", ["01/03/2024, 10:00 - A: hi", "01/03/2024, 10:01 - B: hey"])
    ws = Workspace(tmp_path / "ws")
    assert cli("ingest", export, "-w", ws.root).code == 0
    with (
        MemoryIndex(ws, HashEmbedder()) as index,
        pytest.raises(ChatcloneError, match="chatclone me NAME"),
    ):
        index.refresh()


# --- the demo sample, with the real embedding model -------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("memory") / "ws")
    assert cli("ingest", *SAMPLE.values(), "-w", ws.root).code == 0
    return ws


def test_recall_json_is_the_contract(sample: Workspace) -> None:
    run = cli("recall", "ramen", "--k", "3", "--json", "-w", sample.root)
    assert run.code == 0, run.err
    hits = json.loads(run.out)["hits"]
    assert 0 < len(hits) <= 3
    for hit in hits:
        assert {"chat", "ts", "sender", "text", "score"} <= set(hit)
        assert hit["sender"] == "Sam Rivera"
    assert any("ramen" in h["text"].casefold() for h in hits)
    assert cli("recall", "x", "--before", "soon", "-w", sample.root).code != 0


def test_recall_of_paraphrased_questions_on_the_sample(sample: Workspace) -> None:
    """24 questions that share almost no words with the message that answers them. Today's
    all-MiniLM-L6-v2 + FTS5 finds 9 of them in the top 5 (the issue's target is 80 %, not met);
    this guards against falling below that."""
    questions = [json.loads(line) for line in QUESTIONS.read_text("utf-8").splitlines()]
    with MemoryIndex(sample) as index:
        index.refresh()
        found = [
            any(q["answer"] in h.text for h in recall(index, q["question"], k=5)) for q in questions
        ]
    assert sum(found) >= 9, [
        q["question"] for q, ok in zip(questions, found, strict=True) if not ok
    ]
