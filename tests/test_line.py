"""LINE chat history exports: golden fixtures, then the pieces: titles, day lines, clocks, quoting,
events, sniffing and bad input.

Run: .venv/bin/pytest tests/test_line.py
"""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime
from functools import partial
from pathlib import Path

import pytest

from chatclone.errors import InputError
from chatclone.messages import Kind, Message
from chatclone.parsers import find_parser
from chatclone.parsers.base import ParseReport, Source
from chatclone.parsers.line import LineParser, chat_name_from, day_of, title_of
from chatclone.parsers.sources import discover

from golden import FIXTURES, check_golden, fixtures
from helpers import cli

PARSER = LineParser()
LINE = FIXTURES / "line"
HEAD = "[LINE] Chat history with Ana\nSaved on: 2024/01/07 21:15\n\n2024/01/05(Fri)\n"


def source_of(data: bytes, name: str = "[LINE] Chat with Ana.txt") -> Source:
    return Source(name, partial(io.BytesIO, data), len(data), name)


def parse(text: str | bytes) -> tuple[list[Message], ParseReport]:
    data = text.encode() if isinstance(text, str) else text
    report = ParseReport()
    return list(PARSER.parse(source_of(data), report)), report


def day_and_title_lines(report: ParseReport) -> int:
    """The day and title lines the note counts: lines that are neither messages nor blank."""
    found = re.search(r"(\d+) day line\(s\), (\d+) title line\(s\)", report.notes[0])
    assert found is not None
    return int(found[1]) + int(found[2])


@pytest.mark.parametrize("fixture", fixtures("line"), ids=lambda p: p.name)
def test_golden(fixture: Path) -> None:
    check_golden(fixture)


@pytest.mark.parametrize("fixture", fixtures("line"), ids=lambda p: p.name)
def test_fixture_accounts_for_every_line(fixture: Path) -> None:
    (found,) = discover(fixture)
    assert found.parser.name == "line"
    report = ParseReport()
    messages = list(PARSER.parse(found.source, report))
    raw = fixture.read_bytes()
    assert report.lines == raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)
    counted = report.header_lines + report.continuation_lines + report.blank_lines
    assert counted + report.unparsed + day_and_title_lines(report) == report.lines
    assert report.header_lines == len(messages)
    for m in messages:
        datetime.fromisoformat(m.ts)
        assert "\r" not in m.text
        assert m.kind is Kind.SYSTEM or not m.text.startswith("[")  # no placeholder as words
        assert (m.sender is None) == (m.kind is Kind.SYSTEM)
    assert [m.ts for m in messages] == sorted(m.ts for m in messages)


def test_every_fixture_is_described_in_the_readme() -> None:
    readme = (LINE / "README.md").read_text("utf-8")
    for fixture in fixtures("line"):
        assert f"`{fixture.name}`" in readme


# --- names, days, clocks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("[LINE] Chat history with Ana", ("English", "Ana")),
        ("[LINE] Chat history in Book club", ("English", "Book club")),
        ("[LINE] 花子とのトーク履歴", ("Japanese", "花子")),
        ("[LINE] 週末の会のトーク履歴", ("Japanese", "週末の会")),
        ("[LINE] 與小明的聊天記錄", ("Chinese", "小明")),
        ("Chat history with Ana", None),
    ],
)
def test_titles(line: str, found: tuple[str, str] | None) -> None:
    assert title_of(line) == found


@pytest.mark.parametrize(
    ("file_name", "chat"),
    [
        ("[LINE] Chat with Ana.txt", "Ana"),
        ("[LINE] Chat history with Ana.txt", "Ana"),
        ("[LINE] 花子とのトーク.txt", "花子"),
        ("export.txt", "export"),
    ],
)
def test_chat_name_from_the_file_name(file_name: str, chat: str) -> None:
    assert chat_name_from(file_name) == chat


def test_a_file_without_a_title_takes_its_name_from_the_file() -> None:
    text = "2024/01/05(金)\n21:15\tAna\thi\n21:16\tBen\tho\n"
    assert PARSER.sniff(source_of(text.encode()))
    messages, _ = parse(text)
    assert {m.chat for m in messages} == {"Ana"}


@pytest.mark.parametrize(
    ("line", "day"),
    [
        ("2024/01/05(金)", date(2024, 1, 5)),
        ("2024/1/5(Fri)", date(2024, 1, 5)),
        ("2024.01.05 Friday", date(2024, 1, 5)),
        ("2024/01/05 Fri", date(2024, 1, 5)),
        ("2024/01/05（週五）", date(2024, 1, 5)),
        ("2024/1/5周五", date(2024, 1, 5)),
        ("Fri, 01/05/2024", date(2024, 1, 5)),  # month first: the weekday says so
        ("Fri, 05/01/2024", date(2024, 1, 5)),  # day first: 1 May 2024 is a Wednesday
        ("Wed, 05/01/2024", date(2024, 5, 1)),
        ("Fri, 13/01/2024", None),  # 13 Jan 2024 is a Saturday
        ("2024/02/30(金)", None),
        ("2024/01/05 21:15", None),
    ],
)
def test_day_lines(line: str, day: date | None) -> None:
    assert day_of(line) == day


@pytest.mark.parametrize(
    ("time", "ts"),
    [
        ("21:15", "2024-01-05T21:15"),
        ("9:15 PM", "2024-01-05T21:15"),
        ("09:15PM", "2024-01-05T21:15"),
        ("12:05 AM", "2024-01-05T00:05"),
        ("12:05 PM", "2024-01-05T12:05"),
        ("午後9:15", "2024-01-05T21:15"),
        ("午前0:15", "2024-01-05T00:15"),
        ("下午09:15", "2024-01-05T21:15"),
    ],
)
def test_clocks(time: str, ts: str) -> None:
    messages, report = parse(f"{HEAD}{time}\tAna\thi\n")
    assert [m.ts for m in messages] == [ts] and report.unparsed == 0


# --- quoting and kinds ----------------------------------------------------------------------------


def test_quoted_message_is_reassembled() -> None:
    text = f'{HEAD}21:15\tAna\t"one\n""two""\n\nthree"""\n21:16\tBen\tok\n'
    messages, report = parse(text)
    assert [m.text for m in messages] == ['one\n"two"\n\nthree"', "ok"]
    assert report.continuation_lines == 3 and report.unparsed == 0


def test_a_line_after_an_unquoted_message_is_reported() -> None:
    messages, report = parse(f"{HEAD}21:15\tAna\thi\nstray\n")
    assert [m.text for m in messages] == ["hi"]
    assert report.unparsed_lines == [6]


def test_an_unterminated_quote_is_reported_and_the_message_kept_verbatim() -> None:
    messages, report = parse(f'{HEAD}21:15\tAna\t"open\nmore\n21:16\tBen\tok\n"tail\n')
    assert [m.text for m in messages] == ['"open', "ok"]
    assert report.unparsed_lines == [6, 8]


def test_a_lone_opening_quote_is_the_senders_own() -> None:
    messages, report = parse(f'{HEAD}21:15\tAna\t"hmm\n21:16\tBen\tok\n')
    assert [m.text for m in messages] == ['"hmm', "ok"] and report.unparsed == 0


@pytest.mark.parametrize(
    ("line", "kind", "sender", "text"),
    [
        ("Ana\t[Photo]", Kind.MEDIA, "Ana", ""),
        ("Ana\t[Sticker]", Kind.MEDIA, "Ana", ""),
        ("Ana\t[ボイスメッセージ]", Kind.MEDIA, "Ana", ""),
        ("Ana\t[Location]", Kind.LOCATION, "Ana", ""),
        ("Ana\t[Contact]", Kind.CONTACT, "Ana", ""),
        ("Ana\t[Photo] of us", Kind.TEXT, "Ana", "[Photo] of us"),
        ("Ana unsent a message.", Kind.DELETED, "Ana", ""),
        (
            "\tメッセージの送信を取り消しました",
            Kind.SYSTEM,
            None,
            "メッセージの送信を取り消しました",
        ),
        ("You unsent a message.", Kind.SYSTEM, None, "You unsent a message."),
        ("Ana\t☎ Call time 0:42", Kind.CALL, "Ana", "Call time 0:42"),
        ("Ana\t☎ 通話時間 0:42", Kind.CALL, "Ana", "通話時間 0:42"),
        ("Ben joined the group.", Kind.SYSTEM, None, "Ben joined the group."),
        ("Ana\tAna invited Ben.", Kind.SYSTEM, None, "Ana invited Ben."),
        ("Ana\tI joined the group too late", Kind.TEXT, "Ana", "I joined the group too late"),
        ("Ana\t[Album]", Kind.SYSTEM, None, "[Album]"),
        ("\tAna left the group.", Kind.SYSTEM, None, "Ana left the group."),
    ],
)
def test_kinds(line: str, kind: Kind, sender: str | None, text: str) -> None:
    messages, _ = parse(f"{HEAD}21:15\t{line}\n")
    assert [(m.kind, m.sender, m.text) for m in messages] == [(kind, sender, text)]


# --- sniffing and bad input -----------------------------------------------------------------------


def test_whatsapp_and_line_do_not_claim_each_other() -> None:
    line_file = LINE / "[LINE] Chat with Ana.txt"
    wa_file = FIXTURES / "whatsapp" / "WhatsApp Chat with Ana.txt"
    found = find_parser(discover(line_file)[0].source)
    assert found is not None and found.name == "line"
    wa = discover(wa_file)[0].source
    assert not PARSER.sniff(wa)
    found = find_parser(wa)
    assert found is not None and found.name == "whatsapp"


def test_a_message_before_any_day_line_is_reported() -> None:
    messages, report = parse(
        "[LINE] Chat history with Ana\n21:15\tAna\tearly\n2024/01/05(金)\n21:16\tAna\tok\n"
    )
    assert [m.text for m in messages] == ["ok"] and report.unparsed_lines == [2]


def test_binary_data_is_refused() -> None:
    with pytest.raises(InputError, match="binary"):
        parse(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)


def test_bad_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "[LINE] Chat with Ana.txt"
    path.write_bytes(f"{HEAD}21:15\tAna\thi\n".encode() + b"21:16\tAna\t\xff\n")
    with pytest.raises(InputError, match="UTF-8") as e:
        for found in discover(path):
            list(found.parser.parse(found.source, ParseReport()))
    assert e.value.line == 6 and str(path) in str(e.value)


def test_utf16_export_is_read() -> None:
    messages, _ = parse(f"{HEAD}21:15\tAna\thi\n".encode("utf-16"))
    assert [m.text for m in messages] == ["hi"]


def test_no_message_at_all_is_an_error() -> None:
    with pytest.raises(InputError, match="no line could be read"):
        parse("[LINE] Chat history with Ana\nSaved on: 2024/01/07 21:15\n\n")


def test_ingest_a_fixture(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run = cli("ingest", LINE / "[LINE] Chat with Ana.txt", "-w", ws)
    assert run.code == 0, run.err
    run = cli("messages", "-w", ws, "--json")
    assert run.code == 0, run.err
    rows = [json.loads(line) for line in run.out.splitlines()]
    assert len(rows) == 14
    assert {r["sender"] for r in rows} == {"Ana", "Ben"}
