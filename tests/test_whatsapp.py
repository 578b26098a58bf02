"""WhatsApp exports: golden fixtures, then the pieces: chat names, date inference, clocks, broken
lines, bidi marks, markers per language, iOS system lines, sniffing and bad input.

Run: .venv/bin/pytest tests/test_whatsapp.py
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from datetime import datetime
from functools import partial
from pathlib import Path

import pytest

from chatclone.errors import InputError
from chatclone.messages import Kind, Message
from chatclone.parsers.base import ParseOptions, ParseReport, Source
from chatclone.parsers.sources import discover
from chatclone.parsers.whatsapp import WhatsAppParser, chat_name_from
from chatclone.parsers.whatsapp.dates import Converter, WhatsAppDateFormat

from golden import FIXTURES, check_golden, fixtures
from helpers import cli

PARSER = WhatsAppParser()
WA = FIXTURES / "whatsapp"
LRM, RLM, NNBSP, NBSP = "\u200e", "\u200f", "\u202f", "\u00a0"


@pytest.mark.parametrize("fixture", fixtures("whatsapp"), ids=lambda p: p.name)
def test_golden(fixture: Path) -> None:
    check_golden(fixture)


# --- helpers -------------------------------------------------------------------------------------


def source_of(data: bytes, name: str = "WhatsApp Chat with Ana.txt") -> Source:
    return Source(name, partial(io.BytesIO, data), len(data), name)


def parse(
    text: str | bytes, name: str = "WhatsApp Chat with Ana.txt"
) -> tuple[list[Message], ParseReport]:
    data = text.encode() if isinstance(text, str) else text
    report = ParseReport()
    return list(PARSER.parse(source_of(data, name), report)), report


def parse_path(path: Path) -> list[tuple[list[Message], ParseReport]]:
    results = []
    for found in discover(path):
        report = ParseReport()
        results.append((list(found.parser.parse(found.source, report)), report))
    return results


def android(*texts: str) -> str:
    """An unambiguous Android export (day-first, thanks to the 13th) with one message per text."""
    lines = [f"13/01/2024, 10:{i:02d} - Ana: {t}" for i, t in enumerate(texts)]
    return "\n".join(lines) + "\n"


def ios(*texts: str) -> str:
    lines = [f"[13/01/2024, 10:{i:02d}:00] Ana: {t}" for i, t in enumerate(texts)]
    return "\n".join(lines) + "\n"


def physical_lines(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


# --- every fixture -------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", fixtures("whatsapp"), ids=lambda p: p.name)
def test_fixture_accounts_for_every_line_and_keeps_text_clean(fixture: Path) -> None:
    for found in discover(fixture):
        assert PARSER.sniff(found.source)
        assert found.parser.name == "whatsapp"
        report = ParseReport()
        messages = list(PARSER.parse(found.source, report))
        with found.source.open() as f:
            raw = f.read()
        text = raw.decode("utf-16") if raw.startswith(b"\xff\xfe") else raw.decode("utf-8-sig")
        assert report.lines == physical_lines(text.encode())
        counted = report.header_lines + report.continuation_lines + report.blank_lines
        assert counted + report.unparsed == report.lines
        assert report.header_lines == len(messages)
        for m in messages:
            datetime.fromisoformat(m.ts)
            assert "\r" not in m.text and "\ufeff" not in m.text
            assert not m.text.startswith((LRM, RLM))
            assert m.sender is None or (m.sender and not m.sender.startswith((LRM, RLM)))
            assert (m.sender is None) == (m.kind is Kind.SYSTEM)
        assert [m.ts for m in messages] == sorted(m.ts for m in messages)


# --- chat names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "chat"),
    [
        ("WhatsApp Chat with Ana.txt", "Ana"),
        ("WhatsApp Chat with Ana.zip", "Ana"),
        ("WhatsApp Chat - Weekend Crew.txt", "Weekend Crew"),
        ("Chat de WhatsApp con Familia.txt", "Familia"),
        ("WhatsApp Chat mit Oma.txt", "Oma"),
        ("Discussion WhatsApp avec Léa.txt", "Léa"),
        ("Conversa do WhatsApp com João.txt", "João"),
        ("Chat WhatsApp con Marco.txt", "Marco"),
        ("WhatsApp-chat met Sanne.txt", "Sanne"),
        ("WhatsApp Chat with Dr. Smith.txt", "Dr. Smith"),
        ("family.txt", "family"),
    ],
)
def test_chat_name_from_file_name(file_name: str, chat: str) -> None:
    assert chat_name_from(file_name) == chat


def test_ios_chat_name_comes_from_the_zip_or_the_folder() -> None:
    ((crew, _),) = parse_path(WA / "WhatsApp Chat - Weekend Crew.zip")
    ((run, _),) = parse_path(WA / "WhatsApp Chat - Lauftreff")
    assert {m.chat for m in crew} == {"Weekend Crew"}
    assert {m.chat for m in run} == {"Lauftreff"}


# --- dates and clocks ----------------------------------------------------------------------------


def test_day_first_is_inferred_from_a_later_line() -> None:
    # The first line alone could be 2 January; the 13th further down settles it for the whole file.
    messages, report = parse("01/02/2024, 10:00 - Ana: a\n13/02/2024, 10:00 - Ana: b\n")
    assert [m.ts for m in messages] == ["2024-02-01T10:00", "2024-02-13T10:00"]
    assert "DMY" in report.notes[0]


def test_month_first_is_inferred_from_a_later_line() -> None:
    messages, report = parse("1/2/24, 10:00 AM - Ana: a\n1/13/24, 10:00 AM - Ana: b\n")
    assert [m.ts for m in messages] == ["2024-01-02T10:00", "2024-01-13T10:00"]
    assert "MDY" in report.notes[0]


def test_year_first() -> None:
    messages, report = parse("2024-01-02 10:00 - Ana: a\n2024-01-13 10:00 - Ana: b\n")
    assert [m.ts for m in messages] == ["2024-01-02T10:00", "2024-01-13T10:00"]
    assert "YMD" in report.notes[0]


@pytest.mark.parametrize(
    ("dates", "order", "expected"),
    [
        # Day-first runs forward (1 Feb, 5 Feb, 3 Mar); month-first would jump back to 3 March.
        (["01/02/24", "05/02/24", "03/03/24"], "DMY", ["2024-02-01", "2024-02-05", "2024-03-03"]),
        # Month-first runs forward (2 Jan, 1 Feb, 1 Mar); day-first would jump back to 2 January.
        (["01/02/24", "02/01/24", "03/01/24"], "MDY", ["2024-01-02", "2024-02-01", "2024-03-01"]),
    ],
)
def test_ambiguous_dates_are_settled_by_time_order(
    dates: list[str], order: str, expected: list[str]
) -> None:
    messages, report = parse("".join(f"{d}, 10:00 - Ana: hi\n" for d in dates))
    assert [m.ts[:10] for m in messages] == expected
    assert f"dates {order} (every date is ambiguous" in report.notes[0]


def test_ambiguous_either_way_assumes_day_first() -> None:
    fmt = WhatsAppDateFormat()
    fmt.observe("03/04/24", None)
    assert fmt.decide() == "DMY"
    assert "assumed day-first" in fmt.reason


@pytest.mark.parametrize(
    ("time", "marker", "expected"),
    [
        ("12:00", "AM", "00:00"),
        ("12:59", "am", "00:59"),
        ("12:00", "PM", "12:00"),
        ("12:30", "p.m.", "12:30"),
        ("1:05", "PM", "13:05"),
        ("11:59", "PM", "23:59"),
        ("9:15", "AM", "09:15"),
        ("7:05:12", "PM", "19:05:12"),
        ("12:00", f"a.{NBSP}m.", "00:00"),
        ("12:10", f"p.{NBSP}m.", "12:10"),
        ("8:02", "p. m.", "20:02"),
        ("13:00", "PM", None),  # no 13 o'clock on a 12-hour clock
        ("0:30", "AM", None),
        ("9:00", "XM", None),  # an unknown marker is not silently read as 24-hour
        ("24:00", None, None),
        ("10:60", None, None),
    ],
)
def test_twelve_hour_clock(time: str, marker: str | None, expected: str | None) -> None:
    assert Converter("DMY").time(time, marker) == expected


@pytest.mark.parametrize("space", [" ", NNBSP, NBSP])
def test_am_pm_after_any_space_end_to_end(space: str) -> None:
    text = f"1/13/24, 12:05{space}AM - Ana: a\n1/13/24, 12:05{space}PM - Ana: b\n"
    messages, _ = parse(text)
    assert [m.ts for m in messages] == ["2024-01-13T00:05", "2024-01-13T12:05"]
    ios_text = f"[1/13/24, 12:00:05{space}AM] Ana: a\n[1/13/24, 7:05:12{space}PM] Ana: b\n"
    messages, _ = parse(ios_text)
    assert [m.ts for m in messages] == ["2024-01-13T00:00:05", "2024-01-13T19:05:12"]


@pytest.mark.parametrize(
    "header",
    [
        "13/01/2024, 10:00 - ",  # en-GB
        "13.01.24, 10:00 - ",  # de
        "13/01/2024 à 10:00 - ",  # fr
        "13/01/2024 10:00 - ",  # pt-BR
        "13-01-2024 10:00 - ",  # nl
        f"13/1/24, 10:00{NNBSP}a.{NBSP}m. - ",  # es
        "13/1/2024 10:00 a. m. - ",  # es, older: no comma
    ],
)
def test_date_time_separators(header: str) -> None:
    messages, _ = parse(f"{header}Ana: hola\n")
    assert [(m.ts, m.sender, m.text) for m in messages] == [("2024-01-13T10:00", "Ana", "hola")]


# --- broken lines --------------------------------------------------------------------------------


def test_invalid_dates_and_times_are_reported_not_glued() -> None:
    text = (
        "14/01/2024, 09:00 - Ana: one\n"
        "31/02/2024, 09:01 - Ana: the 31st of February\n"
        "a line of that broken message\n"
        "14/01/2024, 25:00 - Ana: hour 25\n"
        "14/01/2024, 09:02 - Ana: two\n"
    )
    messages, report = parse(text)
    assert [(m.text, m.origin_line) for m in messages] == [("one", 1), ("two", 5)]
    assert report.unparsed == 3
    assert report.unparsed_lines == [2, 3, 4]
    assert report.lines == 5 and report.header_lines == 2


def test_broken_ios_header_is_reported() -> None:
    text = "[14/01/2024, 09:00:00] Ana: one\n[14/01/2024, 09:61:00] Ana: x\n[32/01/2024, 9:00:00"
    messages, report = parse(text + "] Ana: y\n[15/01/2024, 09:00:00] Ana: two\n")
    assert [m.text for m in messages] == ["one", "two"]
    assert report.unparsed_lines == [2, 3]


def test_a_date_and_time_inside_a_message_is_text() -> None:
    text = "13/01/2024, 10:00 - Ana: Dates:\n14/03/2024 19:00 rehearsal\n15.03.2024, 20:00 show\n"
    messages, report = parse(text)
    assert [m.text for m in messages] == [
        "Dates:\n14/03/2024 19:00 rehearsal\n15.03.2024, 20:00 show"
    ]
    assert report.unparsed == 0


def test_lines_before_the_first_header_are_reported() -> None:
    messages, report = parse("\nsome preamble\n13/01/2024, 10:00 - Ana: hi\n\n")
    assert [m.text for m in messages] == ["hi"]
    assert report.unparsed_lines == [2]
    assert report.blank_lines == 2  # the first and the trailing one


def test_multi_line_message_keeps_blank_lines_inside_but_not_after() -> None:
    messages, report = parse(android("first\n\n  indented\nlast", "next") + "\n\n")
    assert [m.text for m in messages] == ["first\n\n  indented\nlast", "next"]
    assert report.continuation_lines == 3 and report.blank_lines == 2


def test_exact_repeats_are_kept() -> None:
    messages, _ = parse("13/01/2024, 10:00 - Ana: ok\n13/01/2024, 10:00 - Ana: ok\n")
    assert len(messages) == 2
    assert messages[0].content_hash() == messages[1].content_hash()
    assert [m.origin_line for m in messages] == [1, 2]


# --- bidi marks ----------------------------------------------------------------------------------


def test_marks_before_ios_headers_and_texts() -> None:
    text = (
        f"{LRM}[13/01/2024, 10:00:00] Ana: {LRM}image omitted\n"
        f"[13/01/2024, 10:01:00] Ana: hello {LRM}world\n"
        f"{LRM}continued with a mark\n"
        f"{RLM}[13/01/2024, 10:02:00] Ana: {LRM}This message was deleted.\n"
    )
    messages, report = parse(text)
    assert [(m.kind, m.text) for m in messages] == [
        (Kind.MEDIA, ""),
        (Kind.TEXT, f"hello {LRM}world\n{LRM}continued with a mark"),
        (Kind.DELETED, ""),
    ]
    assert report.unparsed == 0


def test_mark_before_android_header() -> None:
    messages, _ = parse(f"{LRM}13/01/2024, 10:00 - Ana: {LRM}<Media omitted>\n")
    assert [(m.sender, m.kind) for m in messages] == [("Ana", Kind.MEDIA)]


# --- markers per language ------------------------------------------------------------------------

ANDROID_MEDIA = [
    "<Media omitted>",  # en
    "<Multimedia omitido>",  # es
    "<Medien ausgeschlossen>",  # de
    "<Médias omis>",  # fr
    "<Mídia oculta>",  # pt-BR
    "<Media omessi>",  # it
    "<Media weggelaten>",  # nl
]
IOS_MEDIA = [
    "image omitted", "video omitted", "audio omitted", "sticker omitted", "GIF omitted",
    "Contact card omitted",
    "imagen omitida", "Video omitido", "audio omitido",
    "Bild weggelassen", "Video weggelassen", "Kontaktkarte ausgelassen",
    "image absente", "vidéo absente", "audio omis",
    "imagem ocultada", "figurinha omitida", "imagem não revelada",
    "immagine omessa", "video omesso",
    "afbeelding weggelaten", "video weggelaten",
]  # fmt: skip


@pytest.mark.parametrize("marker", ANDROID_MEDIA)
def test_android_media_omitted(marker: str) -> None:
    ((m,), _) = parse(android(marker))
    assert (m.kind, m.text, m.sender) == (Kind.MEDIA, "", "Ana")


@pytest.mark.parametrize("marker", IOS_MEDIA)
def test_ios_media_omitted(marker: str) -> None:
    ((m,), _) = parse(ios(f"{LRM}{marker}"))
    assert (m.kind, m.text, m.sender) == (Kind.MEDIA, "", "Ana")


@pytest.mark.parametrize(
    "line",
    [
        f"report.pdf • 3 pages {LRM}document omitted",
        f"{LRM}report.pdf • {LRM}3 pages {LRM}document omitted",
        f"report.pdf • 3 páginas {LRM}documento omitido",
        f"report.pdf • 3 Seiten {LRM}Dokument weggelassen",
        f"report.pdf • 3 pages {LRM}document manquant",
        f"report.pdf • 3 páginas {LRM}documento não revelado",
        f"report.pdf • 3 pagine {LRM}documento omesso",
        f"report.pdf • 3 pagina's {LRM}document weggelaten",
        f"report.pdf {LRM}document omitted",
    ],
)
def test_ios_document_omitted_keeps_the_file_name(line: str) -> None:
    ((m,), _) = parse(ios(line))
    assert (m.kind, m.text, m.attachment) == (Kind.MEDIA, "", "report.pdf")


@pytest.mark.parametrize(
    "tag", ["attached", "adjunto", "Anhang", "pièce jointe ", "anexado", "anexo", "allegato",
            "bijgevoegd"]
)  # fmt: skip
def test_ios_attached(tag: str) -> None:
    ((m,), _) = parse(ios(f"{LRM}<{tag}: 00000012-PHOTO-2024-01-05-10-00-00.jpg>"))
    assert (m.kind, m.text) == (Kind.MEDIA, "")
    assert m.attachment == "00000012-PHOTO-2024-01-05-10-00-00.jpg"


@pytest.mark.parametrize(
    "suffix",
    ["file attached", "archivo adjunto", "Datei angehängt", "fichier joint", "arquivo anexado",
     "ficheiro anexado", "file allegato", "bestand bijgevoegd"],
)  # fmt: skip
def test_android_file_attached_with_caption(suffix: str) -> None:
    ((m,), _) = parse(android(f"IMG-20240113-WA0001.jpg ({suffix})\nthe caption"))
    assert (m.kind, m.attachment, m.text) == (Kind.MEDIA, "IMG-20240113-WA0001.jpg", "the caption")
    ((m,), _) = parse(android(f"Q1 Budget Review.pdf ({suffix})"))
    assert (m.kind, m.attachment, m.text) == (Kind.MEDIA, "Q1 Budget Review.pdf", "")


def test_android_document_with_page_count() -> None:
    ((m,), _) = parse(android(f"{LRM}Rapport.pdf • {LRM}3 pages {LRM}(fichier joint)"))
    assert (m.kind, m.attachment, m.text) == (Kind.MEDIA, "Rapport.pdf", "")


DELETED = [
    "This message was deleted", "You deleted this message", "This message was deleted.",
    "Se eliminó este mensaje.", "Eliminaste este mensaje.", "Este mensaje fue eliminado",
    "Diese Nachricht wurde gelöscht.", "Du hast diese Nachricht gelöscht.",
    "Ce message a été supprimé.", "Vous avez supprimé ce message.",
    "Mensagem apagada", "Você apagou esta mensagem", "Esta mensagem foi apagada.",
    "Apagou esta mensagem.",
    "Questo messaggio è stato eliminato.", "Hai eliminato questo messaggio.",
    "Dit bericht is verwijderd.", "U hebt dit bericht verwijderd.",
]  # fmt: skip


@pytest.mark.parametrize("marker", DELETED)
def test_deleted(marker: str) -> None:
    ((a,), _) = parse(android(marker))
    ((i,), _) = parse(ios(f"{LRM}{marker}"))
    assert (a.kind, a.text, a.sender) == (i.kind, i.text, i.sender) == (Kind.DELETED, "", "Ana")


EDITED = [
    "<This message was edited>", "<Se editó este mensaje.>", "<Diese Nachricht wurde bearbeitet.>",
    "<Diese Nachricht wurde bearbeitet>", "<Ce message a été modifié>", "<Mensagem editada>",
    "<Questo messaggio è stato modificato>", "<Dit bericht is bewerkt>",
]  # fmt: skip


@pytest.mark.parametrize("marker", EDITED)
def test_edited_marker_is_stripped_and_flagged(marker: str) -> None:
    ((a,), _) = parse(android(f"see you at 7 {marker}"))
    ((i,), _) = parse(ios(f"see you at 7 {LRM}{marker}"))
    ((multi,), _) = parse(android(f"line one\nline two {marker}"))
    assert (
        (a.kind, a.text, a.edited)
        == (i.kind, i.text, i.edited)
        == (Kind.TEXT, "see you at 7", True)
    )
    assert (multi.text, multi.edited) == ("line one\nline two", True)


def test_edited_media_keeps_its_kind() -> None:
    ((m,), _) = parse(android("IMG-1.jpg (file attached)\nnew caption <This message was edited>"))
    assert (m.kind, m.text, m.edited, m.attachment) == (
        Kind.MEDIA,
        "new caption",
        True,
        "IMG-1.jpg",
    )


def test_plain_text_that_mentions_markers_stays_text() -> None:
    texts = ["the <Media omitted> bit was funny", "null pointer", "image omitted?", "POLL: no"]
    messages, _ = parse(android(*texts))
    assert [(m.kind, m.text, m.edited) for m in messages] == [(Kind.TEXT, t, False) for t in texts]


def test_android_view_once_null_is_media_but_ios_null_is_text() -> None:
    ((a,), _) = parse(android("null"))
    ((i,), _) = parse(ios("null"))
    assert (a.kind, a.text) == (Kind.MEDIA, "")
    assert (i.kind, i.text) == (Kind.TEXT, "null")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("location: https://maps.google.com/?q=51.5,-0.12", Kind.LOCATION),
        ("Standort: https://maps.google.com/?q=51.5,-0.12", Kind.LOCATION),
        ("POLL:\nSnacks?\nOPTION: Crisps (2 votes)", Kind.POLL),
        ("ENCUESTA:\n¿Qué día?\nOPCIÓN: Sábado (1 voto)", Kind.POLL),
    ],
)
def test_location_and_poll(text: str, kind: Kind) -> None:
    ((m,), _) = parse(android(text))
    assert (m.kind, m.text) == (kind, text)


@pytest.mark.parametrize(
    "call", ["Missed voice call", "Missed video call", "Llamada perdida", "Verpasster Sprachanruf",
             "Appel vocal manqué", "Ligação de voz perdida", "Chiamata vocale persa",
             "Gemist spraakgesprek"],
)  # fmt: skip
def test_ios_calls(call: str) -> None:
    ((m,), _) = parse(ios(f"{LRM}{call}"))
    assert (m.kind, m.sender, m.text) == (Kind.CALL, "Ana", call)


# --- system lines --------------------------------------------------------------------------------


def test_android_system_lines_have_no_sender() -> None:
    text = (
        '13/01/2024, 10:00 - Ana changed the subject from "a: b" to "c: d"\n'
        "13/01/2024, 10:01 - Marie a créé le groupe « Famille : été »\n"
        "13/01/2024, 10:02 - Katrin hat den Betreff von „Lauf: treff“ zu „Lauftreff“ geändert.\n"
        "13/01/2024, 10:03 - Ben left\n"
        '13/01/2024, 10:04 - Tom "Tommy" Baker: a real message: with a colon\n'
    )
    messages, _ = parse(text)
    assert [m.sender for m in messages] == [None, None, None, None, 'Tom "Tommy" Baker']
    assert messages[0].text == 'Ana changed the subject from "a: b" to "c: d"'
    assert messages[4].text == "a real message: with a colon"


IOS_GROUP = (
    f"[13/01/2024, 10:00:00] Crew: {LRM}Messages and calls are end-to-end encrypted.\n"
    f"{LRM}[13/01/2024, 10:00:01] Crew: {LRM}Priya added Tess\n"
    "[13/01/2024, 10:00:02] Priya: hi\n"
    f"{LRM}[13/01/2024, 10:00:03] Priya: {LRM}image omitted\n"
    f"{LRM}[13/01/2024, 10:00:04] Crew: {LRM}Tess left\n"
)


def test_ios_system_sender_by_chat_name() -> None:
    messages, _ = parse(IOS_GROUP, "WhatsApp Chat - Crew.txt")
    assert [(m.sender, m.kind) for m in messages] == [
        (None, Kind.SYSTEM),
        (None, Kind.SYSTEM),
        ("Priya", Kind.TEXT),
        ("Priya", Kind.MEDIA),
        (None, Kind.SYSTEM),
    ]
    assert messages[1].text == "Priya added Tess"


def test_ios_system_sender_by_survey_when_the_file_name_is_not_the_chat(tmp_path: Path) -> None:
    # The same lines read under an unrelated name: "Crew" is recognised because every one of its
    # lines looks like a system line.
    named, _ = parse(IOS_GROUP, "WhatsApp Chat - Crew.txt")
    unnamed, _ = parse(IOS_GROUP, "_chat.txt")
    assert [(m.sender, m.kind, m.text) for m in unnamed] == [
        (m.sender, m.kind, m.text) for m in named
    ]
    with zipfile.ZipFile(WA / "WhatsApp Chat - Weekend Crew.zip") as z:
        (tmp_path / "export").mkdir()
        (tmp_path / "export" / "_chat.txt").write_bytes(z.read("_chat.txt"))
    ((from_zip, _),) = parse_path(WA / "WhatsApp Chat - Weekend Crew.zip")
    ((from_folder, _),) = parse_path(tmp_path / "export")
    assert {m.chat for m in from_folder} == {"export"}
    assert [(m.sender, m.kind, m.text) for m in from_folder] == [
        (m.sender, m.kind, m.text) for m in from_zip
    ]


def test_ios_one_to_one_contact_is_both_chat_name_and_sender() -> None:
    text = (
        f"[1/13/23, 7:05:12{NNBSP}PM] Dana: {LRM}Messages and calls are end-to-end encrypted.\n"
        f"[1/13/23, 7:06:00{NNBSP}PM] Dana: hi\n"
        f"{LRM}[1/13/23, 7:07:00{NNBSP}PM] Dana: {LRM}image omitted\n"
        f"{LRM}[1/13/23, 7:08:00{NNBSP}PM] Dana: {LRM}Missed voice call\n"
        f"{LRM}[1/13/23, 7:09:00{NNBSP}PM] Dana: {LRM}This message was deleted.\n"
    )
    messages, _ = parse(text, "WhatsApp Chat - Dana.txt")
    assert [(m.sender, m.kind) for m in messages] == [
        (None, Kind.SYSTEM),
        ("Dana", Kind.TEXT),
        ("Dana", Kind.MEDIA),
        ("Dana", Kind.CALL),
        ("Dana", Kind.DELETED),
    ]


# --- encodings -----------------------------------------------------------------------------------

SMALL = "13/01/2024, 10:00 - Ana: hi 😊\r\nsecond line\r\n13/01/2024, 10:01 - Ben: ok\r\n"


@pytest.mark.parametrize(
    "data",
    [
        SMALL.encode(),
        b"\xef\xbb\xbf" + SMALL.encode(),
        SMALL.encode("utf-16"),
        b"\xfe\xff" + SMALL.encode("utf-16-be"),
        SMALL.encode("utf-16-le"),  # no BOM: told apart by where the zero bytes are
        SMALL.encode("utf-16-be"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-bom", "utf-16-be-bom", "utf-16-le", "utf-16-be"],
)
def test_encodings_and_line_endings(data: bytes) -> None:
    assert PARSER.sniff(source_of(data))
    messages, report = parse(data)
    assert [(m.sender, m.text) for m in messages] == [("Ana", "hi 😊\nsecond line"), ("Ben", "ok")]
    assert report.lines == 3


# --- sniffing ------------------------------------------------------------------------------------

TELEGRAM_JSON = (
    b'{\n "name": "Ana",\n "type": "personal_chat",\n "id": 42,\n "messages": [\n  {"id": 1, '
    b'"type": "message", "date": "2024-01-13T10:00:00", "from": "Ana", "text": "13/01/2024, '
    b'10:00 - Ana: hi"}\n ]\n}\n'
)


@pytest.mark.parametrize(
    "data",
    [
        TELEGRAM_JSON,
        b"Shopping list\nmilk\neggs\n",
        b"Meeting notes 13/01/2024, 10:00 - agenda\n",
        bytes(range(256)) * 8,
        b"\x89PNG\r\n\x1a\n" + bytes(64),
        b"",
    ],
    ids=["telegram", "text", "date-not-at-start", "binary", "png", "empty"],
)
def test_sniff_rejects(data: bytes) -> None:
    assert not PARSER.sniff(source_of(data))


# --- bad input -----------------------------------------------------------------------------------


def read_all(path: Path) -> None:
    for found in discover(path):
        list(found.parser.parse(found.source, ParseReport()))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat with Ana.txt"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty") as e:
        read_all(path)
    assert str(path) in str(e.value)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat with Ana.txt"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(InputError) as e:
        read_all(path)
    assert str(path) in str(e.value)
    assert PARSER.sniff(source_of(path.read_bytes())) is False
    with pytest.raises(InputError, match="binary"):
        parse(path.read_bytes())


@pytest.mark.parametrize("bad_line", [2, 1500, 24_000])
def test_undecodable_utf8_names_its_line(tmp_path: Path, bad_line: int) -> None:
    # 30,000 lines (about 1.5 MB) so that the bad byte may sit past the sniffed head and past the
    # first block the reader decodes.
    data = [
        f"13/01/2024, 10:00 - Ana: message {i:05d}, padded out a bit".encode()
        for i in range(30_000)
    ]
    data[bad_line - 1] = data[bad_line - 1][:30] + b"\xff\xfe" + data[bad_line - 1][30:]
    path = tmp_path / "WhatsApp Chat with Ana.txt"
    path.write_bytes(b"\n".join(data) + b"\n")
    with pytest.raises(InputError, match="UTF-8") as e:
        read_all(path)
    assert e.value.line == bad_line
    assert f"{path}:{bad_line}:" in str(e.value)


def test_truncated_zip(tmp_path: Path) -> None:
    data = (WA / "WhatsApp Chat - Weekend Crew.zip").read_bytes()
    path = tmp_path / "WhatsApp Chat - Weekend Crew.zip"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="zip") as e:
        read_all(path)
    assert str(path) in str(e.value)


def test_corrupt_zip_member(tmp_path: Path) -> None:
    data = bytearray((WA / "WhatsApp Chat - Weekend Crew.zip").read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("_chat.txt")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 10 : start + 60] = bytes(50)
    path = tmp_path / "WhatsApp Chat - Weekend Crew.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as e:
        read_all(path)
    assert f"{path}:_chat.txt" in str(e.value)


def test_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat with Nobody.txt"
    with pytest.raises(InputError, match="no such file") as e:
        read_all(path)
    assert str(path) in str(e.value)


def test_no_readable_header(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat with Ana.txt"
    path.write_text("32/01/2024, 10:00 - Ana: x\nmore\n", "utf-8")
    with pytest.raises(InputError, match="no line could be read") as e:
        read_all(path)
    assert e.value.line == 1
    assert str(path) in str(e.value)


# --- invisible marks (issue 12, item 1) -----------------------------------------------------------

BOM = "\ufeff"


@pytest.mark.parametrize(
    "line",
    [
        f"{BOM}13/01/2024, 10:01 - Ben: second export",  # a BOM left mid-file
        f"{BOM}{LRM}13/01/2024, 10:01 - Ben: second export",
        f"13/01/2024,{LRM} 10:01 - Ben: second export",  # a mark inside the header
        f"13/01/2024, 10:01{BOM} - Ben: second export",
    ],
)
def test_a_header_behind_invisible_marks_is_never_glued(line: str) -> None:
    messages, report = parse(f"13/01/2024, 10:00 - Ana: first\n{line}\n")
    assert [(m.sender, m.text, m.origin_line) for m in messages] == [
        ("Ana", "first", 1),
        ("Ben", "second export", 2),
    ]
    assert report.header_lines == 2 and report.continuation_lines == 0


@pytest.mark.parametrize(
    "line",
    [
        f"{BOM}[13/01/2024, 10:01:00] Ben: second export",
        f"[{BOM}13/01/2024, 10:01:00] Ben: second export",  # right after `[`
        f"{LRM}[{BOM}13/01/2024, 10:01:00] Ben: second export",
    ],
)
def test_ios_header_behind_a_bom_is_never_glued(line: str) -> None:
    messages, report = parse(f"[13/01/2024, 10:00:00] Ana: first\n{line}\n")
    assert [(m.sender, m.text) for m in messages] == [("Ana", "first"), ("Ben", "second export")]
    assert report.continuation_lines == 0


def test_a_broken_header_behind_a_bom_is_reported() -> None:
    messages, report = parse(f"13/01/2024, 10:00 - Ana: first\n{BOM}13/01/2024, 25:00 - Ben: x\n")
    assert [m.text for m in messages] == ["first"]
    assert report.unparsed_lines == [2]


# --- ambiguous dates (item 2) ---------------------------------------------------------------------


def test_eleven_consecutive_days_are_read_month_first() -> None:
    # 7/1/17 … 7/11/17 runs forward under both readings; the second number is the one that changes
    # from one day to the next, so it is the day.
    text = "".join(f"7/{d}/17, 9:00{NNBSP}AM - Ana: day {d}\n" for d in range(1, 12))
    messages, report = parse(text)
    assert [m.ts[:10] for m in messages] == [f"2017-07-{d:02d}" for d in range(1, 12)]
    assert "dates MDY (every date is ambiguous; the second number changes" in report.notes[0]
    assert "(sure)" in report.notes[0]


def test_eleven_consecutive_days_day_first() -> None:
    text = "".join(f"{d:02d}/07/17, 09:00 - Ana: day {d}\n" for d in range(1, 12))
    messages, report = parse(text)
    assert [m.ts[:10] for m in messages] == [f"2017-07-{d:02d}" for d in range(1, 12)]
    assert "dates DMY (every date is ambiguous; the first number changes" in report.notes[0]


@pytest.mark.parametrize(
    ("dates", "ampm", "order", "rule"),
    [
        (["7/1/17"], True, "MDY", "how en-US writes dates (likely)"),
        (["07/01/17"], False, "DMY", "padded numbers are how day-first locales write"),
        (["7/1/17"], False, "DMY", "assumed day-first (a guess)"),
    ],
)
def test_a_single_ambiguous_date_falls_back_to_the_locale_layout(
    dates: list[str], ampm: bool, order: str, rule: str
) -> None:
    fmt = WhatsAppDateFormat()
    for d in dates:
        fmt.observe(d, "PM" if ampm else None)
    assert fmt.decide() == order
    assert rule in fmt.reason


def test_the_users_date_order_wins_and_is_noted() -> None:
    text = "".join(f"7/{d}/17, 9:00{NNBSP}AM - Ana: day {d}\n" for d in range(1, 4))
    report = ParseReport(options=ParseOptions(date_order="DMY"))
    messages = list(PARSER.parse(source_of(text.encode()), report))
    assert [m.ts[:10] for m in messages] == ["2017-01-07", "2017-02-07", "2017-03-07"]
    assert "the order given with --date-order; inferred would have been MDY" in report.notes[0]


def test_date_order_flag_changes_the_stored_dates(tmp_path: Path) -> None:
    export = tmp_path / "WhatsApp Chat with Ana.txt"
    export.write_text("".join(f"7/{d}/17, 09:00 - Ana: day {d}\n" for d in range(1, 4)), "utf-8")

    def stored(*flags: str) -> list[str]:
        ws = tmp_path / f"ws{len(flags)}"
        assert cli("ingest", export, "-w", ws, *flags).code == 0
        run = cli("messages", "-w", ws, "--json")
        assert run.code == 0, run.err
        return [json.loads(line)["ts"][:10] for line in run.out.splitlines()]

    assert stored() == ["2017-07-01", "2017-07-02", "2017-07-03"]
    assert stored("--date-order", "DMY") == ["2017-01-07", "2017-02-07", "2017-03-07"]


# --- layouts and calendars (item 4) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "ts"),
    [
        ("7/1/16, 4:56:55 PM: ", "2016-07-01T16:56:55"),  # iOS before 2017
        ("24/3/14, 13:59:59: ", "2014-03-24T13:59:59"),
        ("09/12/2012 17:03:48: ", "2012-12-09T17:03:48"),
        ("[14:56:01, 3/18/22] ", "2022-03-18T14:56:01"),  # Vietnamese iOS
        ("[3/18/2565 BE, 14:56:01] ", "2022-03-18T14:56:01"),  # Buddhist calendar
        ("[18/3/2565 BE 14:56:01] ", "2022-03-18T14:56:01"),
        ("[3/18/R4, 14:56:01] ", "2022-03-18T14:56:01"),  # Japanese era
        ("[1/18/H30, 14:56:01] ", "2018-01-18T14:56:01"),
        (f"[{RLM}18{RLM}/3{RLM}/2022\u060c 14:56:01] ", "2022-03-18T14:56:01"),  # Arabic iOS
        (f"[١٨{RLM}/٣{RLM}/٢٠٢٢\u060c ٢:٥٦:٠١{NBSP}م] ", "2022-03-18T14:56:01"),
        ("Jan 5, 2014, 9:15 PM - ", "2014-01-05T21:15"),  # Android 2013-2014
        ("5 Jan 2014, 21:15 - ", "2014-01-05T21:15"),
        ("28 Aug 2013 21:15 - ", "2013-08-28T21:15"),
        ("19:23, 28 Aug 2013 - ", "2013-08-28T19:23"),
        ("7:23 PM, 28 Aug 2013 - ", "2013-08-28T19:23"),
    ],
)
def test_layouts_rejected_before(header: str, ts: str) -> None:
    messages, report = parse(f"{header}Ana: hi\n")
    assert [(m.ts, m.sender, m.text) for m in messages] == [(ts, "Ana", "hi")]
    assert report.unparsed == 0


def test_buddhist_years_are_never_stored() -> None:
    messages, report = parse("[18/3/2565, 14:56:01] Ana: hi\n")  # no `BE`, still no year 2565
    assert messages[0].ts == "2022-03-18T14:56:01"
    assert "Buddhist era" in report.notes[0]


def test_dates_without_a_year_follow_the_last_dated_one() -> None:
    text = "31 Dec 2013 23:59 - Ana: soon\n1 Jan 00:01 - Ana: happy new year\n"
    messages, report = parse(text)
    assert [m.ts for m in messages] == ["2013-12-31T23:59", "2014-01-01T00:01"]
    assert "taken as 2014: the year after the last dated message" in report.notes[0]


def test_dates_without_any_year_take_the_files_year(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat with Ana.txt"
    path.write_text("18 Mar 12:14 - Shaggy changed the subject to “The horde”\n", "utf-8")
    stamp = datetime(2013, 6, 1, 12, 0).timestamp()
    os.utime(path, (stamp, stamp))
    ((messages, report),) = parse_path(path)
    assert [(m.ts, m.sender, m.kind) for m in messages] == [("2013-03-18T12:14", None, Kind.SYSTEM)]
    assert "no date names a year" in report.notes[0] and "(a guess)" in report.notes[0]


def test_ios_message_with_an_empty_body_keeps_its_sender() -> None:
    messages, _ = parse("[13/01/2024, 10:00:00] Ana:\n[13/01/2024, 10:01:00] Ana: next\n")
    assert [(m.sender, m.kind, m.text) for m in messages] == [
        ("Ana", Kind.TEXT, ""),
        ("Ana", Kind.TEXT, "next"),
    ]


def test_old_ios_system_lines_have_no_sender() -> None:
    text = f"7/1/16, 4:56:55 PM: {LRM}Sophia created this group\n7/1/16, 5:00:00 PM: Sophia: hi\n"
    messages, _ = parse(text)
    assert [(m.sender, m.kind, m.text) for m in messages] == [
        (None, Kind.SYSTEM, "Sophia created this group"),
        ("Sophia", Kind.TEXT, "hi"),
    ]


# --- errors name the line (item 8) ----------------------------------------------------------------


def test_an_unknown_file_says_what_it_tried_and_what_was_expected(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("\nShopping list\n" + "milk and eggs and bread " * 5 + "\n", "utf-8")
    with pytest.raises(InputError) as e:
        read_all(path)
    message = str(e.value)
    assert e.value.line == 2
    assert "'Shopping list'" in message and "'milk and eggs and bread milk and eggs a…'" in message
    assert "`12/31/24, 9:15 PM - Name: text`" in message and "result.json" in message
