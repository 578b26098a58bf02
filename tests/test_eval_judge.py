"""Fact probes: the files, the rule judge against hand-labelled replies, the metrics, and the
optional LLM judge through a fake client (nothing is sent anywhere)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chatclone.config import EvalSettings
from chatclone.errors import ChatcloneError, InputError
from chatclone.evaluate.facts import agreement, confusion_matrix, fact_metrics
from chatclone.evaluate.judge import VERDICTS, Judgement, RuleJudge, make_judge
from chatclone.evaluate.llm_judge import PROMPT, BackedJudge, LLMFactJudge, render_case
from chatclone.evaluate.probes import KINDS, Probe, load_probes, load_replies, pair_replies

ROOT = Path(__file__).parent
SAMPLE_PROBES = ROOT.parent / "src/chatclone/data/sample/probes.jsonl"
EVAL = ROOT / "fixtures/eval"


def labelled(probes_path: Path, replies_path: Path) -> tuple[list[str], list[str]]:
    """(labels, the rule judge's verdicts) for a hand-labelled reply file."""
    probes = {p.id: p for p in load_probes(probes_path)}
    rows = [json.loads(line) for line in replies_path.read_text("utf-8").splitlines() if line]
    judge = RuleJudge()
    got = [judge.judge(probes[row["probe_id"]], row["reply"]).verdict for row in rows]
    return [row["label"] for row in rows], got


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "file.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def probe(
    kind: str, answers: tuple[str, ...] = (), wrong: tuple[str, ...] = (), q: str = "?"
) -> Probe:
    return Probe(id="p", question=q, kind=kind, answers=answers, wrong=wrong)


GOOD = '{"id": "a", "question": "q?", "kind": "answerable", "answers": ["x"], "wrong": []}'


# --- files --------------------------------------------------------------------------------------


def test_sample_probes_load_and_cover_every_kind() -> None:
    probes = load_probes(SAMPLE_PROBES)
    kinds = Counter(p.kind for p in probes)
    assert set(kinds) == set(KINDS)
    assert len(probes) >= 20 and min(kinds.values()) >= 4
    assert all(p.answers for p in probes if p.kind in ("answerable", "changed"))
    assert all(p.wrong for p in probes if p.kind == "changed")  # a stale value to catch


def test_extra_keys_and_blank_lines_are_fine(tmp_path: Path) -> None:
    extra = GOOD.replace('"a"', '"b"').replace("}", ', "source": "Family 03/03"}')
    probes = load_probes(write(tmp_path, GOOD, "", extra))
    assert [p.id for p in probes] == ["a", "b"]
    assert probes[0] == Probe("a", "q?", "answerable", ("x",), ())


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (
            '{"id": "b", "question": "q?", "kind": "answerable", "answers": ["x"]}',
            "missing key 'wrong'",
        ),
        (GOOD.replace('"q?"', "3").replace('"a"', '"b"'), "'question' must be a string"),
        (GOOD.replace('["x"]', '"x"').replace('"a"', '"b"'), "'answers' must be a list of strings"),
        (GOOD.replace("answerable", "trivia").replace('"a"', '"b"'), "unknown kind 'trivia'"),
        (GOOD, "duplicate probe id 'a'"),
        (GOOD.replace('["x"]', "[]").replace('"a"', '"b"'), "needs at least one accepted answer"),
    ],
)
def test_probe_file_errors_name_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = write(tmp_path, GOOD, "", line)
    with pytest.raises(InputError) as e:
        load_probes(path)
    assert e.value.line == 3 and problem in str(e.value) and str(path) in str(e.value)


def test_empty_or_unreadable_files_are_errors(tmp_path: Path) -> None:
    empty = write(tmp_path, "", "")
    with pytest.raises(InputError, match="no probes"):
        load_probes(empty)
    with pytest.raises(InputError, match="no replies"):
        load_replies(empty)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"id": "caf\xe9"}\n')
    with pytest.raises(InputError, match="UTF-8"):
        load_probes(latin)
    with pytest.raises(InputError, match="UTF-8"):
        load_probes(tmp_path / "missing.jsonl")


def test_replies_load_and_unknown_probe_ids_name_the_line(tmp_path: Path) -> None:
    probes = load_probes(write(tmp_path, GOOD))
    replies_path = tmp_path / "replies.jsonl"
    replies_path.write_text(
        '{"probe_id": "a", "reply": "x obv"}\n\n{"probe_id": "zz", "reply": "idk"}\n', "utf-8"
    )
    replies = load_replies(replies_path)
    assert replies == [("a", "x obv"), ("zz", "idk")]
    with pytest.raises(InputError, match="unknown probe id 'zz'") as e:
        pair_replies(probes, replies, replies_path)
    assert e.value.line == 3
    assert pair_replies(probes, replies[:1], replies_path) == [(probes[0], "x obv")]
    replies_path.write_text('{"probe_id": "a"}\n{"probe_id": "a", "reply": 5}\n', "utf-8")
    with pytest.raises(InputError, match="missing key 'reply'") as e:
        load_replies(replies_path)
    assert e.value.line == 1


# --- the rule judge against hand labels ---------------------------------------------------------


def test_judge_agrees_with_the_hand_labels_on_the_sample() -> None:
    labels, got = labelled(SAMPLE_PROBES, EVAL / "judged_replies.jsonl")
    assert len(labels) >= 60
    assert all(count >= 8 for count in Counter(labels).values())
    assert set(labels) == set(VERDICTS)
    assert agreement(labels, got) >= 0.90, confusion_matrix(labels, got)


def test_judge_is_not_tuned_to_the_sample_person() -> None:
    labels, got = labelled(EVAL / "other_probes.jsonl", EVAL / "judged_replies_other.jsonl")
    assert len(labels) >= 20 and set(labels) == set(VERDICTS)
    assert agreement(labels, got) >= 0.85, confusion_matrix(labels, got)


def test_judge_on_replies_real_models_wrote() -> None:
    """The demo's base model and a 16-step clone answering the sample's probes (labelled by hand
    after the judge was written, never tuned on: most are confident inventions, as expected)."""
    labels, got = labelled(SAMPLE_PROBES, EVAL / "judged_generated.jsonl")
    assert len(labels) >= 40
    assert agreement(labels, got) >= 0.85, confusion_matrix(labels, got)


DRINK = probe("answerable", ("tea",), ("coffee",), "tea or coffee?")
ANKLE = probe("changed", ("climbing", "healed"), ("crutches", "no climbing"), "hows the ankle?")
STREAK = probe("changed", ("70",), ("68",), "hows the streak?")
SISTER = probe("false_premise", ("no sister", "brother"), ("shes good",), "hows your sister?")
FILM = probe("unanswerable", q="whats your favourite film?")


@pytest.mark.parametrize(
    ("p", "reply", "verdict"),
    [
        (ANKLE, "not on crutches anymore, back climbing 💪", "correct"),  # old value denied
        (ANKLE, "used to be on crutches now im back climbing", "correct"),
        (ANKLE, "still on crutches ugh", "wrong"),
        (ANKLE, "no climbing for another month", "wrong"),  # contains an accepted string
        (ANKLE, "crutches? not anymore", "correct"),
        (STREAK, "it was 68 last week, its 70 now", "correct"),
        (STREAK, "68 days, aiming for 70", "wrong"),
        (STREAK, "70 and im fluent, had a full convo in portuguese", "hallucinated"),
        (DRINK, "tea always\ndont drink coffee", "correct"),
        (DRINK, "coffee, tea is for grandmas", "wrong"),
        (DRINK, "used to drink tea but im a coffee person now", "wrong"),
        (DRINK, "tea, i have like 5 cups a day", "hallucinated"),  # padded with a number
        (DRINK, "no, tea", "correct"),
        (SISTER, "no i dont have a sister lol", "correct"),  # negated, to a false premise
        (SISTER, "what sister??", "correct"),
        (SISTER, "shes good thanks", "hallucinated"),
        (SISTER, "she's doing great, off to uni in september", "hallucinated"),
        (SISTER, "ask me later", "abstain"),
        (FILM, "idk 🤷", "abstain"),
        (FILM, "lol", "abstain"),
        (FILM, "😂😂", "abstain"),
        (FILM, "why do you ask", "abstain"),
        (FILM, "haha wouldnt you like to know", "abstain"),
        (FILM, "Honestly I have no idea what my favourite film is.", "abstain"),
        (FILM, "no sé", "abstain"),
        (FILM, "je sais pas", "abstain"),
        (FILM, "keine ahnung", "abstain"),
        (FILM, "não sei", "abstain"),
        (FILM, "non lo so", "abstain"),
        (FILM, "geen idee", "abstain"),
        (FILM, "the matrix, seen it 10 times", "hallucinated"),
        (FILM, "probably Inception", "hallucinated"),
        (FILM, "idk probably the matrix", "hallucinated"),
    ],
)
def test_tricky_replies(p: Probe, reply: str, verdict: str) -> None:
    judgement = RuleJudge().judge(p, reply)
    assert judgement.verdict == verdict, judgement.reason
    assert judgement.reason


def test_unsure_when_guessing() -> None:
    judge = RuleJudge()
    assert judge.judge(DRINK, "tea obviously").sure
    assert not judge.judge(FILM, "the matrix").sure  # no claim pattern: a guess that it answers
    assert judge.judge(FILM, "idk").sure


# --- metrics ------------------------------------------------------------------------------------


def sample_set() -> list[Probe]:
    return [
        probe("answerable", ("x",)),
        probe("answerable", ("x",)),
        probe("changed", ("x",), ("y",)),
        probe("unanswerable"),
        probe("false_premise", ("no",)),
    ]


def test_always_idk_abstains_and_never_hallucinates() -> None:
    probes = sample_set()
    verdicts = [RuleJudge().judge(p, "idk").verdict for p in probes]
    m = fact_metrics(probes, verdicts)
    assert m["abstention_rate"] == 1.0 and m["hallucination_rate"] == 0.0
    assert m["accuracy"] == 0.0 and m["update_accuracy"] == 0.0
    assert m["counts"]["abstention_rate"] == [3, 3]
    assert m["counts"]["hallucination_rate"] == [0, 2]
    assert m["intervals"]["abstention_rate"] == [1.0, 1.0]
    assert m["n"] == 5
    assert m["by_kind"]["answerable"] == {"correct": 0, "wrong": 0, "abstain": 2, "hallucinated": 0}
    json.dumps(m)  # JSON-ready


def test_all_correct_and_empty_denominators() -> None:
    probes = [probe("answerable", ("x",)) for _ in range(4)]
    m = fact_metrics(probes, ["correct"] * 4)
    assert m["accuracy"] == 1.0 and m["intervals"]["accuracy"] == [1.0, 1.0]
    assert m["abstention_rate"] == 0.0
    assert m["hallucination_rate"] is None and m["intervals"]["hallucination_rate"] is None
    assert m["update_accuracy"] is None and m["counts"]["update_accuracy"] == [0, 0]


def test_metrics_count_only_their_kinds_and_are_seeded() -> None:
    probes = [probe("answerable", ("x",)) for _ in range(6)] + [probe("changed", ("x",))] * 4
    probes += [probe("unanswerable")] * 3 + [probe("false_premise", ("no",))] * 3
    verdicts = ["correct", "wrong", "abstain", "correct", "hallucinated", "correct"]
    verdicts += ["correct", "wrong", "wrong", "abstain"]
    verdicts += ["hallucinated", "abstain", "abstain", "correct", "hallucinated", "abstain"]
    m = fact_metrics(probes, verdicts, seed=3)
    assert m["accuracy"] == pytest.approx(4 / 10) and m["counts"]["accuracy"] == [4, 10]
    assert m["abstention_rate"] == pytest.approx(2 / 10)
    assert m["update_accuracy"] == pytest.approx(1 / 4)
    assert m["hallucination_rate"] == pytest.approx(2 / 6)
    low, high = m["intervals"]["accuracy"]
    assert 0.0 <= low <= 0.4 <= high <= 1.0 and low < high
    assert fact_metrics(probes, verdicts, seed=3) == m
    with pytest.raises(ValueError):
        fact_metrics(probes, verdicts[:-1])


def test_confusion_matrix_and_agreement() -> None:
    expected = ["correct", "correct", "abstain", "wrong"]
    got = ["correct", "hallucinated", "abstain", "correct"]
    matrix = confusion_matrix(expected, got)
    assert matrix["correct"] == {"correct": 1, "wrong": 0, "abstain": 0, "hallucinated": 1}
    assert matrix["wrong"]["correct"] == 1 and matrix["hallucinated"]["hallucinated"] == 0
    assert agreement(expected, got) == 0.5
    assert agreement([], []) == 1.0


# --- the LLM judge, with a fake client ---------------------------------------------------------


class FakeClient:
    """Stands in for the SDK client: answers each request from `answer(user_message)`."""

    def __init__(self, answer: Any) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.answer = answer
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    def create(self, **kwargs: Any) -> Any:
        with self.lock:
            self.requests.append(kwargs)
        content = self.answer(kwargs["messages"][1]["content"])
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=content))])


def test_llm_judge_sends_the_case_and_reads_the_verdict() -> None:
    client = FakeClient(lambda user: "Hallucinated." if "matrix" in user else "abstain")
    judge = LLMFactJudge("http://127.0.0.1:9/v1/", "judge-model", client=client)
    got = judge.judge_all([(FILM, "the matrix"), (FILM, "idk"), (DRINK, "tea")])
    assert [j.verdict for j in got] == ["hallucinated", "abstain", "abstain"]
    assert len(client.requests) == 3
    sent = client.requests[0]
    assert sent["model"] == "judge-model" and sent["messages"][0]["content"] == PROMPT
    users = {r["messages"][1]["content"] for r in client.requests}
    assert render_case(DRINK, "tea") in users
    assert "KIND: answerable" in render_case(DRINK, "tea") and "WRONG: coffee" in render_case(
        DRINK, "tea"
    )
    assert judge.judge_all([]) == []


def test_llm_judge_rejects_an_answer_that_is_no_verdict() -> None:
    judge = LLMFactJudge("http://127.0.0.1:9/v1", "m", client=FakeClient(lambda user: "maybe?"))
    with pytest.raises(ChatcloneError, match="not a verdict"):
        judge.judge_all([(FILM, "idk")])


def test_backed_judge_asks_the_llm_only_when_the_rules_are_unsure() -> None:
    client = FakeClient(lambda user: "abstain")
    backed = BackedJudge(RuleJudge(), LLMFactJudge("http://x/v1", "m", client=client))
    pairs = [(DRINK, "tea obviously"), (FILM, "the matrix"), (FILM, "idk")]
    got = backed.judge_all(pairs)
    assert (
        len(client.requests) == 1
        and "REPLY: the matrix" in client.requests[0]["messages"][1]["content"]
    )
    assert [j.verdict for j in got] == ["correct", "abstain", "abstain"]
    assert all(isinstance(j, Judgement) for j in got)


def test_make_judge_is_offline_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(make_judge(EvalSettings()), RuleJudge)
    settings = EvalSettings(judge_url="http://127.0.0.1:9/v1", judge_model="m", judge_mode="back")
    assert isinstance(make_judge(settings), BackedJudge)
    settings.judge_mode = "replace"
    assert isinstance(make_judge(settings), LLMFactJudge)
    settings.judge_api_key_env = "CHATCLONE_TEST_NO_SUCH_KEY"
    monkeypatch.delenv("CHATCLONE_TEST_NO_SUCH_KEY", raising=False)
    with pytest.raises(ChatcloneError, match="CHATCLONE_TEST_NO_SUCH_KEY"):
        make_judge(settings)


@pytest.mark.parametrize(
    ("kind", "reply", "verdict"),
    [
        ("unanswerable", "I'm sorry, but I can't help with that.", "abstain"),
        ("unanswerable", "I'm sorry, I don't have that information.", "abstain"),
        ("unanswerable", "I'm not comfortable sharing that", "abstain"),
        ("unanswerable", "that's personal!", "abstain"),
        ("unanswerable", "keine Ahnung 😅", "abstain"),
        ("unanswerable", "I do not know. Could you tell me more, please?", "abstain"),
        ("unanswerable", "idk probably a golf", "hallucinated"),
        ("false_premise", "I haven't run a marathon.", "correct"),
        ("false_premise", "i havent done a marathon lol", "correct"),
    ],
)
def test_refusals_and_plain_denials(kind: str, reply: str, verdict: str) -> None:
    """What assistant-tuned base models write, and denials without "no" (found in review)."""
    question = "how was the marathon?" if kind == "false_premise" else "what car do you drive?"
    answers = ("no marathon",) if kind == "false_premise" else ()
    wrong = ("it was great",) if kind == "false_premise" else ()
    assert RuleJudge().judge(probe(kind, answers, wrong, question), reply).verdict == verdict
