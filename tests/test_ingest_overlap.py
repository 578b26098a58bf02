"""The same chat under another file name (a second download, a renamed file or contact) is merged
into the stored chat, and says so; a chat that may or may not be the same stores nothing and asks;
two different chats stay apart."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chatclone.errors import InputError
from chatclone.ingest import ChatChoice, ingest
from chatclone.overlap import DIFFERENT, SAME, UNSURE, longest_run, verdict
from chatclone.workspace import Workspace

from golden import FIXTURES
from helpers import cli


def lines(day_from: int, day_to: int, who: str = "Mom", prefix: str = "") -> list[str]:
    """Two messages a day in January 2024 (days above 12: no day/month ambiguity)."""
    out = []
    for day in range(day_from, day_to + 1):
        out.append(f"{day:02d}/01/2024, 09:{day:02d} - {who}: {prefix}morning {day}, how are you?")
        out.append(f"{day:02d}/01/2024, 09:{day + 1:02d} - Sam: {prefix}fine {day}, you?")
    return out


def export(folder: Path, name: str, body: list[str]) -> Path:
    path = folder / f"WhatsApp Chat with {name}.txt"
    path.write_text("\n".join(body) + "\n", "utf-8")
    return path


def chats(ws: Workspace) -> dict[str, int]:
    with ws.open_store() as store:
        return {c.name: c.messages for c in store.chats()}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


def test_a_second_download_of_the_same_export_is_merged(ws: Workspace, tmp_path: Path) -> None:
    body = lines(13, 28)
    ingest(ws, [export(tmp_path, "Mom", body)])
    again = ingest(ws, [export(tmp_path, "Mom (1)", body)])
    assert chats(ws) == {"Mom": 32}
    result = again.files[0]
    assert (result.chats, result.added, result.present) == (["Mom"], 0, 32)
    assert "'Mom (1)' is the stored chat 'Mom'" in result.notes[-1]
    assert "32 of its 32 messages" in result.notes[-1]


def test_a_newer_export_of_a_renamed_file_adds_only_what_is_new(
    ws: Workspace, tmp_path: Path
) -> None:
    ingest(ws, [export(tmp_path, "Mom", lines(13, 22))])
    newer = ingest(ws, [export(tmp_path, "Mum", lines(18, 28))]).files[0]
    assert chats(ws) == {"Mom": 32}  # days 13-28, each message once
    assert (newer.chats, newer.messages, newer.added, newer.present) == (["Mom"], 22, 12, 10)
    with ws.open_store() as store:
        texts = [m.text for m in store.iter_messages("Mom")]
    assert len(texts) == len(set(texts)) == 32


def test_both_files_in_one_ingest_make_one_chat(ws: Workspace, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    body = lines(13, 20)
    ingest(ws, [export(first, "Mom", body), export(second, "Mom (1)", body)])
    assert chats(ws) == {"Mom": 16}


def test_different_chats_that_share_a_few_oks_stay_apart(ws: Workspace, tmp_path: Path) -> None:
    mom = lines(13, 28)
    ana = lines(13, 28, who="Ana", prefix="hey ")
    # Sam sends the same "ok" at the same minute to both, twice (not in a row).
    mom.insert(5, "15/01/2024, 09:30 - Sam: ok")
    ana.insert(9, "15/01/2024, 09:30 - Sam: ok")
    mom.insert(20, "20/01/2024, 10:00 - Sam: ok")
    ana.insert(25, "20/01/2024, 10:00 - Sam: ok")
    ingest(ws, [export(tmp_path, "Mom", mom)])
    result = ingest(ws, [export(tmp_path, "Ana", ana)]).files[0]
    assert chats(ws) == {"Mom": 34, "Ana": 34}
    assert result.added == 34 and not any("stored chat" in note for note in result.notes)


def test_an_unsure_overlap_stores_nothing_and_asks(ws: Workspace, tmp_path: Path) -> None:
    ingest(ws, [export(tmp_path, "Mom", lines(13, 28))])
    # A short run of identical messages in an otherwise different chat.
    other = lines(13, 28, who="Ana", prefix="hey ")
    other[8:8] = lines(20, 21)  # 4 of Mom's messages, one after another
    path = export(tmp_path, "Ana", other)
    with pytest.raises(InputError, match=r"--chat 'Mom'.*--as-new-chat.*nothing was stored"):
        ingest(ws, [path])
    assert chats(ws) == {"Mom": 32}

    apart = ingest(ws, [path], choice=ChatChoice(as_new=True)).files[0]
    assert apart.chats == ["Ana"] and chats(ws) == {"Mom": 32, "Ana": 36}


def test_chat_names_where_the_messages_go(ws: Workspace, tmp_path: Path) -> None:
    ingest(ws, [export(tmp_path, "Mom", lines(13, 20))])
    merged = cli(
        "ingest", "-w", ws.root, export(tmp_path, "Mother", lines(19, 24)), "--chat", "Mom"
    )
    assert merged.code == 0, merged.err
    assert chats(ws) == {"Mom": 24}
    named = cli("ingest", "-w", ws.root, export(tmp_path, "x", lines(25, 26)), "--chat", "Family")
    assert named.code == 0, named.err
    assert chats(ws) == {"Mom": 24, "Family": 4}
    both = cli("ingest", "-w", ws.root, tmp_path / "WhatsApp Chat with x.txt", "--chat", "A",
               "--as-new-chat")  # fmt: skip
    assert both.code != 0 and "pick one" in both.err


def test_the_unsure_error_on_the_command_line(ws: Workspace, tmp_path: Path) -> None:
    ingest(ws, [export(tmp_path, "Mom", lines(13, 28))])
    other = lines(13, 28, who="Ana", prefix="hey ")
    other[8:8] = lines(20, 21)
    run = cli("ingest", "-w", ws.root, export(tmp_path, "Ana", other))
    assert run.code != 0 and "WhatsApp Chat with Ana.txt" in run.err and "--chat 'Mom'" in run.err


@pytest.mark.parametrize(
    ("run", "size", "other", "expected"),
    [
        (10, 500, 800, SAME),
        (3, 3, 800, SAME),  # the whole of a small chat
        (9, 500, 800, UNSURE),
        (3, 500, 800, UNSURE),
        (1, 1, 800, UNSURE),
        (2, 500, 800, DIFFERENT),
        (0, 500, 800, DIFFERENT),
    ],
)
def test_the_verdict(run: int, size: int, other: int, expected: str) -> None:
    assert verdict(run, size, other) == expected


def test_longest_run() -> None:
    assert longest_run([]) == 0
    assert longest_run([True, True, False, True, True, True, False]) == 3


OVERLAP = FIXTURES / "overlap"
ORDER = ["Mom", "Mom (1)", "Mum", "Ana"]


def test_golden_overlap(tmp_path: Path) -> None:
    """The fixtures ingested one after another: what each file added, and the chats at the end."""
    ws = Workspace(tmp_path / "ws")
    files = []
    for name in ORDER:
        result = ingest(ws, [OVERLAP / f"WhatsApp Chat with {name}.txt"]).files[0]
        files.append(
            {
                "file": Path(result.path).name,
                "chats": result.chats,
                "messages": result.messages,
                "added": result.added,
                "present": result.present,
                "notes": [n for n in result.notes if "stored chat" in n],
            }
        )
    got = {"files": files, "chats": chats(ws)}
    expected = OVERLAP / "ingest.expected.json"
    if os.environ.get("UPDATE_GOLDEN") or not expected.exists():
        expected.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", "utf-8")
    assert got == json.loads(expected.read_text("utf-8"))


def test_only_chats_known_by_name_are_compared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chat keyed by the messenger's own id (a Discord channel) is never a stored chat under
    another name, so it is not compared with every stored chat (packages of thousands of
    channels took minutes); a WhatsApp chat, known only by its name, still is."""
    import chatclone.ingest as ingest_module

    compared: list[str] = []
    real = ingest_module.best_overlap

    def spy(store: object, chat_id: str, source: str) -> object:
        compared.append(chat_id)
        return real(store, chat_id, source)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest_module, "best_overlap", spy)
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [FIXTURES / "discord" / "direct_message.json", FIXTURES / "discord" / "thread.json"])
    assert compared == []
    ingest(ws, [export(tmp_path, "Mom", lines(13, 20))])
    assert len(compared) == 1 and compared[0].startswith("whatsapp:")
