"""The WhatsApp parser reads blocks of lines with one regular expression per block (`Survey.read`,
`_Reader.read`); these tests hold it to the line-by-line reading it replaced, kept here as the
reference, on every fixture and on generated files full of the lines that are hard to classify
(headers with invisible marks, broken headers, text that starts like a date or a month).

Run: .venv/bin/pytest tests/test_whatsapp_blocks.py
"""

from __future__ import annotations

import io
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatclone.parsers import base
from chatclone.parsers.base import ParseReport, Source, iter_text_blocks, iter_text_lines
from chatclone.parsers.sources import discover
from chatclone.parsers.whatsapp import WhatsAppParser
from chatclone.parsers.whatsapp.dates import Converter
from chatclone.parsers.whatsapp.layouts import ANDROID, DIGITS, INVISIBLE, LAYOUTS, match_header
from chatclone.parsers.whatsapp.parser import _Reader
from chatclone.parsers.whatsapp.survey import (
    _MONTH_STARTS,
    PLAIN_ANDROID,
    Survey,
    _survey_ios_sender,
)

FIXTURES = Path(__file__).parent / "fixtures" / "whatsapp"
PARSER = WhatsAppParser()
LRM, RLM, BOM = "\u200e", "\u200f", "\ufeff"


def reference_survey(lines: list[str]) -> Survey:
    """The survey as it was: every line looked at in Python, in file order."""
    survey = Survey()
    android = survey.formats["android"]
    for line in lines:
        if line[:1] in DIGITS:
            m = ANDROID.header.match(line)
            if m is not None:
                android.observe(m["date"], m["ampm"])
                continue
        elif line[:1] not in "[" + INVISIBLE and line[:3].casefold() not in _MONTH_STARTS:
            continue
        header = match_header(line)
        if header is not None:
            survey.formats[header.layout.name].observe(header.date, header.ampm)
            if header.layout.chat_as_sender:
                _survey_ios_sender(survey.ios_senders, header.rest)
    return survey


def block_survey(source: Source) -> Survey:
    survey = Survey()
    for block in iter_text_blocks(source, "utf-8"):
        survey.read(block)
    survey.finish()
    return survey


def assert_same_survey(got: Survey, want: Survey) -> None:
    assert got.ios_senders == want.ios_senders
    for layout in LAYOUTS:
        assert got.formats[layout.name] == want.formats[layout.name], layout.name
    assert got.layout == want.layout


def reader_for(source: Source, survey: Survey) -> _Reader:
    """A reader set up from `survey` as `WhatsAppParser.parse` sets it up."""
    layout = survey.layout
    fmt = survey.formats[layout.name]
    fmt.decide()
    reader = _Reader(source, ParseReport(), layout, Converter(fmt.order), "Zed")
    reader.system_senders = survey.system_senders() | {"Zed"}
    if layout is ANDROID and survey.unplain_android == 0:
        reader.headers = PLAIN_ANDROID
    return reader


def reference_read(source: Source, survey: Survey) -> tuple[list[tuple[Any, ...]], ParseReport]:
    """The reader as it was: every line through the per-line rules (`_Reader._lines`)."""
    reader = reader_for(source, survey)
    text = "".join(line + "\n" for line in iter_text_lines(source, "utf-8"))
    rows = list(reader._lines(text))
    reader.report.lines += reader.lineno
    if reader.current is not None:
        rows.append(reader._row(*reader.current))
    return rows, reader.report


def block_read(source: Source, survey: Survey) -> tuple[list[tuple[Any, ...]], ParseReport]:
    reader = reader_for(source, survey)
    return list(reader.rows(iter_text_blocks(source, "utf-8"))), reader.report


def source_of(text: str) -> Source:
    data = text.encode()
    return Source("WhatsApp Chat with Zed.txt", partial(io.BytesIO, data), len(data), "Zed")


def text_fixtures() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("*.txt") if p.is_file())


@pytest.mark.parametrize("path", text_fixtures(), ids=lambda p: p.name)
@pytest.mark.parametrize("block", [64, 1 << 20])
def test_fixtures_read_as_line_by_line(
    path: Path, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every fixture, in small blocks (cut everywhere) and in one: the same survey and the same
    messages and counts as the line-by-line reading."""
    monkeypatch.setattr(base, "TEXT_BLOCK", block)
    (found,) = discover(path)
    source = found.source
    if base.sniff_encoding(source.head()) != "utf-8":
        pytest.skip("not UTF-8")
    lines = list(iter_text_lines(source, "utf-8"))
    survey = block_survey(source)
    assert_same_survey(survey, reference_survey(lines))
    if survey.formats[survey.layout.name].headers == 0:
        return
    got, got_report = block_read(source, survey)
    want, want_report = reference_read(source, reference_survey(lines))
    assert got == want
    assert got_report == want_report


# Lines that are hard to classify, in every position a file can put them.
_LINES = [
    "14/03/2024, 19:05 - Ana: hi",
    "15/03/2024, 08:00 - Ben: <Media omitted>",
    "3/4/24, 7:05 p. m. - Ana: hola",
    "3/14/24, 7:05 PM - Ana: twelve-hour",
    "3/14/24, 11:59\u202fam - Ben: with a narrow space",
    "3/14/24, 7:05 PMX - Ana: not a known marker",
    "14.03.24, 19:05 - Ana: dots",
    "2024-03-14, 19:05 - Ana: year first",
    "14/03/2024, 19:05:07 - Ana: seconds",
    "13/01/2024, 10:00 - Ana created group “x”",
    f"{LRM}14/03/2024, 19:06 - Ana: marked at the start",
    f"14/03/2024,{LRM} 19:07 - Ben: marked inside",
    f"{BOM}16/03/2024, 09:00 - Ana: a BOM mid-file",
    "[14/03/2024, 19:05:01] Ana: ios",
    f"{LRM}[14/03/2024, 19:05:02] Zed: {LRM}Ana added Ben",
    "[14/03/2024, 19:05:03] Ben: ‎image omitted",
    "[19:05:04, 3/14/24] Thanh: time first",
    "7/1/16, 4:56:55 PM: Ana: legacy ios",
    "Jan 5, 2014, 9:15 PM - Ana: month names",
    "5 Jan 2014, 21:15 - Ben: day first month names",
    "19:23, 28 Aug 2013 - Ana: time first month names",
    "14/03/2024, 25:99 - Ana: a broken time",
    "14/03/2024 19:05 - Ana: no comma",
    "14/03/2024, 19:05 -",
    "14/03/2024 19:00 rehearsal",
    "10 minutes late",
    "March is coming",
    "dec 12 then",
    "Décembre",
    "[not a header]",
    "plain text line",
    "",
    "   ",
    f"{RLM}١٤‏/٣‏/٢٠٢٤، ١٩:٠٥ - أنا: مرحبا",
    "١٤/٣/٢٠٢٤ text in arabic digits",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(_LINES), min_size=1, max_size=40),
    st.sampled_from([16, 48, 1 << 20]),
    st.booleans(),
)
def test_generated_files_read_as_line_by_line(
    lines: list[str], block: int, final_newline: bool
) -> None:
    text = "\n".join(lines) + ("\n" if final_newline else "")
    old, base.TEXT_BLOCK = base.TEXT_BLOCK, block
    try:
        source = source_of(text)
        all_lines = list(iter_text_lines(source, "utf-8"))
        survey = block_survey(source)
        assert_same_survey(survey, reference_survey(all_lines))
        if survey.formats[survey.layout.name].headers == 0:
            return
        assert block_read(source, survey) == reference_read(source, reference_survey(all_lines))
    finally:
        base.TEXT_BLOCK = old


def test_blocks_are_the_lines() -> None:
    for text in ["a\nb\n", "a\nb", "a\r\nb\r\n", "a\n\r", "", "\n", "a\n\nb\n\n"]:
        source = source_of(text)
        lines = []
        for block in iter_text_blocks(source, "utf-8"):
            lines += block.split("\n")
            if block.endswith("\n"):
                lines.pop()
        assert lines == list(iter_text_lines(source, "utf-8")), repr(text)
