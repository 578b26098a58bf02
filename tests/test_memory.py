"""The memory index and `chatclone recall`: documents with provenance, the index kept in step with
the store, time filters, full text in any script, and retrieval on the demo sample with the real
embedding model."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from chatclone.embeddings import HashEmbedder
from chatclone.errors import ChatcloneError
from chatclone.ingest import ingest
from chatclone.memory.index import MemoryIndex, documents, my_names
from chatclone.memory.recall import recall, recall_many
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


def test_before_cuts_a_burst_that_runs_past_it(tmp_path: Path) -> None:
    """A burst is one memory, but its later lines are the future of a time inside it."""
    export = chat(
        tmp_path,
        "Jo",
        [
            "05/05/2024, 12:00 - Jo: plans tonight?",
            "05/05/2024, 12:01 - Sam: pottery class at six",
            "05/05/2024, 12:20 - Sam: then pottery drinks, secret ones",
        ],
    )
    ws = Workspace(tmp_path / "ws")
    assert cli("ingest", export, "-w", ws.root).code == 0
    assert cli("me", "Sam", "-w", ws.root).code == 0
    with MemoryIndex(ws, HashEmbedder()) as index:
        index.refresh()
        assert "secret" in recall(index, "pottery", k=1)[0].text
        cut = recall(index, "pottery", k=1, before="2024-05-05T12:10")
        assert [h.text for h in cut] == ["pottery class at six"]
        assert recall(index, "pottery", before="2024-05-05T12:01") == []


def test_recall_many_is_recall_for_each_query(small: Workspace) -> None:
    queries, befores = ["bakery job", "西湖", "bakery"], [None, None, "2024-04-01"]
    with MemoryIndex(small, HashEmbedder()) as index:
        index.refresh()
        assert recall_many(index, queries, 3, befores) == [
            recall(index, q, 3, b) for q, b in zip(queries, befores, strict=True)
        ]
        assert recall_many(index, [], 3, []) == []
        with pytest.raises(ChatcloneError):
            recall_many(index, queries, 3, [None])


def test_the_index_follows_the_store(small: Workspace, tmp_path: Path) -> None:
    with MemoryIndex(small, HashEmbedder()) as index:
        assert index.refresh() > 0
        assert index.refresh() == 0  # nothing new: nothing embedded, nothing rebuilt
        more = chat(
            (tmp_path / "more").resolve(),
            "Jo",
            ["05/05/2024, 12:00 - Jo: lunch?", "05/05/2024, 12:01 - Sam: only if it's ramen"],
        )
        ingest(small, [more])
        assert index.refresh() == 2  # the new message, alone and with what it answered
        assert any("ramen" in h.text for h in recall(index, "ramen", k=2))


def test_ingest_keeps_a_used_index_in_step(small: Workspace, tmp_path: Path) -> None:
    with MemoryIndex(small, HashEmbedder()) as index:
        index.refresh()
    more = chat(
        (tmp_path / "more").resolve(),
        "Jo",
        ["05/05/2024, 12:00 - Jo: lunch?", "05/05/2024, 12:01 - Sam: only if it's ramen"],
    )
    assert cli("ingest", more, "-w", small.root).code == 0
    with MemoryIndex(small, HashEmbedder()) as index:
        assert index.refresh() == 0  # the ingest already did


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


def found_in_top_5(ws: Workspace, questions: Path) -> tuple[int, list[str]]:
    """How many questions have their answering message among the first 5 hits; the misses."""
    asked = [json.loads(line) for line in questions.read_text("utf-8").splitlines()]
    with MemoryIndex(ws) as index:
        index.refresh()
        hits = recall_many(index, [q["question"] for q in asked], k=5)
    found = [any(q["answer"] in h.text for h in top) for q, top in zip(asked, hits, strict=True)]
    return sum(found), [q["question"] for q, ok in zip(asked, found, strict=True) if not ok]


def test_recall_of_paraphrased_questions_on_the_sample(sample: Workspace) -> None:
    """24 questions that share almost no words with the message that answers them. Before the
    exchange + message views, all-MiniLM-L6-v2 + FTS5 found 9; today 13 (the issue's target,
    80 %, is not met). This guards against falling back."""
    found, missed = found_in_top_5(sample, QUESTIONS)
    assert found >= 13, missed


@pytest.fixture(scope="module")
def nadia(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A second person, written for checking retrieval without tuning to the first set: Nadia's
    two chats, plus the sample's three with Sam's name replaced by hers as distractors (a
    memory of 990 messages where cats, trips, food and work compete with her answers)."""
    folder = tmp_path_factory.mktemp("nadia")
    exports = sorted((QUESTIONS.parent / "nadia").glob("*.txt"))
    for path in SAMPLE.values():
        if path.suffix == ".zip":
            text = zipfile.ZipFile(path).read("_chat.txt").decode("utf-8")
            path = path.with_name("WhatsApp Chat with Weekend Crew.txt")
        else:
            text = path.read_text("utf-8")
        exports.append(folder / path.name)
        exports[-1].write_text(text.replace("Sam Rivera", "Nadia Okafor"), "utf-8")
    ws = Workspace(folder / "ws")
    assert cli("ingest", *exports, "-w", ws.root).code == 0
    assert cli("me", "Nadia Okafor", "-w", ws.root).code == 0
    return ws


def test_recall_of_paraphrased_questions_about_another_person(nadia: Workspace) -> None:
    """18 held-out questions about Nadia (written before any tuning; 13 found before the
    exchange + message views, 17 today)."""
    found, missed = found_in_top_5(nadia, QUESTIONS.parent / "recall_questions_nadia.jsonl")
    assert found >= 17, missed
