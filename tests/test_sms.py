"""SMS Backup & Restore XML: golden files, the mapping, surrogate references, bad input, the CLI."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from chatclone.errors import InputError
from chatclone.messages import Kind, Message
from chatclone.parsers import find_parser
from chatclone.parsers.base import ParseOptions, ParseReport, Source
from chatclone.parsers.sms import SmsBackupParser, _SurrogateFixer

from golden import FIXTURES, check_fixture, fixtures
from helpers import cli

PARSER = SmsBackupParser()
SMS = FIXTURES / "sms"
GOLDEN_ZONE = "Europe/Berlin"
GOLDEN_ERRORS = {
    "malformed.xml": "malformed.xml:4: not valid XML: not well-formed (invalid token) at column 87",
    "all_records_fail.xml": "all_records_fail.xml: none of its 2 record(s) could be read; "
    "the first, line 3: no readable `date`",
}
HEAD = b"<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count=\"1\">\n"


@pytest.mark.parametrize("fixture", fixtures("sms"), ids=lambda p: p.name)
def test_golden(fixture: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone(GOLDEN_ZONE)
    check_fixture(fixture, GOLDEN_ERRORS)


# --- helpers -----------------------------------------------------------------------------------


def source_of(data: bytes, hint: str = "sms-20240302.xml") -> Source:
    return Source(f"export/{hint}", partial(io.BytesIO, data), len(data), hint)


def backup(*records: str) -> bytes:
    return HEAD + "\n".join(records).encode() + b"\n</smses>\n"


def sms(body: str = "hi", type: str = "1", **extra: str) -> str:
    fields = {"address": "+4915123456789", "date": "1704448800000", "type": type, "body": body}
    fields.setdefault("contact_name", "Alice")
    fields.update(extra)
    return "<sms " + " ".join(f'{k}="{v}"' for k, v in fields.items()) + " />"


def parse(data: bytes, report: ParseReport | None = None, zone: str = "UTC") -> list[Message]:
    report = report or ParseReport(options=ParseOptions(timezone=zone))
    return list(PARSER.parse(source_of(data), report))


# --- the mapping ---------------------------------------------------------------------------------


def test_a_received_and_a_sent_sms() -> None:
    report = ParseReport(options=ParseOptions(timezone="Asia/Tokyo"))
    got, mine = parse(backup(sms("a &amp; b&#10;c"), sms("yo", "2", address="+49 151 2345 6789")),
                      report)  # fmt: skip
    assert (got.chat, got.sender, got.kind, got.text) == ("Alice", "Alice", Kind.TEXT, "a & b\nc")
    assert (got.ts, got.source, got.origin_line) == ("2024-01-05T19:00:00", "sms", 3)
    assert got.chat_id == mine.chat_id and got.chat_id.startswith("sms:")  # one number, two forms
    assert (mine.sender, report.owner) == ("Me", ("Me", "sms:me"))
    assert any('from "Me"' in n for n in report.notes)


def test_no_sent_message_leaves_the_owner_to_inference() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    parse(backup(sms()), report)
    assert report.owner is None and any("inference" in n for n in report.notes)


def test_unknown_contacts_are_named_by_their_number() -> None:
    (m,) = parse(backup(sms(contact_name="(Unknown)", address="0170 9876543")))
    assert (m.chat, m.sender) == ("0170 9876543", "0170 9876543")


def test_unsent_messages_are_skipped_and_counted() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    records = [sms("d", "3"), sms("o", "4"), sms("f", "5"), sms("q", "6"), sms("kept")]
    assert [m.text for m in parse(backup(*records), report)] == ["kept"]
    assert "4 unsent message(s) skipped (1 draft, 1 failed, 1 outbox, 1 queued)" in report.notes


def test_mms_parts() -> None:
    mms = (
        '<mms date="1704448800000" msg_box="1" address="+4915123456789" contact_name="Alice">'
        '<parts><part ct="application/smil" text="&lt;smil/&gt;" />'
        '<part ct="audio/amr" name="null" cl="voice.amr" text="null" data="AAAA" />'
        '<part ct="text/plain" text="listen" /></parts>'
        '<addrs><addr address="+4915123456789" type="137" /></addrs></mms>'
    )
    (m,) = parse(backup(mms))
    assert (m.kind, m.text, m.attachment, m.sender) == (Kind.MEDIA, "listen", "voice.amr", "Alice")


def test_mms_dates_in_seconds_are_read_too() -> None:
    mms = (
        '<mms date="1704448800" msg_box="2" address="+4915123456789">'
        '<parts><part ct="text/plain" text="x" /></parts></mms>'
    )
    assert parse(backup(mms))[0].ts == "2024-01-05T10:00:00"


# --- surrogate-pair references -----------------------------------------------------------------


def test_surrogate_pairs_are_read_wherever_a_block_ends() -> None:
    data = b"a &#55357;&#56832;&#xD83D;&#xDE00; &#55357; b &amp; &#233;" * 3
    for size in range(1, 40):
        fixer = _SurrogateFixer()
        blocks = [data[i : i + size] for i in range(0, len(data), size)]
        out = b"".join(fixer.feed(b) for b in blocks) + fixer.feed(b"", final=True)
        assert out == b"a &#x1F600;&#x1F600; &#xFFFD; b &amp; &#233;" * 3, size
        assert (fixer.pairs, fixer.lone, fixer.first_lone) == (6, 3, 1)


def test_a_backup_read_in_small_blocks_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (SMS / "one_to_one.xml").read_bytes()
    whole = [(m.text, m.origin_line) for m in parse(data)]
    monkeypatch.setattr("chatclone.parsers.sms.TEXT_BLOCK", 7)
    assert [(m.text, m.origin_line) for m in parse(data)] == whole
    assert any("😀" in text for text, _ in whole)


# --- sniffing ----------------------------------------------------------------------------------


def test_sniff_accepts_the_fixtures() -> None:
    for path in sorted(SMS.glob("*.xml")):
        source = source_of(path.read_bytes())
        parser = find_parser(source)
        assert parser is not None and parser.name == "sms", path.name
    assert PARSER.sniff(source_of(b'\xef\xbb\xbf<smses count="0"/>'))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"12/31/23, 10:00 PM - Alice: hello\n",
        b'<?xml version="1.0"?>\n<calls count="1"><call number="1" /></calls>',
        b"<smsesx/>",
        b'{"smses": []}',
    ],
)
def test_sniff_rejects_other_files(data: bytes) -> None:
    assert not PARSER.sniff(source_of(data))


# --- bad input ---------------------------------------------------------------------------------


def test_bad_records_are_counted_by_line_and_the_rest_kept() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    records = [sms("a"), sms(date="soon"), sms(type="7"), sms(address=""), sms("b")]
    assert [m.text for m in parse(backup(*records), report)] == ["a", "b"]
    assert (report.unparsed, report.unparsed_lines, report.unit) == (3, [4, 5, 6], "line")


def test_malformed_xml_names_its_line() -> None:
    with pytest.raises(InputError) as caught:
        parse(backup(sms(), sms("x < y")))
    assert caught.value.line == 4 and caught.value.problem.startswith("not valid XML")
    with pytest.raises(InputError) as caught:
        parse(HEAD + sms().encode())  # cut off
    assert caught.value.line == 3 and "no element found" in caught.value.problem


def test_another_root_is_an_error() -> None:
    with pytest.raises(InputError, match="not <smses>"):
        parse(b'<calls count="0"></calls>')


# --- the CLI -----------------------------------------------------------------------------------


def test_ingest_and_stats(tmp_path: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone(GOLDEN_ZONE)
    ws = tmp_path / "ws"
    run = cli("ingest", SMS / "one_to_one.xml", SMS / "mms.xml", "-w", ws, "--json")
    assert run.code == 0, run.err
    data = cli("stats", "-w", ws, "--json").json()
    assert data["kinds"]["media"] == 2 and data["kinds"]["contact"] == 1
    assert data["senders"]["Me"] == 2 + 2
    messages = cli("messages", "-w", ws, "--json", "--chat", "Alice")
    first = json.loads(messages.out.splitlines()[0])
    assert (first["ts"], first["sender"]) == ("2024-03-01T19:00:05", "Alice")
