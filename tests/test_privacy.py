"""Privacy: each detector on what it must find and on the look-alikes it must leave alone, the
checksums, consistent replacements, the mapping file, and a quality floor on the labelled set."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from chatclone.errors import WorkspaceError
from chatclone.privacy.detect import PII_TYPES, Span, find_pii
from chatclone.privacy.patterns import iban_ok, luhn_ok
from chatclone.privacy.pseudonyms import PSEUDONYMS, Pseudonymizer, load_mapping, save_mapping

ROOT = Path(__file__).resolve().parent.parent
LABELLED = Path(__file__).parent / "fixtures" / "privacy" / "labelled.jsonl"


def found(text: str, names: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return [(s.type, s.value) for s in find_pii(text, names)]


def only(kind: str, value: str) -> list[tuple[str, str]]:
    return [(kind, value)]


# --- detectors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("mail me at dan.walker88@example.com pls", "dan.walker88@example.com"),
        ("it's SAM_OK@Example.ORG.", "SAM_OK@Example.ORG"),
        ("jess+work@mail.example.co.uk, thanks", "jess+work@mail.example.co.uk"),
        ("schreib an lisa.m@example.de!", "lisa.m@example.de"),
    ],
)
def test_email(text: str, value: str) -> None:
    assert found(text) == only("email", value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (
            "pics: https://photos.example.com/album/8fj2K?share=1 😍",
            "https://photos.example.com/album/8fj2K?share=1",
        ),
        ("see https://example.com/path?a=1).", "https://example.com/path?a=1"),
        ("(https://en.example.org/wiki/Foo_(bar))", "https://en.example.org/wiki/Foo_(bar)"),
        (
            "check www.example.org/recipes/banana-bread, so good",
            "www.example.org/recipes/banana-bread",
        ),
        ("form is bit.ly/3xYzAbC — fill it", "bit.ly/3xYzAbC"),
        ("follow instagram.com/lucia_fdz!!", "instagram.com/lucia_fdz"),
        ("my site janedoe.com.", "janedoe.com"),
    ],
)
def test_url(text: str, value: str) -> None:
    assert found(text) == only("url", value)


@pytest.mark.parametrize(
    "text",
    ["and/or whatever", "open report.pdf", "v2.0/docs is old", "e.g. this", "ok.so then", "24/7"],
)
def test_url_look_alikes(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("new number +44 7700 900123 📱", "+44 7700 900123"),  # UK
        ("text me on 07700 900456 later", "07700 900456"),
        ("office (212) 555-0143 ext 12", "(212) 555-0143"),  # US
        ("front desk 1-800-555-0199", "1-800-555-0199"),
        ("her number 212.555.0198", "212.555.0198"),
        ("text +1 (646) 555-0127", "+1 (646) 555-0127"),
        ("Call me: 555-0142 after 6", "555-0142"),
        ("Handy 0151 23456789", "0151 23456789"),  # DE
        ("Büro 030/1234567, bis 17 Uhr", "030/1234567"),
        ("Nummer +49 (0)171 1234567, meld dich", "+49 (0)171 1234567"),
        ("mon num 06 12 34 56 78 😉", "06 12 34 56 78"),  # FR
        ("le fixe: 01.23.45.67.89", "01.23.45.67.89"),
        ("appelle +33 6 12 34 56 78", "+33 6 12 34 56 78"),
        ("mi número es 612 345 678", "612 345 678"),  # ES
        ("el fijo 91 123 45 67", "91 123 45 67"),
        ("llámame al 0034 612 345 678", "0034 612 345 678"),
        ("il mio numero è 333 123 4567", "333 123 4567"),  # IT
        ("chiamami al +39 347 1234567", "+39 347 1234567"),
        ("fisso 06 1234 5678", "06 1234 5678"),
        ("mijn nummer is 06-12345678", "06-12345678"),  # NL
        ("vast: 020 123 4567", "020 123 4567"),
        ("o telemóvel é 912 345 678", "912 345 678"),  # PT
        ("me liga (11) 91234-5678", "(11) 91234-5678"),  # BR
        ("meu cel: 11 99999-8888", "11 99999-8888"),
        ("WhatsApp: +55 21 99876-5432", "+55 21 99876-5432"),
    ],
)
def test_phone(text: str, value: str) -> None:
    assert found(text) == only("phone", value)


def test_phone_after_other_numbers_and_several_in_a_row() -> None:
    assert found("at 12 0612345678") == only("phone", "0612345678")
    assert found("06 12 34 56 78 / 06.98.76.54.32") == [
        ("phone", "06 12 34 56 78"),
        ("phone", "06.98.76.54.32"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "on 12/03/2024 at 10:30",
        "vom 12.03.2024 bis 2024-03-19",
        "it cost $1,299.99 and 3,50 €",
        "1.299,00 € inkl. MwSt",
        "in 2024, maybe 2025",
        "order #4839201 arrives",
        "pedido 102938475 llega el jueves",
        "Bestellnummer 302-8472619-1234567",
        "my order number is 0612345678",
        "flight LH 1234 at 09:15, IB3456",
        "we won 3-2, then 2:1",
        "iOS 17.4.1 and version 10.0.19045.2965",
        "router at 192.168.1.1",
        "the city has 1 250 000 people, 125 000 000 in total",
        "15% off, 12,5 % later",
        "meeting id 834 5521 9083",
        "ISBN 978-3-16-148410-0",
        "Lotto: 03 11 19 27 38 45",
        "CPF 123.456.789-09",
        "4111 1111 1111 1112",  # a card-shaped number is no phone number
    ],
)
def test_phone_look_alikes(text: str) -> None:
    assert [k for k, _ in found(text) if k == "phone"] == []


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert luhn_ok("378282246310005")
    assert not luhn_ok("4111111111111112")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("card 4111 1111 1111 1111 exp 12/26", "4111 1111 1111 1111"),
        ("5555-5555-5555-4444", "5555-5555-5555-4444"),
        ("4012888888881881.", "4012888888881881"),
        ("amex 3782 822463 10005", "3782 822463 10005"),
    ],
)
def test_card(text: str, value: str) -> None:
    assert found(text) == only("card", value)


@pytest.mark.parametrize(
    "text", ["4111 1111 1111 1112", "0000 0000 0000 0000", "1234 5678 9012 3456", "4111 1111 111"]
)
def test_card_look_alikes(text: str) -> None:
    assert [k for k, _ in found(text) if k == "card"] == []


def test_iban_checksum() -> None:
    assert iban_ok("DE89370400440532013000")
    assert iban_ok("GB82 WEST 1234 5698 7654 32")
    assert not iban_ok("DE89370400440532013001")  # mod 97
    assert not iban_ok("DE8937040044053201300")  # Germany's length is 22
    assert not iban_ok("XX89370400440532013000")  # no such country


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("rent to DE89 3704 0044 0532 0130 00 ref JUNE", "DE89 3704 0044 0532 0130 00"),
        ("GB82WEST12345698765432, thanks", "GB82WEST12345698765432"),
        ("IBAN NL91 ABNA 0417 1643 00 BIC ABNANL2A", "NL91 ABNA 0417 1643 00"),
        ("RIB : FR76 3000 6000 0112 3456 7890 189", "FR76 3000 6000 0112 3456 7890 189"),
        ("nl91abna0417164300", "nl91abna0417164300"),
    ],
)
def test_iban(text: str, value: str) -> None:
    assert found(text) == only("iban", value)


def test_iban_look_alikes() -> None:
    assert found("IBAN: DE89 3704 0044 0532 0130 01 – falsch") == []
    assert found("BTW-nummer NL123456789B01") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("meet me at 221B Baker Street at 7?", "221B Baker Street"),
        ("vivo en Calle Mayor 5, 28013 Madrid", "Calle Mayor 5, 28013 Madrid"),
        ("Ich wohne in der Hauptstraße 12 🏠", "Hauptstraße 12"),
        ("j'habite au 12 rue de la Paix, 75002 Paris", "12 rue de la Paix, 75002 Paris"),
        ("moro na Rua Augusta 100, Lisboa", "Rua Augusta 100, Lisboa"),
        ("abito in Via Roma 10 e poi", "Via Roma 10"),
        ("ik woon op Kerkstraat 3, 1012 AB Amsterdam", "Kerkstraat 3, 1012 AB Amsterdam"),
        ("Paket an Berliner Straße 5", "Berliner Straße 5"),
        ("la dirección es C/ Alcalá 23, 3º B, el timbre", "C/ Alcalá 23, 3º B"),
        (
            "shipping to 1600 Pennsylvania Ave, Washington, DC 20500 jk",
            "1600 Pennsylvania Ave, Washington, DC 20500",
        ),
        (
            "flat is 10 Downing Street, London SW1A 2AA (i wish)",
            "10 Downing Street, London SW1A 2AA",
        ),
        ("mine's 55 oak st, apt 4", "55 oak st"),
        ("sono in via dei Mille 7", "via dei Mille 7"),
    ],
)
def test_address(text: str, value: str) -> None:
    assert found(text) == only("address", value)


@pytest.mark.parametrize(
    "text",
    [
        "see you on Main Street, by the bakery",
        "Die Hauptstraße ist gesperrt",
        "quedamos en la Plaza Mayor a las 8?",
        "ci vediamo in piazza alle 9?",
        "Parkplatz 3 ist frei",
        "ho visto 3 persone in Via Roma",
        "wir waren 3 Stunden in der Hauptstraße 5 Minuten entfernt",
        "ik fiets 10 km langs de Kerkstraat",
        "I walked 5 miles down the road",
        "we saw 2 dogs on the street",
    ],
)
def test_address_look_alikes(text: str) -> None:
    assert found(text) == []


def test_names_only_when_given() -> None:
    text = "Jordan said Jordan Lee would come with Mum"
    assert found(text) == []
    assert found(text, ("Jordan Lee", "Mum")) == [
        ("name", "Jordan"),
        ("name", "Jordan Lee"),
        ("name", "Mum"),
    ]


def test_names_are_whole_words_and_case_sensitive() -> None:
    names = ("Rose Miller", "Al Green")
    assert found("the rose bushes, Roses and ROSE", names) == []
    assert found("Rose's car", names) == [("name", "Rose")]
    assert found("Al said Al Green is here", names) == [("name", "Al Green")]  # "Al" too short


def test_overlaps_keep_the_longest() -> None:
    assert found("mail jordan@example.com", ("jordan",)) == only("email", "jordan@example.com")
    assert found("https://example.com/u/0612345678") == only(
        "url", "https://example.com/u/0612345678"
    )
    assert found("Jordan Street 5", ("Jordan",)) == [("name", "Jordan")]  # no English address
    assert found("at 5 Jordan Street", ("Jordan",)) == only("address", "5 Jordan Street")


@pytest.mark.parametrize(
    "text", ["1 " * 3000, "12 " * 3000, "1234-" * 2000, "(1) " * 3000, "Calle " + "Abc " * 3000]
)
def test_long_runs_take_linear_time(text: str) -> None:
    start = time.perf_counter()
    find_pii(text, ("Jordan Lee",))
    assert time.perf_counter() - start < 3  # a cubic scan took minutes on these


def test_spans_point_into_the_text() -> None:
    text = "call 06 12 34 56 78 or mail a@example.com"
    for span in find_pii(text):
        assert isinstance(span, Span)
        assert text[span.start : span.end] == span.value


# --- replacements --------------------------------------------------------------------------


def test_same_value_same_placeholder_across_spellings() -> None:
    p = Pseudonymizer({})
    first = p.clean("call +44 7700 900123 or mail Dan@Example.com")
    again = p.clean("did you save 07700 900123? dan@example.com works")
    assert first == "call <phone 1> or mail <email 1>"
    assert again == "did you save <phone 1>? <email 1> works"
    assert p.clean("card 4111-1111-1111-1111") == p.clean("card 4111 1111 1111 1111")


def test_different_values_get_different_placeholders() -> None:
    p = Pseudonymizer({})
    text = p.clean("07700 900123, 07700 900456, https://a.example.com/x, https://b.example.com/y")
    assert text == "<phone 1>, <phone 2>, <url 1>, <url 2>"


def test_counts_and_mapping_in_place() -> None:
    mapping: dict[str, dict[str, str]] = {}
    p = Pseudonymizer(mapping)
    p.clean("06 12 34 56 78 twice: 0612345678, and DE89 3704 0044 0532 0130 00")
    assert p.counts == {"phone": 2, "iban": 1}
    assert mapping == {
        "phone": {"612345678": "<phone 1>"},
        "iban": {"DE89370400440532013000": "<iban 1>"},
    }


def test_names_left_alone_without_names() -> None:
    p = Pseudonymizer({})
    assert p.clean("Jordan is here") == "Jordan is here"
    assert "name" not in p.counts


def test_name_pseudonyms() -> None:
    names = ["Jordan Lee", "Mum", "Casey Smith"]
    p = Pseudonymizer({}, names)
    out = p.clean("Jordan Lee said Jordan and Mum are coming, Casey too")
    full, first, mum, casey = (
        p.mapping["name"][k] for k in ("Jordan Lee", "Jordan", "Mum", "Casey")
    )
    assert out == f"{full} said {first} and {mum} are coming, {casey} too"
    assert full.split()[0] == first and len(full.split()) == 2  # a surname slot, same first name
    assert len(mum.split()) == 1
    assert len({first, mum, casey}) == 3
    assert {first, mum, casey} <= set(PSEUDONYMS) - {"Casey"}  # never a real name
    assert p.counts["name"] == 4
    # Deterministic: the same messages in the same order give the same pseudonyms.
    again = Pseudonymizer({}, names)
    assert again.clean("Jordan Lee said Jordan and Mum are coming, Casey too") == out


def test_mapping_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ws" / "privacy" / "mapping.json"
    assert load_mapping(path) == {}
    p = Pseudonymizer(load_mapping(path), ["Jordan Lee"])
    before = p.clean("Jordan Lee: 07700 900123, 07700 900456, 12 rue de la Paix")
    save_mapping(path, p.mapping)
    assert [f.name for f in path.parent.iterdir()] == ["mapping.json"]  # no temporary file left
    assert json.loads(path.read_text("utf-8")) == p.mapping
    reloaded = Pseudonymizer(load_mapping(path), ["Jordan Lee"])
    assert reloaded.clean("07700 900456 and Jordan Lee") == "<phone 2> and " + before.split(":")[0]
    assert reloaded.clean("new: 07700 900789") == "new: <phone 3>"


def test_load_mapping_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "mapping.json"
    bad.write_text("{not json", "utf-8")
    with pytest.raises(WorkspaceError, match="cannot read"):
        load_mapping(bad)
    bad.write_text('{"phone": ["x"]}', "utf-8")
    with pytest.raises(WorkspaceError, match="not a privacy mapping"):
        load_mapping(bad)


# --- the labelled set ----------------------------------------------------------------------


def _labelled() -> list[dict[str, object]]:
    with LABELLED.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "privacy_eval", ROOT / "benchmarks" / "privacy_eval.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def test_labelled_set_is_well_formed() -> None:
    records = _labelled()
    assert len(records) >= 150
    assert {r["lang"] for r in records} >= {"en", "es", "de", "fr", "pt", "it", "nl"}
    assert sum(1 for r in records if not r["pii"]) >= 30
    for r in records:
        for item in r["pii"]:  # type: ignore[attr-defined]
            assert item["type"] in PII_TYPES
            assert item["value"] in r["text"], r  # type: ignore[operator]


def test_quality_floor_on_labelled_set() -> None:
    bench = _benchmark()
    result = bench.evaluate(_labelled())
    overall = result.scores()
    assert overall["precision"] >= 0.97, result.fp
    assert overall["recall"] >= 0.95, result.fn


def test_names_typed_in_lower_case_are_found_unless_they_are_everyday_words() -> None:
    from chatclone.privacy.detect import find_pii

    found = find_pii("they won't survive the flight marco, ask MARCO", ["Marco", "Rose", "Mum"])
    assert [s.value for s in found] == ["marco", "MARCO"]
    assert [s.value for s in find_pii("a rose for mum from Rose", ["Rose", "Mum"])] == ["Rose"]


def test_the_cloned_persons_name_is_never_a_pseudonym() -> None:
    from chatclone.privacy.pseudonyms import PSEUDONYMS, Pseudonymizer

    # As many friends as pseudonyms but one: without the reservation every pseudonym is needed.
    others = [f"Friend{i}" for i in range(len(PSEUDONYMS) - 1)]
    me = f"{PSEUDONYMS[0]} Rivera"
    unreserved = Pseudonymizer({}, others)
    assert PSEUDONYMS[0] in {unreserved.clean(name).split()[0] for name in others}
    pseudo = Pseudonymizer({}, others, reserved=[me])
    given = {pseudo.clean(name).split()[0] for name in others}
    assert PSEUDONYMS[0] not in given and len(given) == len(others)
