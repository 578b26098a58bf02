"""`chatclone build` end to end on the bundled sample, with the real tokenizer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chatclone.dataset.formats import check_openai_file
from chatclone.dataset.report import BuildReport
from chatclone.embeddings import DefaultEmbedder
from chatclone.prompt import OPENER

from helpers import SAMPLE, cli


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("build") / "ws"
    assert cli("ingest", *SAMPLE.values(), "-w", ws).code == 0
    return ws


@pytest.fixture
def ws(ingested: Path, tmp_path: Path) -> Path:
    """A fresh copy of the ingested sample, so builds don't see each other's files."""
    copy = tmp_path / "ws"
    shutil.copytree(ingested, copy)
    return copy


def build(ws: Path, *args: str) -> dict[str, object]:
    run = cli("build", "-w", ws, "--json", "--no-low-info-filter", "--no-memory", *args)
    assert run.code == 0, run.err
    return json.loads(run.out)  # type: ignore[no-any-return]


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_report_contract_and_valid_openai_files(ws: Path) -> None:
    report = build(ws, "--name", "first", "--format", "sharegpt")
    assert report["name"] == "first"  # not a chat's name: a loop once shadowed it
    for key in ("samples", "sessions", "turns", "tokens", "drops", "pii", "path"):
        assert key in report
    samples = report["samples"]
    assert isinstance(samples, dict) and samples["train"] > 40 and samples["valid"] > 3
    folder = Path(str(report["path"]))
    assert folder == ws / "datasets" / "first"
    assert check_openai_file(folder / "train.jsonl") == []
    assert len(lines(folder / "train.jsonl")) == samples["train"]
    assert len(lines(folder / "valid.jsonl")) == samples["valid"]
    assert json.loads((folder / "report.json").read_text()) == report
    loaded = BuildReport.load(folder)  # what train, chat and the renderer read
    assert loaded.to_json() == report and loaded.context_tokens == 1024
    assert loaded.identity.me == report["me"] and loaded.identity.source == "whatsapp"
    assert (folder / "train.sharegpt.json").exists()
    drops = report["drops"]
    assert isinstance(drops, dict)
    assert drops["system_message"] == 6 and drops["deleted_message"] == 4
    assert (ws / "persona.md").exists()


def test_samples_alternate_with_me_as_assistant(ws: Path) -> None:
    folder = Path(str(build(ws)["path"]))
    for row in lines(folder / "train.jsonl"):
        messages = row["messages"]
        assert isinstance(messages, list)
        assert messages[0]["role"] == "system" and "You are Sam Rivera" in messages[0]["content"]
        roles = [m["role"] for m in messages[1:]]
        assert roles == ["user", "assistant"] * (len(roles) // 2)
        for m in messages[1:]:
            if (
                m["role"] == "user"
                and m["content"] != OPENER
                and "Family" in messages[0]["content"]
            ):
                assert ": " in m["content"]  # group chats name who is talking
            assert "Sam Rivera:" not in m["content"]


def test_the_same_store_and_settings_give_the_same_dataset(ws: Path) -> None:
    a = Path(str(build(ws, "--name", "a")["path"]))
    b = Path(str(build(ws, "--name", "b")["path"]))
    for name in ("train.jsonl", "valid.jsonl"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_session_gap_override_changes_the_sessions(ws: Path) -> None:
    default = build(ws, "--name", "d")
    short = build(ws, "--name", "s", "--session-gap", "20m")
    assert short["sessions"] > default["sessions"]  # type: ignore[operator]
    settings = short["settings"]
    assert isinstance(settings, dict) and settings["session_gap"] == "20m"


def test_private_data_is_pseudonymised_and_the_mapping_stays_out(ws: Path) -> None:
    report = build(ws, "--name", "p", "--pseudonymize-names")
    folder = Path(str(report["path"]))
    text = "".join(p.read_text("utf-8") for p in folder.iterdir())
    for name in ("jordan", "priya", "marco", "tess"):
        assert name not in text.casefold()
    assert "@example.com" not in text and "https://" not in text
    pii = report["pii"]
    assert isinstance(pii, dict) and pii["name"] > 50 and pii["email"] >= 1
    mapping = ws / "privacy" / "mapping.json"
    assert mapping.exists() and not list(folder.rglob("mapping*"))
    assert "Jordan" in mapping.read_text("utf-8")


def test_build_errors_are_clear(ws: Path, tmp_path: Path) -> None:
    build(ws, "--name", "taken")
    again = cli("build", "-w", ws, "--name", "taken", "--no-low-info-filter", "--no-memory")
    assert again.code == 1 and "already exists" in again.err
    bad = cli("build", "-w", ws, "--format", "csv", "--no-low-info-filter", "--no-memory")
    assert bad.code == 1 and "unknown format 'csv'" in bad.err
    gap = cli("build", "-w", ws, "--session-gap", "soon", "--no-low-info-filter", "--no-memory")
    assert gap.code == 1 and "not a duration" in gap.err
    empty = tmp_path / "nobody"
    assert cli("ingest", SAMPLE["WhatsApp Chat with Jordan.txt"], "-w", empty).code == 0
    tie = cli("build", "-w", empty)
    assert tie.code == 1 and "chatclone me NAME" in tie.err


def test_preview_prints_samples_in_the_models_chat_format(ws: Path) -> None:
    run = cli("build", "-w", ws, "--no-low-info-filter", "--no-memory", "--preview", "2")
    assert run.code == 0, run.err
    assert run.out.count("<|im_start|>system") == 2
    assert "sample 2" in run.out and "sample 3" not in run.out
    scripted = cli(
        "build",
        "-w",
        ws,
        "--no-low-info-filter",
        "--no-memory",
        "--preview",
        "1",
        "--json",
        "--name",
        "j",
    )
    assert json.loads(scripted.out)["samples"]  # stdout stays one JSON document
    assert "<|im_start|>system" in scripted.err


def test_low_information_replies_stay_as_context_only(ws: Path) -> None:
    run = cli("build", "-w", ws, "--json", "--name", "li", "--no-memory")
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["drops"]["low_information_reply"] > 10
    weights: dict[str, set[int]] = {}
    for row in lines(Path(report["path"]) / "train.jsonl"):
        for m in row["messages"]:
            if m["role"] == "assistant":
                weights.setdefault(m["content"], set()).add(m["weight"])
    assert weights.get("lol", {0}) == {0}
    informative = [c for c, w in weights.items() if "pedalwise" in c.casefold()]
    assert informative and all(weights[c] == {1} for c in informative)


def test_default_embedder_loads_offline() -> None:
    vectors = DefaultEmbedder().encode(["where do you live?", "easton, bristol"])
    assert vectors.shape == (2, 384)


@pytest.mark.parametrize("name", ["../x", "my data", "a/b", ".hidden", ""])
def test_a_dataset_name_is_one_folder_name(ws: Path, name: str) -> None:
    run = cli("build", "-w", ws, "--no-low-info-filter", "--no-memory", "--name", name)
    assert run.code != 0
    assert f"'{name}' is not a usable dataset name" in run.err
    assert len(run.err.strip().splitlines()) == 1 and "Traceback" not in run.err
    assert not (ws / "x").exists() and not (ws / "datasets").exists()


def test_bad_settings_are_refused_before_anything_is_built(ws: Path) -> None:
    run = cli("build", "-w", ws, "--session-gap", "soon", "--no-memory")
    assert run.code != 0 and "'soon' is not a duration" in run.err
    assert not (ws / "datasets").exists()
