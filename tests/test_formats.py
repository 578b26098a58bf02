"""Dataset files: OpenAI's rules, one failing example per rule, and each format written and read
back (OpenAI JSONL, LLaMA-Factory ShareGPT, a Hugging Face `datasets` copy)."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatclone.dataset.formats import (
    FORMATS,
    check_openai_file,
    example_token_limit,
    validate_openai,
    write_hf,
    write_openai,
    write_sharegpt,
)
from chatclone.errors import ChatcloneError
from chatclone.openai.tokens import ApproximateCounter

COUNTER = ApproximateCounter()
Sample = list[dict[str, Any]]


def sample(i: int = 0) -> Sample:
    return [
        {"role": "system", "content": "You are Sam Rivera, texting a friend."},
        {"role": "user", "content": f"are you coming on saturday? ({i})"},
        {"role": "assistant", "content": "yes! bringing the café crème 🎉", "weight": 1},
        {"role": "user", "content": "great"},
        {"role": "assistant", "content": "ok", "weight": 0},
    ]


def dataset(n: int = 10) -> list[Sample]:
    return [sample(i) for i in range(n)]


def test_good_data_passes() -> None:
    assert validate_openai(dataset(), COUNTER) == []


def test_messages_without_weight_pass() -> None:
    data = [[{k: v for k, v in m.items() if k != "weight"} for m in s] for s in dataset()]
    assert validate_openai(data, COUNTER) == []


def _set(index: int, key: str, value: object) -> Callable[[Sample], None]:
    def change(s: Sample) -> None:
        s[index][key] = value

    return change


BROKEN: dict[str, tuple[Callable[[Sample], Any], str]] = {
    "no messages": (lambda s: s.clear(), "no messages"),
    "unknown role": (_set(1, "role", "bot"), "role 'bot' is not one of system, user, assistant"),
    "empty content": (_set(1, "content", "  "), "content must be a non-empty string"),
    "content not a string": (_set(2, "content", ["hi"]), "content must be a non-empty string"),
    "second system message": (
        lambda s: s.insert(3, {"role": "system", "content": "x"}),
        "system message at position 1, 4",
    ),
    "system not first": (lambda s: s.append(s.pop(0)), "system message at position 5"),
    "two user messages in a row": (_set(2, "role", "user"), "two user messages in a row"),
    "two assistant messages in a row": (
        lambda s: s.insert(3, {"role": "assistant", "content": "and you?"}),
        "two assistant messages in a row",
    ),
    "nothing to learn from": (_set(2, "weight", 0), "no assistant message to learn from"),
    "weight on a user message": (_set(1, "weight", 1), "weight is only allowed on assistant"),
    "weight not 0 or 1": (_set(2, "weight", 0.5), "weight must be 0 or 1, not 0.5"),
    "weight a boolean": (_set(2, "weight", True), "weight must be 0 or 1, not True"),
    "unknown key": (_set(2, "mood", "happy"), "unknown keys mood"),
}


@pytest.mark.parametrize("rule", BROKEN)
def test_each_rule_catches_its_failing_example(rule: str) -> None:
    change, expected = BROKEN[rule]
    data = dataset()
    bad = copy.deepcopy(data[3])
    change(bad)
    data[3] = bad
    problems = validate_openai(data, COUNTER)
    assert problems, rule
    assert all(p.startswith("example 4: ") for p in problems), problems
    assert any(expected in p for p in problems), problems


def test_a_message_that_is_not_an_object() -> None:
    data = dataset()
    data[0] = [data[0][0], "hello", *data[0][2:]]  # type: ignore[list-item]
    assert "example 1: message 2 is not an object" in validate_openai(data, COUNTER)


def test_at_least_ten_examples() -> None:
    assert validate_openai(dataset(9), COUNTER) == [
        "9 examples; OpenAI requires at least 10 to fine-tune"
    ]
    assert validate_openai(dataset(9), COUNTER, min_examples=0) == []  # a validation file


def test_token_limit_per_example() -> None:
    data = dataset()
    data[5][1]["content"] = "word " * 200
    limit = COUNTER.count(data[0]) + 5
    problems = validate_openai(data, COUNTER, max_tokens=limit)
    assert len(problems) == 1
    assert problems[0].startswith("example 6: about ")
    assert f"over OpenAI's limit of {limit} per example" in problems[0]


def test_openai_limits_by_model() -> None:
    assert example_token_limit("gpt-4.1-mini-2025-04-14") == 65_536
    assert example_token_limit("gpt-3.5-turbo-0125") == 16_385


def test_problems_are_capped() -> None:
    data = [[{"role": "bot", "content": ""}] for _ in range(40)]
    problems = validate_openai(data, COUNTER, limit=10)
    assert len(problems) == 11
    assert problems[-1].startswith("… and ") and problems[-1].endswith(" more problems")


# --- files -------------------------------------------------------------------------------------


def test_openai_jsonl_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    write_openai(path, dataset())
    text = path.read_text("utf-8")
    assert "café crème 🎉" in text  # UTF-8, not \\u escapes
    rows = [json.loads(line) for line in text.splitlines()]
    assert rows == [{"messages": s} for s in dataset()]
    assert check_openai_file(path, COUNTER) == []


def test_checking_a_file_reports_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    write_openai(path, dataset(11))
    lines = path.read_text("utf-8").splitlines()
    lines[1] = "{not json"
    lines[4] = json.dumps({"prompt": "hi"})
    lines[6] = ""
    bad = sample()
    bad.insert(3, {"role": "assistant", "content": "and you?"})
    lines[8] = json.dumps({"messages": bad})
    path.write_text("\n".join(lines) + "\n\n", "utf-8")  # trailing blank lines are fine
    problems = check_openai_file(path, COUNTER)
    assert problems[0].startswith("train.jsonl line 2: not valid JSON")
    assert problems[1:3] == [
        'train.jsonl line 5: not an object with a "messages" list',
        "train.jsonl line 7: empty line",
    ]
    assert problems[3] == (
        "train.jsonl line 9: message 4: two assistant messages in a row (roles must alternate)"
    )
    assert problems[-1] == "train.jsonl 8 examples; OpenAI requires at least 10 to fine-tune"


def test_checking_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ChatcloneError, match=r"missing\.jsonl"):
        check_openai_file(tmp_path / "missing.jsonl", COUNTER)


def test_sharegpt_maps_roles_and_registers_the_dataset(tmp_path: Path) -> None:
    write_sharegpt(tmp_path / "train.sharegpt.json", dataset(2))
    write_sharegpt(tmp_path / "valid.sharegpt.json", dataset(1))
    rows = json.loads((tmp_path / "train.sharegpt.json").read_text("utf-8"))
    assert len(rows) == 2
    assert rows[0] == {
        "conversations": [
            {"from": "human", "value": "are you coming on saturday? (0)"},
            {"from": "gpt", "value": "yes! bringing the café crème 🎉"},
            {"from": "human", "value": "great"},
            {"from": "gpt", "value": "ok"},  # weight 0 kept: ShareGPT has no per-turn weight
        ],
        "system": "You are Sam Rivera, texting a friend.",
    }
    info = json.loads((tmp_path / "dataset_info.json").read_text("utf-8"))
    assert set(info) == {"train", "valid"}  # the second file adds to the first's entry
    assert info["train"]["file_name"] == "train.sharegpt.json"
    assert info["train"]["formatting"] == "sharegpt"
    assert info["train"]["columns"] == {"messages": "conversations", "system": "system"}
    assert info["valid"]["tags"]["user_tag"] == "human"
    assert info["valid"]["tags"]["assistant_tag"] == "gpt"


def test_sharegpt_without_a_system_message(tmp_path: Path) -> None:
    path = tmp_path / "chats.json"
    write_sharegpt(path, [sample()[1:3]], dataset_name="mine")
    assert json.loads(path.read_text("utf-8"))[0]["system"] == ""
    assert "mine" in json.loads((tmp_path / "dataset_info.json").read_text("utf-8"))


def test_sharegpt_refuses_what_it_cannot_express(tmp_path: Path) -> None:
    with pytest.raises(ChatcloneError, match="first turn to be the user's"):
        write_sharegpt(tmp_path / "a.json", [[sample()[0], *sample()[2:]]])
    with pytest.raises(ChatcloneError, match="message 3 has role 'system'"):
        write_sharegpt(tmp_path / "b.json", [[*sample()[:2], sample()[0]]])


def test_hf_copy_loads_back(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    write_hf(tmp_path / "hf", {"train": dataset(3), "valid": []})
    loaded = datasets.load_from_disk(str(tmp_path / "hf"))
    assert set(loaded) == {"train", "valid"}
    assert len(loaded["train"]) == 3 and len(loaded["valid"]) == 0
    messages = loaded["train"][1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant"]
    # Every message has a weight column; it is null where the sample had none.
    assert [m["weight"] for m in messages] == [None, None, 1, None, 0]
    back = [{k: v for k, v in m.items() if v is not None} for m in messages]
    assert back == sample(1)


def test_hf_copy_needs_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # as if not installed
    with pytest.raises(ChatcloneError, match=r"pip install 'chatclone\[hf\]'"):
        write_hf(tmp_path / "hf", {"train": dataset(1)})


def test_formats_listed() -> None:
    assert FORMATS == ("openai", "sharegpt", "hf")


def test_a_fine_tuned_models_limit_is_its_bases() -> None:
    from chatclone.dataset.formats import example_token_limit

    assert example_token_limit("ft:gpt-3.5-turbo-0125:acme::abc123") == 16385
    assert example_token_limit("ft:gpt-4.1-mini-2025-04-14:acme::x") == 65536
