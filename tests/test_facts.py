"""Facts with provenance (`chatclone facts`): extraction on the demo sample and on another
person's chat, superseded and negative facts, the append-only file, re-extraction, the `as_of`
time view, the CLI's JSON contract and errors, `slots_asked`, and the optional LLM extractor
against a local fake OpenAI-compatible server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chatclone.embeddings import HashEmbedder
from chatclone.errors import ChatcloneError
from chatclone.memory.facts import Fact, FactStore
from chatclone.memory.slots import SLOT_WORDS, SLOTS, slots_asked
from chatclone.workspace import Workspace

from helpers import SAMPLE, cli

FIXTURES = Path(__file__).parent / "fixtures" / "facts"


def _find(facts: list[Fact], slot: str, word: str, polarity: str = "positive") -> Fact | None:
    return next(
        (
            f
            for f in facts
            if f.slot == slot and f.polarity == polarity and word in f.value.casefold()
        ),
        None,
    )


@pytest.fixture
def priya(tmp_path: Path) -> Workspace:
    """A different person (Priya Shah) with a move, a job change and negative facts."""
    ws = Workspace(tmp_path / "ws")
    assert cli("ingest", FIXTURES / "WhatsApp Chat with Ana.txt", "-w", ws.root).code == 0
    assert cli("me", "Priya Shah", "-w", ws.root).code == 0
    return ws


@pytest.fixture
def store(priya: Workspace) -> FactStore:
    store = FactStore(priya, HashEmbedder())
    store.extract()
    return store


# --- another person ----------------------------------------------------------------------------


def test_another_persons_facts_are_found_with_their_evidence(store: FactStore) -> None:
    facts = store.facts()
    for slot, word in [
        ("home", "leeds"), ("home", "manchester"), ("job", "nurse"), ("job", "teacher"),
        ("pet", "pepper"), ("health", "peanuts"), ("food", "vegetarian"), ("age", "31"),
        ("birthday", "2 may"), ("trip", "tokyo"), ("hobby", "football"), ("routine", "sunday"),
    ]:  # fmt: skip
        assert _find(facts, slot, word), (slot, word, [f.line() for f in facts])
    pet = _find(facts, "pet", "pepper")
    assert pet is not None and pet.evidence[0].text == "just me and my dog pepper"
    assert pet.evidence[0].sender == "Priya Shah" and pet.evidence[0].chat == "Ana"
    trip = _find(facts, "trip", "tokyo")
    assert trip is not None and trip.valid_from == "2024-10"


def test_a_move_and_a_new_job_close_the_older_facts_which_stay_listed(store: FactStore) -> None:
    facts = store.facts()
    leeds, manchester = _find(facts, "home", "leeds"), _find(facts, "home", "manchester")
    nurse, teacher = _find(facts, "job", "nurse"), _find(facts, "job", "teacher")
    assert leeds and manchester and nurse and teacher
    assert manchester.valid_from == "2024-03-05" and leeds.valid_to == manchester.valid_from
    assert manchester.valid_to is None
    assert nurse.valid_to == teacher.valid_from == "2024-04-01"
    current = {f.id for f in store.current()}
    assert manchester.id in current and leeds.id not in current
    assert manchester.line() == "home: Manchester (since 2024-03)"
    assert leeds.line() == "home: Leeds (2023-01 to 2024-03)"


def test_negative_facts(store: FactStore) -> None:
    facts = store.facts()
    siblings = _find(facts, "sibling", "none", "negative")
    coffee = _find(facts, "drink", "coffee", "negative")
    assert siblings and coffee
    assert siblings.line() == f"sibling: none (no {SLOT_WORDS['sibling']})"
    assert coffee.line() == "drink: not coffee"
    assert siblings.to_json()["polarity"] == "negative"


def test_re_extracting_adds_nothing_for_the_same_evidence(store: FactStore) -> None:
    before = store.path.read_text("utf-8")
    added, facts = store.extract()
    assert added == 0 and store.path.read_text("utf-8") == before
    assert len(facts) == len(store.facts())


def test_review_only_appends_and_loses_nothing(store: FactStore) -> None:
    first = store.path.read_text("utf-8")
    ids = [f.id for f in store.facts()]
    pet = _find(store.facts(), "pet", "pepper")
    trip = _find(store.facts(), "trip", "tokyo")
    assert pet and trip
    assert store.confirm(pet.id).status == "confirmed"
    assert store.reject(trip.id).status == "rejected"
    edited = store.edit(pet.id, "Pepper, a spaniel")
    added = store.add("sibling", "none", negative=True)
    text = store.path.read_text("utf-8")
    assert text.startswith(first) and len(text.splitlines()) == len(first.splitlines()) + 4
    facts = {f.id: f for f in store.facts()}
    assert set(ids) <= set(facts)  # nothing lost: the rejected and the edited fact stay listed
    assert facts[trip.id].status == "rejected"
    assert trip.id not in {f.id for f in store.facts(include_rejected=False)}
    assert facts[pet.id].superseded_by == edited.id and edited.replaces == pet.id
    assert edited.value == "Pepper, a spaniel" and edited.origin == "edited"
    assert edited.evidence == pet.evidence and edited.status == "confirmed"
    assert added.origin == "added" and added.polarity == "negative" and not added.evidence
    assert pet.id not in {f.id for f in store.current()} and edited.id in {
        f.id for f in store.current()
    }
    with pytest.raises(ChatcloneError, match="already edited"):
        store.edit(pet.id, "again")


def test_as_of_sees_only_what_was_known_then(store: FactStore) -> None:
    store.add("hobby", "chess")
    trip = _find(store.facts(), "trip", "tokyo")
    assert trip is not None
    store.reject(trip.id)
    early = store.as_of("2024-01-01")
    assert _find(early, "home", "manchester") is None
    leeds = _find(early, "home", "leeds")
    assert leeds is not None and leeds.valid_to is None  # the move was not known yet
    assert _find(early, "hobby", "chess")  # added by the person: always
    assert all(e.ts < "2024-01-01" for f in early for e in f.evidence)
    later = store.as_of("2024-12-31")
    leeds = _find(later, "home", "leeds")
    assert leeds is not None and leeds.valid_to == "2024-03-05"
    assert _find(later, "trip", "tokyo") is None  # rejected


def test_unknown_ids_and_slots_are_clear_errors(store: FactStore) -> None:
    with pytest.raises(ChatcloneError, match="no fact 'f999'"):
        store.confirm("f999")
    with pytest.raises(ChatcloneError, match="unknown slot 'shoe size'"):
        store.add("shoe size", "9")


# --- the CLI -----------------------------------------------------------------------------------


def test_cli_json_contract_and_review(priya: Workspace) -> None:
    run = cli("facts", "extract", "--json", "-w", priya.root)
    assert run.code == 0, run.err
    assert run.json()["added"] > 5
    assert cli("facts", "extract", "--json", "-w", priya.root).json()["added"] == 0
    facts = cli("facts", "--json", "-w", priya.root).json()["facts"]
    keys = {"id", "slot", "value", "polarity", "status", "valid_from", "valid_to", "evidence"}
    for f in facts:
        assert keys <= set(f) and f["slot"] in SLOTS
        assert f["polarity"] in ("positive", "negative") and f["status"] == "candidate"
        for e in f["evidence"]:
            assert {"chat", "ts", "sender", "text"} <= set(e)
    first = facts[0]["id"]
    assert cli("facts", "reject", first, "-w", priya.root).code == 0
    rejected = cli("facts", "--status", "rejected", "--json", "-w", priya.root).json()["facts"]
    assert [f["id"] for f in rejected] == [first]
    assert len(cli("facts", "--json", "-w", priya.root).json()["facts"]) == len(facts)
    run = cli("facts", "add", "sibling", "none", "--not", "--json", "-w", priya.root)
    assert run.code == 0 and run.json()["polarity"] == "negative"
    run = cli("facts", "edit", facts[1]["id"], "something else", "--json", "-w", priya.root)
    assert run.code == 0 and run.json()["replaces"] == facts[1]["id"]
    assert cli("facts", "confirm", facts[2]["id"], "-w", priya.root).code == 0
    assert "f" in cli("facts", "-w", priya.root).out  # the table for people


def test_cli_errors_are_one_line_and_non_zero(priya: Workspace) -> None:
    run = cli("facts", "confirm", "f404", "-w", priya.root)
    assert run.code != 0 and "no fact 'f404'" in run.err and "Traceback" not in run.err
    run = cli("facts", "add", "starsign", "leo", "-w", priya.root)
    assert run.code != 0 and "unknown slot 'starsign'" in run.err
    assert cli("facts", "--status", "maybe", "-w", priya.root).code != 0


# --- the demo sample ---------------------------------------------------------------------------


def test_extract_finds_most_of_the_sample_facts(tmp_path: Path) -> None:
    """FACTS.md as (slot, keyword) pairs: patterns find 20 of 20 today; the issue asks 70 %."""
    ws = Workspace(tmp_path / "ws")
    assert cli("ingest", *SAMPLE.values(), "-w", ws.root).code == 0
    added, facts = FactStore(ws).extract()
    truth = json.loads((FIXTURES / "sample_facts.json").read_text("utf-8"))
    found = [_find(facts, slot, word, polarity) is not None for slot, word, polarity, _ in truth]
    missed = [t[3] for t, ok in zip(truth, found, strict=True) if not ok]
    assert sum(found) / len(found) >= 0.7, missed
    assert added == len(facts) and len(facts) <= 40  # few enough for a person to review


# --- slots_asked -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "slots"),
    [
        ("do you have a brother?", ["sibling"]),
        ("how's your dog?", ["pet"]),
        ("what do you do for work", ["job"]),
        ("hey what's up", []),
        ("where do you live these days?", ["home"]),
        ("are you seeing anyone?", ["partner"]),
        ("when's your birthday", ["birthday"]),
        ("how old are you", ["age"]),
        ("my brother is annoying", []),
        ("tu as des frères ?", ["sibling"]),
    ],
)
def test_slots_asked(question: str, slots: list[str]) -> None:
    assert slots_asked(question) == slots


# --- the optional LLM extractor ----------------------------------------------------------------


class _Extractor(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.prompts.append(body["messages"][1]["content"])  # type: ignore[attr-defined]
        lines = body["messages"][1]["content"].splitlines()
        n = next(i for i, line in enumerate(lines, 1) if "peanuts" in line)
        content = (
            f'{{"n": {n}, "slot": "health", "value": "peanut allergy", "polarity": "positive"}}\n'
            '{"n": 1, "slot": "shoe size", "value": "9"}\nnot json'
        )
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload.encode())))
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def llm_server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Extractor)
    srv.prompts = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()


def test_the_llm_extractor_is_off_by_default_and_used_when_set(
    priya: Workspace, llm_server: ThreadingHTTPServer
) -> None:
    FactStore(priya, HashEmbedder()).extract()
    assert llm_server.prompts == []  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{llm_server.server_address[1]}/v1"
    settings = priya.settings_path.read_text("utf-8")
    settings = settings.replace('extractor_url = ""', f'extractor_url = "{url}"')
    priya.settings_path.write_text(
        settings.replace('extractor_model = ""', 'extractor_model = "m"')
    )
    added, facts = FactStore(priya, HashEmbedder()).extract()
    assert llm_server.prompts  # type: ignore[attr-defined]
    llm = [f for f in facts if f.origin == "llm"]
    assert added == 1 and [(f.slot, f.value) for f in llm] == [("health", "peanut allergy")]
    assert "peanuts" in llm[0].evidence[0].text
