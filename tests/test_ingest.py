"""Ingest semantics on real data: idempotent, overlapping exports merge, repeats kept, atomic."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from chatclone.errors import InputError
from chatclone.ingest import ingest
from chatclone.store import Store
from chatclone.workspace import Workspace

from helpers import FAMILY, JORDAN, SAMPLE, android_export, snapshot


def stored(ws: Workspace) -> list[tuple[str, str | None, str, str]]:
    with Store(ws.store_path) as store:
        return [(m.ts, m.sender, m.kind.value, m.text) for m in store.iter_messages()]


def test_sample_ingests_completely(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    result = ingest(ws, list(SAMPLE.values()))
    assert result.total("unparsed") == 0
    assert result.total("added") == result.total("messages") == 850
    assert {c for f in result.files for c in f.chats} == {"Family", "Jordan", "Weekend Crew"}
    assert ws.settings_path.exists() and ws.store_path.exists()


def test_same_export_twice_adds_nothing(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    first = ingest(ws, [FAMILY])
    before = stored(ws)
    second = ingest(ws, [FAMILY])
    assert second.total("added") == 0
    assert second.total("present") == first.total("added") > 300
    assert stored(ws) == before


def test_overlapping_exports_merge_to_the_union(tmp_path: Path) -> None:
    lines = JORDAN.read_text("utf-8").splitlines()
    # Cut both exports at message boundaries: an older export and a newer one sharing a middle.
    starts = [i for i, line in enumerate(lines) if line[:2].isdigit() and " - " in line[:22]]
    old_end, new_start = starts[len(starts) * 2 // 3], starts[len(starts) // 3]
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    older = android_export(tmp_path / "old" / JORDAN.name, lines[:old_end])
    newer = android_export(tmp_path / "new" / JORDAN.name, lines[new_start:])

    merged, whole = Workspace(tmp_path / "merged"), Workspace(tmp_path / "whole")
    ingest(merged, [older])
    result = ingest(merged, [newer])
    ingest(whole, [JORDAN])
    assert result.total("present") > 50  # the overlap was recognised, not added again
    assert stored(merged) == stored(whole)


def test_genuine_repeats_are_kept(tmp_path: Path) -> None:
    export = android_export(
        tmp_path / "WhatsApp Chat with Bo.txt",
        [
            "01/02/2024, 10:00 - Bo: ok",
            "01/02/2024, 10:00 - Bo: ok",
            "01/02/2024, 10:00 - Me: ok",
        ],
    )
    ws = Workspace(tmp_path / "ws")
    assert ingest(ws, [export]).total("added") == 3
    assert ingest(ws, [export]).total("added") == 0
    assert [s for _, s, _, _ in stored(ws)] == ["Bo", "Bo", "Me"]


def test_a_newer_export_with_one_more_repeat_adds_exactly_one(tmp_path: Path) -> None:
    # The older export was made between Bo's two identical messages.
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    name = "WhatsApp Chat with Bo.txt"
    old = android_export(tmp_path / "old" / name, ["01/02/2024, 10:00 - Bo: ok"])
    new = android_export(tmp_path / "new" / name, ["01/02/2024, 10:00 - Bo: ok"] * 2)
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [old])
    assert ingest(ws, [new]).total("added") == 1
    assert len(stored(ws)) == 2


def test_bad_file_among_good_ones_stores_nothing(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [JORDAN])
    before = snapshot(ws.store_path)
    bad = tmp_path / "broken.zip"
    bad.write_bytes(SAMPLE["WhatsApp Chat - Weekend Crew.zip"].read_bytes()[:300])
    with pytest.raises(InputError, match=r"broken\.zip"):
        ingest(ws, [FAMILY, bad])
    assert snapshot(ws.store_path) == before


def test_error_midway_through_a_file_rolls_everything_back(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [JORDAN])
    before = snapshot(ws.store_path)
    text = FAMILY.read_bytes()
    cut = text.index(b"\n", len(text) // 2)
    bad = tmp_path / "WhatsApp Chat with Family.txt"
    bad.write_bytes(text[:cut] + b"\n01/05/2024, 10:00 - Mum: caf\xe9\n" + text[cut:])
    with pytest.raises(InputError) as e:
        ingest(ws, [bad])
    assert e.value.line == text[:cut].count(b"\n") + 2
    assert snapshot(ws.store_path) == before


def test_failed_first_ingest_leaves_no_workspace_behind(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    ws = Workspace(tmp_path / "new-ws")
    with pytest.raises(InputError, match="empty"):
        ingest(ws, [FAMILY, empty])
    assert not ws.root.exists()


def test_zip_with_damaged_member_is_an_input_error(tmp_path: Path) -> None:
    data = bytearray(SAMPLE["WhatsApp Chat - Weekend Crew.zip"].read_bytes())
    with zipfile.ZipFile(SAMPLE["WhatsApp Chat - Weekend Crew.zip"]) as z:
        info = z.infolist()[0]
    start = info.header_offset + 30 + len(info.filename) + 200
    data[start : start + 64] = bytes(64)  # corrupt the compressed stream, keep the directory
    bad = tmp_path / "WhatsApp Chat - Weekend Crew.zip"
    bad.write_bytes(bytes(data))
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(InputError, match=r"Weekend Crew\.zip"):
        ingest(ws, [bad])
    assert not ws.root.exists()


def test_strict_refuses_a_file_with_unparsed_lines(tmp_path: Path) -> None:
    export = android_export(
        tmp_path / "WhatsApp Chat with Bo.txt",
        ["01/02/2024, 10:00 - Bo: hi", "41/02/2024, 10:01 - Bo: broken header"],
    )
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(InputError, match=r"Bo.txt:2"):
        ingest(ws, [export], strict=True)
    result = ingest(ws, [export])
    assert (result.total("added"), result.files[0].unparsed_lines) == (1, [2])
