"""`chatclone build` end to end on the bundled sample (and on small stores of our own), with the
real tokenizer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chatclone.dataset import build as build_module
from chatclone.dataset import lowinfo
from chatclone.dataset.build import BuildOptions, build_dataset
from chatclone.dataset.formats import check_openai_file
from chatclone.dataset.report import BuildReport
from chatclone.embeddings import DefaultEmbedder, HashEmbedder
from chatclone.prompt import OPENER
from chatclone.workspace import Workspace

from helpers import SAMPLE, android_export, cli


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


# Every message here that nobody else's turn is near: the sessions they make are one-sided.
ONE_SIDED = ("saffron buns need two proves", "quince jam batch number four", "ferry to Cowes at 7")


@pytest.fixture
def one_sided(tmp_path: Path) -> Workspace:
    """A chat with Ana (three answered sessions, one of mine alone, one she sent unanswered) and
    a chat of only my own messages (two sessions), as a Discord data package gives them."""
    ana = android_export(
        tmp_path / "WhatsApp Chat with Ana.txt",
        [
            "15/03/2024, 10:00 - Ana: are you coming to the climbing wall tonight?",
            "15/03/2024, 10:02 - Sam: yes, bringing my brand new shoes from that Leeds shop",
            f"16/03/2024, 11:00 - Sam: {ONE_SIDED[0]}",
            "17/03/2024, 09:00 - Ana: how was the wall?",
            "17/03/2024, 09:05 - Sam: brilliant, finally topped the blue overhang route there",
            "18/03/2024, 09:00 - Ana: hello?? anyone home",
            "19/03/2024, 18:00 - Ana: dinner on friday?",
            "19/03/2024, 18:04 - Sam: friday works, I will bring the lemon tart and candles",
        ],
    )
    notes = android_export(
        tmp_path / "WhatsApp Chat with Notes.txt",
        [f"20/03/2024, 08:00 - Sam: {ONE_SIDED[1]}", f"21/03/2024, 08:00 - Sam: {ONE_SIDED[2]}"],
    )
    ws = Workspace(tmp_path / "ws")
    assert cli("ingest", ana, notes, "-w", ws.root).code == 0
    assert cli("me", "Sam", "-w", ws.root).code == 0
    return ws


class RecordingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def encode(self, texts: list[str]) -> object:
        self.seen += texts
        return super().encode(texts)


@pytest.mark.parametrize("low_info_filter", [True, False])
def test_sessions_of_only_my_messages_are_dropped_before_scoring(
    one_sided: Workspace, monkeypatch: pytest.MonkeyPatch, low_info_filter: bool
) -> None:
    """Dropped as `own_messages_only_session` right after their turns are built: neither the
    low-information filter nor its embedder sees them, nor the files; they stay in the
    `sessions` and `turns` read, like every session dropped whole. Without the filter the build
    streams, one session per chunk here."""
    scored: list[str] = []
    score = lowinfo.score_replies

    def spy(replies: list[str], *args: object) -> list[float]:
        scored.extend(replies)
        return score(replies, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(lowinfo, "score_replies", spy)
    monkeypatch.setattr(build_module, "SESSIONS_PER_CHUNK", 1)
    embedder = RecordingEmbedder()
    overrides = {"low_info_filter": low_info_filter, "memory": False}
    report = build_dataset(one_sided, BuildOptions("d", embedder=embedder, overrides=overrides))

    assert report.drops["own_messages_only_session"] == 3
    assert report.drops["no_reply_session"] == 1  # Ana wrote, nobody answered: as before
    assert "low_information_reply" not in report.drops
    # Every session read is kept or dropped whole under one reason, and counted by messenger.
    assert (report.sessions, report.sessions_kept) == (7, 3)
    assert report.sessions == report.sessions_kept + 3 + 1
    assert report.sources == {"whatsapp": report.sessions}
    assert report.turns == 2 + 1 + 2 + 1 + 2 + 1 + 1
    assert report.samples["train"] + report.samples["valid"] == 3 and report.samples["valid"]

    folder = Path(report.path)
    written = (folder / "train.jsonl").read_text("utf-8") + (folder / "valid.jsonl").read_text()
    assert "lemon tart" in written and "blue overhang" in written
    fed = scored + embedder.seen
    if low_info_filter:
        assert any("lemon tart" in t for t in scored) and any("lemon tart" in t for t in fed)
    else:
        assert fed == []
    for text in ONE_SIDED:
        assert text not in written
        assert not any(text in t for t in fed)


def test_a_store_of_only_my_messages_builds_without_loading_the_embedder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = android_export(
        tmp_path / "WhatsApp Chat with Notes.txt",
        [f"20/03/2024, 08:00 - Sam: {ONE_SIDED[1]}", f"21/03/2024, 08:00 - Sam: {ONE_SIDED[2]}"],
    )
    ws = Workspace(tmp_path / "ws")
    assert cli("ingest", notes, "-w", ws.root).code == 0
    assert cli("me", "Sam", "-w", ws.root).code == 0

    def unwanted() -> None:
        raise AssertionError("the embedding model was loaded with nothing to score")

    monkeypatch.setattr(build_module.embeddings, "DefaultEmbedder", unwanted)
    report = build_dataset(ws, BuildOptions("d", overrides={"memory": False}))
    assert report.settings.low_info_filter
    assert report.drops == {"own_messages_only_session": 2}
    assert (report.sessions, report.sessions_kept, report.turns) == (2, 0, 2)
    assert report.samples == {"train": 0, "valid": 0}
