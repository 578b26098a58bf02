"""Chats as CSV: golden files, headers and delimiters, times, sniffing, bad rows, the CLI."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from chatclone.errors import InputError
from chatclone.messages import Kind, Message
from chatclone.parsers import find_parser
from chatclone.parsers.base import ParseOptions, ParseReport, Source
from chatclone.parsers.csv_chat import CsvParser

from golden import FIXTURES, check_fixture, fixtures
from helpers import cli

CSV = FIXTURES / "csv"
GOLDEN_ZONE = "Europe/Berlin"
ERRORS = {"all_bad.csv": "none of its 2 row(s) could be read; the first, line 2: "
          "time not understood: 'yesterday'"}  # fmt: skip


@pytest.mark.parametrize("fixture", fixtures("csv"), ids=lambda p: p.name)
def test_golden(fixture: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone(GOLDEN_ZONE)
    check_fixture(fixture, ERRORS)


# --- helpers -----------------------------------------------------------------------------------


def csv_file(text: str, hint: str = "chat.csv") -> Source:
    data = text.encode()
    return Source(hint, partial(io.BytesIO, data), len(data), hint)


def parse(text: str, report: ParseReport | None = None, **options: str) -> list[Message]:
    report = report or ParseReport(options=ParseOptions(**{"timezone": "UTC", **options}))
    return list(CsvParser().parse(csv_file(text), report))


# --- headers, delimiters, the mapping ----------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "timestamp,sender,text",
        "Date Time;Author;Message",
        "DATETIME\tFrom\tContent",
        "time,name,body,chat,from_me",
        "Date,Time,Sender,Text",
        "id,Timestamp,Sender,Text,Reactions",
    ],
)
def test_recognised_headers(header: str) -> None:
    delimiter = ";" if ";" in header else "\t" if "\t" in header else ","
    row = delimiter.join(["2024-01-05 21:15", "Ana", "hi"] + [""] * (header.count(delimiter) - 2))
    if header.startswith("id,"):
        row = "7," + row.removesuffix(",")
    if header.startswith("Date,Time"):  # a date and a time of day: read together
        row = "05.01.2024,21:15,Ana,hi"
    source = csv_file(f"{header}\n{row}\n")
    assert CsvParser().sniff(source)
    (m,) = CsvParser().parse(source, ParseReport(options=ParseOptions(timezone="UTC")))
    assert (m.sender, m.text, m.kind) == ("Ana", "hi", Kind.TEXT)


def test_the_chat_comes_from_its_column_else_the_file_name() -> None:
    (m,) = parse("timestamp,sender,text\n2024-01-05 21:15,Ana,hi\n")
    assert (m.chat, m.chat_id.startswith("csv:"), m.source, m.origin_line) == (
        "chat", True, "csv", 2
    )  # fmt: skip
    (m,) = parse("timestamp,sender,text,chat\n2024-01-05 21:15,Ana,hi,Team\n")
    assert m.chat == "Team"


def test_is_me_names_the_owner_and_a_row_without_sender_is_a_system_line() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    got = parse(
        "time,sender,text,is_me\n2024-01-05 21:15,Ana,hi,yes\n2024-01-05 21:16,,joined,\n", report
    )
    assert report.owner == ("Ana", "csv:Ana")
    assert (got[1].sender, got[1].kind) == (None, Kind.SYSTEM)


# --- times -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stamp, ts",
    [
        ("2024-01-05 21:15", "2024-01-05T21:15:00"),  # no offset: as written
        ("2024-01-05T21:15:03+01:00", "2024-01-06T05:15:03"),
        ("2024-01-05T20:15:03Z", "2024-01-06T05:15:03"),
        ("1704485703", "2024-01-06T05:15:03"),  # Unix seconds
        ("1704485703000", "2024-01-06T05:15:03"),  # Unix milliseconds
    ],
)
def test_instants_are_shown_in_the_ingest_zone(stamp: str, ts: str) -> None:
    (m,) = parse(f"timestamp,sender,text\n{stamp},Ana,hi\n", timezone="Asia/Tokyo")
    assert m.ts == ts


def test_other_dates_follow_the_files_order_or_the_users() -> None:
    text = "date,sender,text\n05/01/2024 21:15,Ana,a\n01/13/2024 9:05 PM,Ana,b\n"
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    assert [m.ts for m in parse(text, report)] == ["2024-05-01T21:15:00", "2024-01-13T21:05:00"]
    assert "date order inferred MDY; set --date-order to choose" in report.notes
    text = "date,sender,text\n05/01/2024 21:15,Ana,a\n01.02.24,Ana,b\n"
    assert [m.ts for m in parse(text)] == ["2024-01-05T21:15:00", "2024-02-01T00:00:00"]
    report = ParseReport(options=ParseOptions(timezone="UTC", date_order="MDY"))
    assert [m.ts for m in parse(text, report)] == ["2024-05-01T21:15:00", "2024-01-02T00:00:00"]
    assert "date order set to MDY" in report.notes


# --- sniffing ----------------------------------------------------------------------------------


def test_sniff_takes_the_fixtures() -> None:
    for path in fixtures("csv"):
        data = path.read_bytes()
        source = Source(path.name, partial(io.BytesIO, data), len(data), path.name)
        parser = find_parser(source)
        assert parser is not None and parser.name == "csv"


@pytest.mark.parametrize(
    "fixture",
    [
        p
        for name in ("whatsapp", "telegram", "discord", "line", "chatlab", "signal", "googlechat")
        for p in fixtures(name)
        if p.is_file() and p.suffix in (".txt", ".json")
    ],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_sniff_leaves_other_exports_alone(fixture: Path) -> None:
    data = fixture.read_bytes()
    source = Source(fixture.name, partial(io.BytesIO, data), len(data), fixture.name)
    assert not CsvParser().sniff(source)


@pytest.mark.parametrize(
    "text",
    [
        "timestamp,sender\n2024-01-05,Ana\n",  # no text column
        "when,who,what\n2024-01-05,Ana,hi\n",
        "timestamp sender text\n",  # no delimiter
        "",
        "x" * 2000 + ",timestamp,sender,text\n",
    ],
)
def test_sniff_rejects_other_files(text: str) -> None:
    assert not CsvParser().sniff(csv_file(text))


# --- bad input ---------------------------------------------------------------------------------


def test_bad_rows_are_reported_by_line_and_the_rest_kept() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    text = (
        "timestamp,sender,text\n2024-01-05 21:15,Ana,a\nsoon,Ana,x\n2024-01-05 21:16\n"
        '2024-01-05 21:17,Ana,""\n\n2024-01-05 21:18,Ben,"b\nc"\n2024-01-05 21:19,Ben,d\n'
    )
    got = parse(text, report)
    assert [(m.text, m.origin_line) for m in got] == [("a", 2), ("b\nc", 7), ("d", 9)]
    assert (report.unparsed, report.unparsed_lines, report.blank_lines) == (3, [3, 4, 5], 1)


def test_a_file_in_which_every_row_fails_is_an_error() -> None:
    with pytest.raises(InputError) as caught:
        parse("timestamp,sender,text\nsoon,Ana,hi\n")
    assert caught.value.problem == (
        "none of its 1 row(s) could be read; the first, line 2: time not understood: 'soon'"
    )


def test_text_that_is_not_utf8_is_an_error() -> None:
    data = "timestamp,sender,text\n2024-01-05 21:15,Ana,caf\xe9\n".encode("latin-1")
    source = Source("c.csv", partial(io.BytesIO, data), len(data), "c.csv")
    with pytest.raises(InputError):
        list(CsvParser().parse(source, ParseReport()))


# --- the CLI -----------------------------------------------------------------------------------


def test_ingest_a_folder_of_csv(tmp_path: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone("UTC")
    folder = tmp_path / "exports"
    folder.mkdir()
    for name in ("Ben Ortiz.csv", "semicolons.csv"):
        (folder / name).write_bytes((CSV / name).read_bytes())
    ws = tmp_path / "ws"
    run = cli("ingest", folder, "-w", ws, "--json")
    assert run.code == 0, run.err
    data = cli("stats", "-w", ws, "--json").json()
    assert data["chats"] == 3
    assert data["me"] == "Ana Lima" and data["me_how"] == "csv-account"
    assert data["senders"]["Ana Lima"] == 4 and data["kinds"]["system"] == 1
