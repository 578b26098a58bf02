"""The CLI's contracts: commands, flags, JSON keys, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chatclone.workspace import ENV_VAR

from helpers import CREW, FAMILY, JORDAN, SAMPLE, cli, snapshot


@pytest.fixture
def sample_ws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    run = cli("ingest", *SAMPLE.values(), "-w", ws)
    assert run.code == 0, run.err
    return ws


def test_ingest_json_reports_every_file(tmp_path: Path) -> None:
    run = cli("ingest", FAMILY, CREW, "--workspace", tmp_path / "ws", "--json")
    assert run.code == 0, run.err
    data = run.json()
    assert data["added"] == data["messages"] == 332 + 226
    assert [f["chats"] for f in data["files"]] == [["Family"], ["Weekend Crew"]]
    for f in data["files"]:
        assert {"path", "parser", "added", "present", "unparsed", "unparsed_lines"} <= f.keys()
    again = cli("ingest", FAMILY, "-w", tmp_path / "ws", "--json").json()
    assert (again["added"], again["present"]) == (0, 332)


def test_ingest_table_for_people(tmp_path: Path) -> None:
    run = cli("ingest", JORDAN, "-w", tmp_path / "ws")
    assert run.code == 0
    assert "Jordan" in run.out and "292" in run.out
    assert "292 new messages, 0 already stored." in " ".join(run.out.split())


def test_stats_json_contract(sample_ws: Path) -> None:
    data = cli("stats", "-w", sample_ws, "--json").json()
    assert data["chats"] == 3
    assert data["me"] == "Sam Rivera"
    assert data["me_how"] == "most-chats"
    # `messages` counts stored messages that have a sender: the six system lines are left out.
    assert data["messages"] == 844 == sum(data["senders"].values())
    assert data["senders"]["Sam Rivera"] == 193 + 164 + 86
    assert data["kinds"]["system"] == 6


def test_messages_json_lines_in_time_order(sample_ws: Path) -> None:
    run = cli("messages", "-w", sample_ws, "--json", "--chat", "Jordan")
    lines = [json.loads(line) for line in run.out.splitlines()]
    assert len(lines) == 292
    assert all({"chat", "ts", "sender", "kind", "text"} <= m.keys() for m in lines)
    assert [m["ts"] for m in lines] == sorted(m["ts"] for m in lines)
    assert {m["chat"] for m in lines} == {"Jordan"}
    everything = cli("messages", "-w", sample_ws, "--json").out.splitlines()
    assert len(everything) == 850


def test_messages_unknown_chat_is_a_clear_error(sample_ws: Path) -> None:
    run = cli("messages", "-w", sample_ws, "--chat", "Nobody")
    assert run.code != 0 and "no chat named 'Nobody'" in run.err


def test_me_set_alias_and_unset(sample_ws: Path) -> None:
    run = cli("me", "Jordan", "--alias", "Jordy", "-w", sample_ws, "--json")
    assert run.json() == {
        "me": "Jordan", "aliases": ["Jordy"], "how": "settings",
        "detail": "set in chatclone.toml", "candidates": [],
    }  # fmt: skip
    assert "no stored message is from Jordy" in run.err
    assert cli("stats", "-w", sample_ws, "--json").json()["me"] == "Jordan"
    assert 'name = "Jordan"' in (sample_ws / "chatclone.toml").read_text()
    cli("me", "--unset", "-w", sample_ws)
    assert cli("me", "-w", sample_ws, "--json").json()["how"] == "most-chats"


def test_me_tie_is_reported_not_guessed(tmp_path: Path) -> None:
    cli("ingest", JORDAN, "-w", tmp_path)
    data = cli("stats", "-w", tmp_path, "--json").json()
    assert data["me"] is None and data["me_how"] == "tie"
    assert data["me_candidates"] == ["Jordan", "Sam Rivera"]
    assert "chatclone me NAME" in cli("stats", "-w", tmp_path).out


def test_workspace_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "from-env"))
    assert cli("ingest", JORDAN).code == 0
    assert (tmp_path / "from-env" / "chatclone.db").exists()
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.chdir(tmp_path / "from-env")
    assert cli("stats", "--json").json()["chats"] == 1


def test_stats_without_a_store_says_what_to_do(tmp_path: Path) -> None:
    run = cli("stats", "-w", tmp_path)
    assert run.code == 1
    assert "chatclone ingest" in run.err and "Traceback" not in run.err


def _bad_inputs(tmp: Path) -> dict[str, tuple[Path, str]]:
    binary = tmp / "photo.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    empty = tmp / "empty.txt"
    empty.write_bytes(b"")
    unknown = tmp / "notes.txt"
    unknown.write_text("shopping list\n- milk\n- eggs\n")
    truncated = tmp / "WhatsApp Chat - Weekend Crew.zip"
    truncated.write_bytes(CREW.read_bytes()[:-200])
    undecodable = tmp / "WhatsApp Chat with Bo.txt"
    undecodable.write_bytes(b"01/02/2024, 10:00 - Bo: hi\n01/02/2024, 10:01 - Bo: caf\xe9\n")
    json_other = tmp / "package.json"
    json_other.write_text('{"name": "x", "version": "1.0.0"}')
    return {
        "binary": (binary, "photo.txt"),
        "empty": (empty, "empty.txt: the file is empty"),
        "unknown format": (unknown, "notes.txt:1: not a chat export"),
        "truncated zip": (truncated, "Weekend Crew.zip"),
        "undecodable": (undecodable, "WhatsApp Chat with Bo.txt:2: not valid UTF-8"),
        "other json": (json_other, "package.json: not a chat export"),
        "missing": (tmp / "nope.txt", "nope.txt: no such file or directory"),
    }


@pytest.mark.parametrize(
    "case",
    ["binary", "empty", "unknown format", "truncated zip", "undecodable", "other json", "missing"],
)
def test_bad_input_one_line_nonzero_store_untouched(sample_ws: Path, case: str) -> None:
    path, expected = _bad_inputs(sample_ws.parent)[case]
    before = snapshot(sample_ws / "chatclone.db")
    run = cli("ingest", JORDAN, path, "-w", sample_ws)
    assert run.code != 0
    assert expected in run.err
    assert len(run.err.strip().splitlines()) == 1 and "Traceback" not in run.err
    assert snapshot(sample_ws / "chatclone.db") == before


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "chatclone", "--debug", "ingest", str(missing), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_help_explains_every_command() -> None:
    run = cli("--help")
    for command in (
        "ingest",
        "stats",
        "messages",
        "me",
        "build",
        "train",
        "chat",
        "export",
        "eval",
        "demo",
    ):
        assert command in run.out
    assert "--workspace" in cli("ingest", "--help").out


def test_demo_runs_the_whole_path_and_is_repeatable(tmp_path: Path) -> None:
    first = cli("demo", "-w", tmp_path / "demo", "--train-steps", "2")
    assert first.code == 0, first.err
    text = " ".join(first.out.split())
    assert "850 new messages" in text and "Sam Rivera" in text
    assert "A short chat with the clone" in text and "are you still going to lisbon?" in text
    assert text.count("Sam Rivera ›") >= 3  # one or more bubbles for each scripted message
    assert "chatclone chat -w" in text
    # it ends with an eval of the clone against its base model, on the sample's probes
    assert "Measure it" in text and "hallucination" in text
    [report] = (tmp_path / "demo" / "evals").glob("*/report.json")
    systems = json.loads(report.read_text("utf-8"))["systems"]
    assert [s["kind"] for s in systems] == ["real", "base", "run"]
    assert systems[2]["facts"]["n"] == 25
    [run] = (tmp_path / "demo" / "runs").iterdir()
    assert (run / "adapter" / "adapter_config.json").exists()
    second = cli("demo", "-w", tmp_path / "demo", "--train-steps", "0")
    assert second.code == 0, second.err
    assert "0 new messages, 850 already stored" in " ".join(second.out.split())


TELEGRAM = Path(__file__).parent / "fixtures" / "telegram"


def test_telegram_account_owner_is_me(tmp_path: Path) -> None:
    run = cli("ingest", TELEGRAM / "account_export.json", JORDAN, "-w", tmp_path, "--json")
    assert run.code == 0, run.err
    data = cli("stats", "-w", tmp_path, "--json").json()
    owner = json.loads((TELEGRAM / "account_export.json.expected.json").read_text())
    assert data["me"] == owner["files"][0]["owner"][0]
    assert data["me_how"] == "telegram-account"


def test_strict_names_a_json_record_by_id_not_line(tmp_path: Path) -> None:
    export = tmp_path / "result.json"
    good = {"id": 1, "type": "message", "date": "2024-01-01T10:00:00", "from": "Bo", "text": "hi"}
    undated = {"id": 2, "type": "message", "from": "Bo", "text": "no date"}
    chat = {"name": "Bo", "type": "personal_chat", "id": 7, "messages": [good, undated]}
    export.write_text(json.dumps(chat))
    run = cli("ingest", export, "--strict", "-w", tmp_path / "ws")
    assert run.code != 0 and "message id 2 not understood" in run.err
    assert not (tmp_path / "ws").exists()
    relaxed = cli("ingest", export, "-w", tmp_path / "ws", "--json").json()
    assert (relaxed["added"], relaxed["files"][0]["unit"]) == (1, "message id")


def test_names_with_brackets_are_printed_as_written(tmp_path: Path) -> None:
    export = tmp_path / "WhatsApp Chat with Mom [work].txt"
    export.write_text("13/01/2024, 09:15 - Mom: hi [bold]there[/bold]\n", "utf-8")
    run = cli("ingest", export, "-w", tmp_path / "ws")
    assert run.code == 0, run.err
    assert "Mom [work]" in run.out
