"""`chatclone eval` end to end on a hand-made workspace: held-out data, systems, the report files,
the CLI and the judge-only path; fake generators stand in for models, a tiny model proves the
batched generation and the held-out loss."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from chatclone.chat import register_generator
from chatclone.chat.generation import GenerationSettings, GeneratorSpec
from chatclone.chat.local import LocalGenerator
from chatclone.config import EvalSettings
from chatclone.errors import ChatcloneError
from chatclone.evaluate.heldout import heldout_turns, spread, training_texts
from chatclone.evaluate.loss import heldout_loss
from chatclone.evaluate.run import EvalOptions, run_eval
from chatclone.prompt import ChatMessage
from chatclone.train.runs import RunRecord, save_record
from chatclone.workspace import Workspace
from tiny import tiny_model_dir

from helpers import cli

ME = "Sam"
SYSTEM = "You are Sam, texting on WhatsApp in a chat with a friend."
PERSON = [
    "lol yeah",
    "nah im good",
    "omg same 😂",
    "cant tonight sorry",
    "haha wait what",
    "ya sounds good",
    "idk maybe tmrw",
    "lmao no way",
    "ok omw",
    "dont tempt me 🙃",
    "ugh mondays",
    "yesss finally",
    "ha fair",
    "brb food",
]
OTHERS = [
    "Are you coming to the party on Saturday?",
    "Hello! How was your weekend?",
    "Please remember to call your grandmother.",
    "The meeting has been moved to Thursday.",
    "Did you see the news this morning?",
    "I think we should leave at seven.",
    "Thank you so much for dinner, it was lovely.",
    "Could you send me the photos, please?",
    "What time does the film start?",
    "We are out of milk again.",
    "Happy birthday! Have a wonderful day.",
    "Shall we book the restaurant for eight?",
    "It is raining heavily here today.",
    "Let me know when you arrive.",
]
PROBES = [
    {"id": "cat", "question": "whats your cats name?", "kind": "answerable",
     "answers": ["biscuit"], "wrong": []},
    {"id": "car", "question": "what car do you drive", "kind": "unanswerable",
     "answers": [], "wrong": []},
    {"id": "sister", "question": "hows your sister", "kind": "false_premise",
     "answers": ["no sister", "brother"], "wrong": ["shes good", "she is"]},
    {"id": "ankle", "question": "still on crutches?", "kind": "changed",
     "answers": ["climbing", "no crutches", "off the crutches"], "wrong": ["still on crutches"]},
]  # fmt: skip


def sample(*exchanges: tuple[str, str]) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
    for question, answer in exchanges:
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer, "weight": 1},
        ]
    return {"messages": messages}


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def make_workspace(root: Path) -> Workspace:
    """A dataset (train + a validation split whose windows overlap) and one local run on it."""
    ds = root / "datasets" / "ds1"
    ds.mkdir(parents=True)
    train = [sample((o, p)) for o, p in zip(OTHERS, PERSON, strict=True)]
    train.append(sample(("Jo: hi all\nAl: anyone around?", "me!!")))
    write_jsonl(ds / "train.jsonl", train)
    valid = [
        sample(("how was climbing", "so good\nsent it"), ("nice!", "ya 😂")),
        sample(("nice!", "ya 😂"), ("dinner?", "omw")),  # overlaps the window before
        sample(("[new conversation]", "yo whats up")),
    ]
    write_jsonl(ds / "valid.jsonl", valid)
    report = {"name": "ds1", "me": ME, "sources": {"whatsapp": 3}, "settings": {}}
    (ds / "report.json").write_text(json.dumps(report), "utf-8")
    run_dir = root / "runs" / "r1"
    (run_dir / "adapter").mkdir(parents=True)
    (run_dir / "adapter" / "adapter_config.json").write_text("{}", "utf-8")
    record = RunRecord("r1", "local", "default", "ds1", "0" * 64, ME, "whatsapp", status="finished")
    save_record(run_dir, record)
    return Workspace(root)


class Scripted:
    """A generator that answers each prompt with `answer(last message)`, and records prompts."""

    def __init__(self, answer: Callable[[str], str]) -> None:
        self.answer = answer
        self.prompts: list[list[ChatMessage]] = []

    def stream(
        self, messages: Sequence[ChatMessage], settings: GenerationSettings
    ) -> Iterator[str]:
        self.prompts.append(list(messages))
        yield self.answer(messages[-1]["content"])


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws")


@pytest.fixture
def probes(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "probes.jsonl", PROBES)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> dict[str, Scripted]:
    """ "local" generators: the run copies the real replies and answers probes right; the base
    model answers everything with the same polite "I do not know." (no fact, nothing like the
    person's texting)."""
    import chatclone.chat as registry

    valid = {"how was climbing": "so good\nsent it", "nice!": "ya 😂", "dinner?": "omw"}
    valid["[new conversation]"] = "yo whats up"
    answers = {"whats your cats name?": "biscuit obv", "what car do you drive": "idk",
               "hows your sister": "i dont have a sister lol", "still on crutches?":
               "nope off the crutches, climbing again"}  # fmt: skip
    made = {
        "run": Scripted(lambda text: valid.get(text) or answers[text]),
        "base": Scripted(lambda text: "I do not know. Could you tell me more, please?"),
    }

    def factory(spec: GeneratorSpec) -> Scripted:
        return made["base" if spec.run_dir is None else "run"]

    registry.generator_backends()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_generator("local", factory)
    return made


# --- held-out data ------------------------------------------------------------------------------


def test_heldout_turns_are_every_reply_once_with_its_context(ws: Workspace) -> None:
    turns, samples = heldout_turns(ws.datasets_dir / "ds1")
    assert samples == 3
    assert [t.real for t in turns] == ["so good\nsent it", "ya 😂", "omw", "yo whats up"]
    assert turns[1].context[0] == {"role": "system", "content": SYSTEM}
    assert [m["content"] for m in turns[1].context[1:]] == [
        "how was climbing",
        "so good\nsent it",
        "nice!",
    ]
    assert all("weight" not in m for t in turns for m in t.context)


def test_spread_keeps_first_and_last_evenly() -> None:
    items = list(range(10))
    assert spread(items, 4) == [0, 3, 6, 9]  # type: ignore[arg-type]
    assert spread(items, 0) == items  # type: ignore[arg-type]
    assert spread(items, 20) == items  # type: ignore[arg-type]


def test_training_texts_drop_openers_and_group_names(ws: Workspace) -> None:
    texts = training_texts(ws.datasets_dir / "ds1")
    assert "me!!" in texts.person and len(texts.person) == len(PERSON) + 1
    assert "hi all\nanyone around?" in texts.others
    assert not any(t.startswith("Jo:") for t in texts.others)


def test_a_dataset_without_validation_split_is_a_clear_error(ws: Workspace) -> None:
    (ws.datasets_dir / "ds1" / "valid.jsonl").write_text("", "utf-8")
    with pytest.raises(ChatcloneError, match="valid_fraction"):
        heldout_turns(ws.datasets_dir / "ds1")


# --- the whole eval with fake systems -----------------------------------------------------------


def test_eval_writes_the_report_and_scores_the_extremes(
    ws: Workspace, probes: Path, fakes: dict[str, Scripted]
) -> None:
    options = EvalOptions(["r1"], base=True, probes=probes, name="e1")
    data = run_eval(ws, options)
    folder = ws.evals_dir / "e1"
    saved = json.loads((folder / "report.json").read_text("utf-8"))
    assert [s["name"] for s in saved["systems"]] == ["real", "base", "r1"]
    real, base, run = saved["systems"]
    for entry in saved["systems"]:
        assert {"distance", "authorship", "authorship_normalised"} <= set(entry["style"])
    # the run copies the person's real replies: style as the person's own
    assert run["style"]["distance"] == pytest.approx(0, abs=1e-9)
    assert run["style"]["authorship_normalised"] == pytest.approx(1.0)
    assert base["style"]["authorship_normalised"] == pytest.approx(0.0)
    assert real["facts"] is None and real["loss"] is None
    # always "I do not know": abstains on everything, never hallucinates
    assert base["facts"]["abstention_rate"] == 1.0
    assert base["facts"]["hallucination_rate"] == 0.0
    assert run["facts"]["accuracy"] == 1.0 and run["facts"]["hallucination_rate"] == 0.0
    assert {"accuracy", "hallucination_rate", "abstention_rate", "update_accuracy", "n"} <= set(
        run["facts"]
    )
    assert saved["settings"]["runs"] == ["r1"] and saved["settings"]["base"] is True
    assert saved["seconds"] >= 0 and data["path"] == str(folder)
    html = (folder / "report.html").read_text("utf-8")
    assert "r1" in html and "https://" not in html
    lines = (folder / "generations" / "r1.jsonl").read_text("utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert next(r["reply"] for r in rows if r.get("type") == "heldout") == "so good\nsent it"
    assert {r["probe_id"] for r in rows if "probe_id" in r} == {p["id"] for p in PROBES}


def test_every_system_gets_the_same_prompts(
    ws: Workspace, probes: Path, fakes: dict[str, Scripted]
) -> None:
    run_eval(ws, EvalOptions(["r1"], base=True, probes=probes, name="same"))
    assert fakes["run"].prompts == fakes["base"].prompts
    probe_prompt = fakes["run"].prompts[-1]
    assert (
        probe_prompt[0]["role"] == "system" and "a chat with a friend" in probe_prompt[0]["content"]
    )
    assert probe_prompt[1:] == [{"role": "user", "content": PROBES[-1]["question"]}]


def test_an_existing_eval_is_never_overwritten(
    ws: Workspace, probes: Path, fakes: dict[str, Scripted]
) -> None:
    run_eval(ws, EvalOptions(["r1"], name="once"))
    with pytest.raises(ChatcloneError, match="already exists"):
        run_eval(ws, EvalOptions(["r1"], name="once"))


def test_runs_on_different_datasets_are_refused(ws: Workspace, fakes: dict[str, Scripted]) -> None:
    other = ws.runs_dir / "r2"
    (other / "adapter").mkdir(parents=True)
    (other / "adapter" / "adapter_config.json").write_text("{}", "utf-8")
    save_record(other, RunRecord("r2", "local", "default", "ds2", "0" * 64, ME, "whatsapp"))
    with pytest.raises(ChatcloneError, match="different datasets"):
        run_eval(ws, EvalOptions(["r1", "r2"]))


def test_cli_eval_prints_the_table_and_json(
    ws: Workspace, probes: Path, fakes: dict[str, Scripted]
) -> None:
    run = cli("eval", "-w", ws.root, "--base", "--run", "r1", "--probes", probes, "--name", "t")
    assert run.code == 0, run.err
    assert "distance" in run.out and "hallucination" in run.out
    assert f"{ws.evals_dir / 't' / 'report.html'}" in run.out
    run = cli("eval", "-w", ws.root, "--run", "r1", "--name", "j", "--json", "--heldout-turns", "2")
    assert run.code == 0, run.err
    data = run.json()
    assert data["heldout"]["turns"] == 2 and data["systems"][1]["facts"] is None


def test_cli_judges_replies_without_a_model(tmp_path: Path, probes: Path) -> None:
    replies = write_jsonl(
        tmp_path / "replies.jsonl",
        [{"probe_id": "cat", "reply": "biscuit!"}, {"probe_id": "car", "reply": "idk tbh"}],
    )
    run = cli("eval", "--probes", probes, "--replies", replies, "--json")
    assert run.code == 0, run.err
    data = run.json()
    assert data["verdicts"][0] == {
        "probe_id": "cat",
        "verdict": "correct",
        "reason": data["verdicts"][0]["reason"],
    }
    assert data["verdicts"][1]["verdict"] == "abstain"
    assert cli("eval", "--replies", replies).code != 0


# --- a real (tiny) model: batches and the held-out loss -------------------------------------


@pytest.fixture(scope="module")
def tiny_generator(tmp_path_factory: pytest.TempPathFactory) -> LocalGenerator:
    folder = tiny_model_dir(tmp_path_factory.mktemp("tiny"))
    return LocalGenerator.load_base(str(folder))


def test_batched_generation_is_seeded_and_matches_greedy_streaming(
    tiny_generator: LocalGenerator,
) -> None:
    prompts: list[list[ChatMessage]] = [
        [{"role": "user", "content": "hi"}],
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "how was your day?"}],
    ]
    sampled = GenerationSettings(max_new_tokens=8, temperature=0.9, seed=3)
    assert tiny_generator.generate_batch(prompts, sampled) == tiny_generator.generate_batch(
        prompts, sampled
    )
    greedy = GenerationSettings(max_new_tokens=8, temperature=0.0)
    batch = tiny_generator.generate_batch(prompts, greedy)
    alone = ["".join(tiny_generator.stream(p, greedy)) for p in prompts]
    assert [b.strip() for b in batch] == [a.strip() for a in alone]


def test_heldout_loss_is_the_mean_reply_token_nll(
    tiny_generator: LocalGenerator, ws: Workspace
) -> None:
    loss = heldout_loss(tiny_generator, ws.datasets_dir / "ds1", 1024)
    assert loss is not None and loss["samples"] == 3 and loss["tokens"] > 0
    # a random model over a 49k vocabulary: about ln(49152) nats per token
    assert 8 < loss["valid_nll"] < 13
    assert heldout_loss(object(), ws.datasets_dir / "ds1", 1024) is None


def test_eval_settings_are_checked(ws: Workspace) -> None:
    with pytest.raises(ChatcloneError, match="judge_model"):
        run_eval(ws, EvalOptions(["r1"], settings=EvalSettings(judge_url="http://127.0.0.1:1/v1")))


def test_a_run_named_like_a_builtin_system_is_refused(
    ws: Workspace, fakes: dict[str, Scripted]
) -> None:
    clash = ws.runs_dir / "base"
    (clash / "adapter").mkdir(parents=True)
    (clash / "adapter" / "adapter_config.json").write_text("{}", "utf-8")
    save_record(clash, RunRecord("base", "local", "default", "ds1", "0" * 64, ME, "whatsapp"))
    with pytest.raises(ChatcloneError, match="named 'base'"):
        run_eval(ws, EvalOptions(["base"], base=True))


def test_an_interrupted_write_leaves_nothing_behind(
    ws: Workspace, fakes: dict[str, Scripted]
) -> None:
    stale = ws.evals_dir / "again.partial" / "generations"
    stale.mkdir(parents=True)
    (stale / "old-system.jsonl").write_text("{}\n", "utf-8")
    run_eval(ws, EvalOptions(["r1"], name="again"))
    written = sorted(p.name for p in (ws.evals_dir / "again" / "generations").iterdir())
    assert written == ["r1.jsonl", "real.jsonl"]
    assert not (ws.evals_dir / "again.partial").exists()


def test_a_failing_judge_costs_the_verdicts_not_the_replies(
    ws: Workspace, probes: Path, fakes: dict[str, Scripted], monkeypatch: pytest.MonkeyPatch
) -> None:
    import chatclone.evaluate.run as eval_run

    class Unreachable:
        def judge_all(self, pairs: Sequence[Any]) -> list[Any]:
            raise ChatcloneError("the judge at http://127.0.0.1:9/v1 is unreachable")

    monkeypatch.setattr(eval_run, "make_judge", lambda settings: Unreachable())
    run_eval(ws, EvalOptions(["r1"], probes=probes, name="nojudge"))
    folder = ws.evals_dir / "nojudge"
    run = json.loads((folder / "report.json").read_text("utf-8"))["systems"][1]
    assert run["facts"] is None and "unreachable" in run["facts_error"]
    rows = [json.loads(x) for x in (folder / "generations" / "r1.jsonl").read_text().splitlines()]
    assert {r["probe_id"] for r in rows if "probe_id" in r} == {p["id"] for p in PROBES}
