"""The memory block in prompts and grounded training data: what a block holds and leaves out,
"nothing on record", the budget, pseudonyms, time limits, unsupported facts and abstention
samples."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from chatclone.chat import engine, register_generator
from chatclone.chat.engine import Target
from chatclone.config import EvalSettings, MemorySettings
from chatclone.dataset.build import BuildOptions, build_dataset
from chatclone.dataset.grounding import OFF_RECORD_QUESTIONS, Grounder, mine_deflections
from chatclone.dataset.model import Drops, Sample
from chatclone.demo import prepare_demo, sample_dir
from chatclone.embeddings import HashEmbedder
from chatclone.evaluate.run import EvalOptions, run_eval
from chatclone.memory import load
from chatclone.memory.block import HEADING, NOTHING, Memory, MemoryBlock, strip_memory
from chatclone.memory.load import chat_memory
from chatclone.prompt import ASSISTANT, USER, ChatContext, Identity, PromptBuilder
from chatclone.train.runs import RunRecord, save_record
from chatclone.workspace import Workspace

from helpers import SAMPLE, cli


@dataclass(frozen=True)
class Said:
    chat: str
    ts: str
    sender: str
    text: str
    context: str = ""


@dataclass(frozen=True)
class Ev:
    text: str


@dataclass(frozen=True)
class F:
    slot: str
    value: str
    polarity: str = "positive"
    status: str = "candidate"
    since: str = "2024-01-01"
    evidence: tuple[Ev, ...] = ()

    def line(self) -> str:
        return f"{self.slot}: {'not ' if self.polarity == 'negative' else ''}{self.value}"


@dataclass
class Recorder:
    """A recaller over a fixed history that keeps `before` as retrieval does, and logs calls."""

    said: list[Said]
    calls: list[tuple[str, str | None]] = field(default_factory=list)

    def __call__(self, query: str, k: int, before: str | None) -> list[Said]:
        self.calls.append((query, before))
        return [s for s in self.said if before is None or s.ts < before][:k]


HISTORY = [
    Said("Family", "2024-03-23T18:00", "Sam", "landed badly on my left ankle", "how did it happen"),
    Said("Jordan", "2024-05-02T09:00", "Sam", "koto ramen on saturday?"),
]
FACTS = [
    F("pet", "Biscuit, a ginger cat", since="2024-03-03", evidence=(Ev("biscuit is the best"),)),
    F("drink", "coffee", polarity="negative", evidence=(Ev("i don't drink coffee"),)),
    F("home", "Easton, Bristol", status="confirmed"),
    F("job", "nurse", status="rejected"),
]


def facts_at(before: str | None) -> list[F]:
    return [f for f in FACTS if before is None or f.since < before]


def memory(**settings: Any) -> Memory:
    return Memory(Recorder(HISTORY), facts_at, MemorySettings(**settings))


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": USER, "content": text}]


def test_block_holds_facts_past_messages_and_what_is_not_on_record() -> None:
    block = memory().block(ask("do you have a brother? and how's the ankle"))
    assert block.startswith(HEADING)
    assert "- home: Easton, Bristol" in block  # confirmed: pinned
    assert "- pet: Biscuit, a ginger cat" in block
    assert "job: nurse" not in block  # rejected facts are never shown
    assert f"{NOTHING} your brothers or sisters" in block
    assert "2024-03-23, Family: landed badly on my left ankle" in block
    assert '(answering "how did it happen")' in block


def test_a_negative_fact_is_on_record_so_no_nothing_line() -> None:
    block = memory().block(ask("still drinking coffee?"))
    assert "- drink: not coffee" in block
    assert NOTHING not in block


def test_small_talk_gets_no_nothing_line_and_an_opener_gets_only_facts() -> None:
    assert NOTHING not in memory().block(ask("hey!! what's up"))
    opener = memory().block([{"role": USER, "content": "[new conversation]"}])
    assert "Past messages" not in opener and "home: Easton" in opener


def test_before_limits_facts_and_messages_to_what_was_known_then() -> None:
    mem = memory()
    block = mem.block(ask("how's your cat"), before="2024-03-01T00:00")
    assert "Biscuit" not in block  # first said on 3 March
    assert f"{NOTHING} your pets" in block
    assert "2024-05-02" not in block
    recorder = mem.recaller
    assert isinstance(recorder, Recorder) and recorder.calls[-1][1] == "2024-03-01T00:00"


def test_block_keeps_within_its_budget_most_important_first() -> None:
    many = [Said("Chat", f"2024-01-{d:02d}T10:00", "Sam", "x" * 150) for d in range(1, 29)]
    mem = Memory(Recorder(many), facts_at, MemorySettings(block_tokens=100, recall_k=20))
    block = mem.block(ask("how's your sister"))
    assert len(block) <= 100 * 4 + len(HEADING) + 1
    assert f"{NOTHING} your brothers or sisters" in block  # before the past messages


def test_block_reads_pseudonyms_as_the_dataset_had_them() -> None:
    history = [
        Said("Jordan", "2024-04-14T10:00", "Sam", "booked lisbon with Jordan!!", "Jordan: ?")
    ]
    mem = Memory(Recorder(history), facts_at, clean=lambda t: t.replace("Jordan", "Alex"))
    block = mem.block(ask("any trips planned?"))
    assert "Jordan" not in block
    assert "Alex: booked lisbon with Alex!!" in block


def test_strip_memory_gives_the_prompt_without_its_block() -> None:
    identity = Identity("Sam", persona="I climb.")
    context = ChatContext("Jordan")
    plain = PromptBuilder(identity).system(context)
    remembered = PromptBuilder(identity, MemoryBlock(memory())).system(context, ask("hows biscuit"))
    assert remembered != plain and HEADING in remembered
    assert strip_memory(remembered) == plain


@dataclass(frozen=True)
class Stated:
    slot: str
    value: str


def statements(text: str) -> list[Stated]:
    """A stand-in extractor: 'my cat X' states a pet."""
    if "my cat" in text:
        return [Stated("pet", text.split("my cat", 1)[1].strip())]
    return []


def sample(reply: str, system: str) -> Sample:
    messages: list[Any] = [
        {"role": "system", "content": system},
        {"role": USER, "content": "news?"},
        {"role": ASSISTANT, "content": reply, "weight": 1},
        {"role": USER, "content": "lol"},
        {"role": ASSISTANT, "content": "haha yeah", "weight": 1},
    ]
    return Sample(messages, "Jordan", "2024-03-01T10:00")


def test_replies_stating_facts_the_prompt_does_not_hold_are_not_trained_on() -> None:
    drops = Drops()
    grounder = Grounder(memory(), "context", statements)
    supported = sample("my cat Biscuit", f"You are Sam.\n\n{HEADING}\n- pet: Biscuit")
    invented = sample("my cat Whiskers", f"You are Sam.\n\n{HEADING}\n- pet: Biscuit")
    kept = grounder.check([supported, invented], drops)
    assert kept == [supported, invented]
    assert supported.messages[2]["weight"] == 1
    assert invented.messages[2]["weight"] == 0 and invented.messages[4]["weight"] == 1
    assert drops.as_dict() == {"unsupported_fact_reply": 1}
    dropping = Grounder(memory(), "drop", statements)
    assert dropping.check([sample("my cat Tom", "")], Drops()) == []
    assert dropping.counts.unsupported_fact_samples == 1


def test_nothing_on_record_never_counts_as_support() -> None:
    """ "Nothing on record about your brothers or sisters" names the words a reply inventing a
    sister would use; it denies them, so it supports nothing."""
    sister = Grounder(memory(), "context", lambda text: [Stated("sibling", "sister")])
    prompt = f"You are Sam, texting a sister.\n\n{HEADING}\n{NOTHING} your brothers or sisters."
    assert not sister.supported("my sister is visiting", prompt)
    assert sister.supported("my sister is visiting", prompt + "\n- sibling: sister, Ana")


def test_deflections_are_the_persons_own_short_replies() -> None:
    replies = ["idk tbh", "haha no idea", "idk tbh", "why do u ask lol", "I had pasta for dinner"]
    assert mine_deflections(replies) == ["idk tbh", "haha no idea", "why do u ask lol"]


def test_abstention_samples_use_own_deflections_and_own_corrections() -> None:
    grounder = Grounder(memory(), "context", statements)
    builder = PromptBuilder(Identity("Sam"), MemoryBlock(grounder.memory))
    replies = ["idk tbh", "why do u ask", "biscuit is the best cat"]
    samples = grounder.abstentions(
        builder, ChatContext("Jordan"), replies, 100, lambda m: len(str(m))
    )
    counts = grounder.counts
    assert counts.abstention_samples and counts.false_premise_samples
    assert counts.negative_fact_samples == 1
    made = counts.abstention_samples + counts.false_premise_samples + counts.negative_fact_samples
    assert made == len(samples)
    kinds = set()
    for s in samples:
        system, question, answer = s.messages
        assert question["role"] == USER and answer["role"] == ASSISTANT and answer["weight"] == 1
        if answer["content"] in replies:  # a deflection: the block says nothing is on record,
            # or the question is about something no slot covers
            assert NOTHING in system["content"] or question["content"] in OFF_RECORD_QUESTIONS
            kinds.add("deflection")
        elif answer["content"] == "i don't drink coffee":  # a negative fact, in their words
            kinds.add("negative")
        else:  # a false premise: a doubt, then what is on record in the person's words
            assert answer["content"].startswith("what ")
            assert answer["content"].endswith("biscuit is the best")
            kinds.add("premise")
    assert kinds == {"deflection", "negative", "premise"}
    # Slots with a fact on record are never asked as if nothing were known.
    assert not any("pets" in s.messages[1]["content"] for s in samples)


# --- on the sample: a grounded build ----------------------------------------------------------


@pytest.fixture(scope="module")
def grounded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Any, list[Any]]:
    """The sample built with memory (hash vectors: retrieval's shape without the model's time),
    names pseudonymised, every recall logged."""
    ws = Workspace(tmp_path_factory.mktemp("grounded") / "ws")
    assert cli("ingest", *SAMPLE.values(), "-w", ws.root).code == 0
    prepare_demo(ws.root)
    calls: list[Any] = []
    one, many = load.recall, load.recall_many

    def logged(index: Any, query: str, k: int = 5, before: str | None = None) -> Any:
        hits = one(index, query, k, before)
        calls.append((before, hits, "one"))
        return hits

    def logged_many(index: Any, queries: list[str], k: int, befores: list[Any]) -> Any:
        found = many(index, queries, k, befores)
        calls.extend((b, hits, "many") for b, hits in zip(befores, found, strict=True))
        return found

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(load, "recall", logged)
        mp.setattr(load, "recall_many", logged_many)
        options = BuildOptions(
            name="g",
            embedder=HashEmbedder(),
            overrides={"low_info_filter": False, "pseudonymize_names": True},
        )
        report = build_dataset(ws, options)
    return ws, report, calls


def test_no_block_recalls_its_own_conversation_or_anything_later(
    grounded: tuple[Workspace, Any, list[Any]],
) -> None:
    _, report, calls = grounded
    assert calls and report.memory["samples_with_block"] > 0
    # Every block of a build is as of a time: a sample's conversation start, or for abstention
    # samples the start of the held-out conversations.
    assert all(before is not None for before, _, _ in calls)
    training = [(before, hits) for before, hits, _ in calls]
    for before, hits in training:
        assert all(h.ts < before for h in hits)
    # Most blocks were fetched ahead in one batch; the rest one by one.
    batched = sum(how == "many" for _, _, how in calls)
    assert batched > len(calls) - batched


def test_abstention_samples_hold_nothing_from_the_held_out_conversations(
    grounded: tuple[Workspace, Any, list[Any]],
) -> None:
    ws, _, _ = grounded
    folder = ws.datasets_dir / "g"
    valid = [json.loads(r)["messages"] for r in (folder / "valid.jsonl").read_text().splitlines()]
    held_out = {m["content"] for messages in valid for m in messages if m["role"] == ASSISTANT}
    train = [json.loads(r)["messages"] for r in (folder / "train.jsonl").read_text().splitlines()]
    added = [m for m in train if len(m) == 3 and m[1]["content"].endswith("?")][-10:]
    assert added
    for messages in added:
        answer = messages[2]["content"]
        assert not any(line in held_out for line in answer.splitlines()), answer


def test_grounded_report_counts_what_grounding_did(
    grounded: tuple[Workspace, Any, list[Any]],
) -> None:
    ws, report, _ = grounded
    memory = report.memory
    assert memory["enabled"] and memory["facts"] > 5
    made = sum(memory[k] for k in ("abstention_samples", "false_premise_samples",
                                   "negative_fact_samples"))  # fmt: skip
    assert made >= 10
    folder = ws.datasets_dir / "g"
    assert json.loads((folder / "report.json").read_text("utf-8"))["memory"] == memory
    valid = (folder / "valid.jsonl").read_text("utf-8").splitlines()
    meta = [json.loads(line) for line in (folder / "valid.meta.jsonl").read_text().splitlines()]
    assert len(meta) == len(valid) and all(m["session_start"] for m in meta)


def test_blocks_carry_pseudonyms_when_the_dataset_has_them(
    grounded: tuple[Workspace, Any, list[Any]],
) -> None:
    ws, _, _ = grounded
    rows = (ws.datasets_dir / "g" / "train.jsonl").read_text("utf-8").splitlines()
    systems = [json.loads(r)["messages"][0]["content"] for r in rows]
    blocks = [s.partition(HEADING)[2] for s in systems if HEADING in s]
    assert blocks and any("Past messages" in b for b in blocks)
    for name in ("Jordan", "Priya", "Marco"):
        assert not any(name in s for s in systems), name


def test_a_chat_builds_blocks_as_the_run_was_trained(
    grounded: tuple[Workspace, Any, list[Any]],
) -> None:
    ws, report, _ = grounded
    recorded = {"enabled": True, "settings": {**report.memory["settings"], "recall_k": 1}}
    source, index = chat_memory(ws, "g", recorded, report.persona, embedder=HashEmbedder())
    try:
        assert source.memory.settings.recall_k == 1
        block = source.recall(report.identity, ask("when are you and Jordan off to lisbon?"))
    finally:
        index.close()
    assert block.startswith(HEADING)
    assert block.count("\n- 2024-") == 1  # one past message, as recorded
    assert "Jordan" not in block  # the dataset's pseudonyms, not the real name


@pytest.mark.parametrize("flag", ["--memory", "--no-memory"])
def test_chat_sends_the_block_unless_told_not_to(
    grounded: tuple[Workspace, Any, list[Any]], monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    ws, report, _ = grounded
    seen: list[Any] = []

    class Recording:
        def stream(self, prompt: Any, settings: Any) -> Any:
            seen.append(prompt)
            yield "fine"

    recorded = {"enabled": True, "settings": report.memory["settings"]}
    target = Target("local", "default", report.identity, "r1", None, 1024, "g", recorded)
    monkeypatch.setattr(engine, "resolve_target", lambda *a: target)
    monkeypatch.setattr(engine, "generator_for", lambda *a: Recording())
    run = cli("chat", "-w", ws.root, "--once", "hows biscuit?", "--json", flag)
    assert run.code == 0, run.err
    assert run.json()["memory"] is (flag == "--memory")
    assert (HEADING in seen[0][0]["content"]) is (flag == "--memory")


def test_eval_runs_every_system_with_and_without_memory(
    grounded: tuple[Workspace, Any, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--memory both`: base, base+memory, the run and run+memory in one report; the memory
    variants' held-out prompts recall only what was said before their conversation."""
    import chatclone.chat as registry

    ws, report, _ = grounded
    run_dir = ws.runs_dir / "r1"
    (run_dir / "adapter").mkdir(parents=True, exist_ok=True)
    (run_dir / "adapter" / "adapter_config.json").write_text("{}", "utf-8")
    recorded = {"enabled": True, "settings": report.memory["settings"]}
    record = RunRecord("r1", "local", "default", "g", "0" * 64, "Sam Rivera", "whatsapp",
                       status="finished", memory=recorded)  # fmt: skip
    save_record(run_dir, record)
    prompts: list[Any] = []

    class Recording:
        def stream(self, prompt: Any, settings: Any) -> Any:
            prompts.append(prompt)
            yield "idk"

    registry.generator_backends()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_generator("local", lambda spec: Recording())
    options = EvalOptions(
        ["r1"], True, sample_dir() / "probes.jsonl", "mem", None,
        EvalSettings(heldout_turns=6, max_new_tokens=8), "both", HashEmbedder(),
    )  # fmt: skip
    data = run_eval(ws, options)
    names = [s["name"] for s in data["systems"]]
    assert names == ["real", "base", "base+memory", "r1", "r1+memory"]
    assert [s["memory"] for s in data["systems"][1:]] == [False, True, False, True]
    with_block = [p for p in prompts if HEADING in p[0]["content"]]
    assert len(with_block) == len(prompts) // 2  # the memory variants' prompts, and only those
    starts = [json.loads(line)["session_start"]
              for line in (ws.datasets_dir / "g" / "valid.meta.jsonl").open()]  # fmt: skip
    dates = [d for p in with_block for d in re.findall(r"\n- (\d{4}-\d\d-\d\d), ", p[0]["content"])]
    assert dates and max(dates) <= max(starts)[:10]
