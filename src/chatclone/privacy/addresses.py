"""Postal addresses, for `patterns`: a house number next to a street-type word, in the orders of
English and French (number first), Spanish, Portuguese and Italian (number after), German and
Dutch (the type glued on), or typed in lower case; extended over a following postcode and city.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_UP = "A-ZÀ-ÖØ-Þ"
_LOW = "a-zß-öø-ÿ"
_CAP = rf"[{_UP}][{_LOW}'’]*(?:-[{_UP}][{_LOW}'’]*)*"  # Baker, Champs-Élysées, Sant'Anna
_ROMAN = r"(?:[IVX]{1,4})"
_CONNECT = (
    r"(?:de\s+la|de\s+las|de\s+los|de\s+l['’]|del|dels|de|da|do|das|dos|di|della|dello|dei|degli|"
    r"delle|dell['’]|d['’]|du|des|la|van|der|den|am|an\s+der|of|the)"
)
_NAME = rf"(?:{_CONNECT}\s*)?{_CAP}(?:\s+(?:{_CONNECT}\s*)?(?:{_CAP}|{_ROMAN}))*"
_HOUSE = r"\d{1,4}(?:[A-Za-z](?![\w']))?"
_NOT_A_UNIT = (
    r"(?!\s*(?i:min|minutes?|minutos|minuti|minuten|hours?|horas|ore|uur|stunden|h|times|veces|"
    r"volte|vezes|keer|mal|fois|x|€|%|km|m|metros|metri|meter|mètres|euros?|personas|people|pm|am|"
    r"days?|días|dias|giorni|dagen|tage|jours|weeks?|semanas|settimane|wochen|semaines|weken|"
    r"months?|meses|mesi|monate|mois|maanden|years?|años|anos|anni|jahre|ans|jaar|stops?|"
    r"paradas|fermate)\b)"
)
# English and French put the number first: "221B Baker Street", "12 rue de la Paix".
_STREET_EN = (
    r"(?:Street|street|St\.?|Road|road|Rd\.?|Avenue|avenue|Ave\.?|Lane|lane|Ln\.?|Drive|drive|"
    r"Dr\.?|Boulevard|Blvd\.?|Way|Place|Pl\.?|Court|Ct\.?|Terrace|Close|Crescent|Gardens|Square|"
    r"Sq\.?|Parkway|Highway|Hwy\.?|Row|Mews|Grove|Loop|Circle|Trail)(?!\w)"
)
_STREET_FR = (
    r"(?:rue|avenue|av\.|boulevard|bd|bld|place|allée|chemin|impasse|quai|route|cours|square)"
)
_NUMBER_FIRST = re.compile(
    rf"(?<![\w,.])\d{{1,5}}(?:[A-Za-z]|\s?(?:bis|ter))?(?![\w']),?\s+"
    rf"(?:(?:{_CAP}\s+){{1,3}}{_STREET_EN}|(?i:{_STREET_FR})\s+{_NAME}(?![\w']))"
)
# Spanish, Portuguese and Italian put the number after: "Calle Mayor 5", "Rua Augusta, 100".
_STREET_ROMANCE = (
    r"Calle|C/|Avenida|Avda\.?|Av\.|Plaza|Pza\.?|Paseo|Camino|Carretera|Ronda|Travesía|Glorieta|"
    r"Pasaje|Carrer|Rua|R\.|Travessa|Praça|Largo|Estrada|Alameda|Rodovia|Via|Viale|Piazza|"
    r"Piazzale|Corso|Vicolo|Lungomare|Strada|Laan|Plein"
)
_NUMBER_AFTER = re.compile(
    rf"(?<![\w/])(?i:{_STREET_ROMANCE})\s*{_NAME},?\s+(?:n(?:[º°o]|\.º?)\s*)?{_HOUSE}"
    rf"(?:,?\s*\d{{1,2}}\s?[º°ª](?:\s?(?:izq(?:da)?|dcha|[A-Za-z])(?!\w))?)?(?![\w,.]\d){_NOT_A_UNIT}"
)
# German and Dutch glue the type on: "Hauptstraße 12", "Kerkstraat 3", or "Berliner Straße 5".
_STREET_GLUED = (
    r"(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer|chaussee|"
    r"straat|laan|plein|gracht|kade|singel|dijk|steeg|dreef)"
)
_NOT_STREETS = frozenset(
    """parkplatz sitzplatz stellplatz arbeitsplatz spielplatz heimweg rückweg umweg ausweg hinweg
    ohrring ehering
    """.split()  # noqa: SIM905 (a word list reads best as one string)
)
_GERMANIC = re.compile(
    rf"(?<![\w])(?:(?:Van|De|Den|Der|Ter|Sint|Sankt)\s+)?(?:[{_UP}][{_LOW}]+(?:-[{_UP}][{_LOW}]+)*{_STREET_GLUED}"
    rf"|[{_UP}][{_LOW}]+(?:er|e)\s+(?:Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse|Ring|Damm))"
    rf"\s+\d{{1,4}}(?:\s?[a-z](?!\w)|-\d{{1,3}})?(?![\w,.]\d){_NOT_A_UNIT}"
)
# Typed in lower case ("55 oak st", "calle alcalá 45"): only with an abbreviated English street type,
# or a Romance one whose number ends the phrase, as lower-case words are too often not a street.
_NOT_STREET_NAMES = (
    r"(?!(?:the|and|for|alle|alla|allo|agli|dalle|dalla|dal|verso|dopo|prima|las|los|para|por|"
    r"pelas|pelos|pelo|pela|desde|hasta|sobre|entre|até|com|con|per|tra|fra|che|hay|tem|tiene|"
    r"está|esta|son|sono|era|una|uno|dos|tres|due|tre|ore|las|unos|umas|uns)\b)"
)
_LOW_WORD = rf"{_NOT_STREET_NAMES}[{_LOW}]{{3,}}"
_LOWER_CASE = re.compile(
    rf"(?<![\w,.])\d{{1,5}}[a-z]?\s+{_LOW_WORD}(?:\s+{_LOW_WORD})?\s+(?:st|rd|ave|blvd|ln)\.?(?!\w)"
    rf"|(?<![\w/])(?:calle|c/|avenida|avda\.|rua|via|viale|piazza|corso|plaza|paseo|travessa|praça)"
    rf"\s*(?:{_CONNECT}\s+)?{_LOW_WORD}(?:\s+{_LOW_WORD})?\s+\d{{1,4}}(?=\s*(?:[^\w\s]|$))"
)
_CITY = rf"{_CAP}(?:[\s\-]{_CAP})?"
_POSTCODE = (
    rf"(?:\d{{5}}(?:-\d{{3,4}})?|\d{{4}}-\d{{3}}|\d{{4}}\s?[A-Z]{{2}}(?!\w)"
    rf"|[A-Z]{{1,2}}\d[A-Z\d]?\s\d[A-Z]{{2}}|\d{{4}}(?=\s+{_CAP}))"
)
_NOT_CITIES = frozenset(
    """I The See Then And But So Ok Okay Yes No Thanks Hola Gracias Danke Merci Grazie Obrigado Bis
    Und Aber Also Ciao Oui Non Sì Sim Não Dank Tot Hoi Pero Mais Ma Et Mas Je Ich Me Eu Io Ik
    Tomorrow Today Mañana Morgen Demain Domani Amanhã
    """.split()  # noqa: SIM905 (a word list reads best as one string)
)
_TAIL = re.compile(
    rf"(?:,?\s*{_POSTCODE}(?:\s+{_CITY})?|,\s*(?P<city>{_CITY})(?:,?\s+(?:[A-Z]{{2}}\s+)?{_POSTCODE})?)"
    rf"(?=\s*(?:[^\w\s]|$)|\s+[{_LOW}\d(])"
)


# Words without which two of the address patterns cannot match, looked for with `in` before the
# pattern runs: the Germanic street types as written (that pattern is case-sensitive), and the
# Romance ones in lower case, for ASCII texts only (where `str.lower` and the regex's
# case-insensitive match agree).
_GERMANIC_WORDS = (
    *_STREET_GLUED.strip("(?:)").replace("\\.", ".").split("|"),
    *["Straße", "Strasse", "Str.", "Weg", "Allee", "Platz", "Gasse", "Ring", "Damm"],
)
_ROMANCE_WORDS = tuple(
    {w.replace("\\.?", "").replace("\\.", ".").lower() for w in _STREET_ROMANCE.split("|")}
)


# Each list as one search (an alternation of literals): the same answer as an `in` per word, in
# a single scan.
_GERMANIC_ANY = re.compile("|".join(map(re.escape, _GERMANIC_WORDS)))
_ROMANCE_ANY = re.compile("|".join(map(re.escape, _ROMANCE_WORDS)))


def _may_hold(pattern: re.Pattern[str], text: str) -> bool:
    if pattern is _GERMANIC:
        return _GERMANIC_ANY.search(text) is not None
    if pattern is _NUMBER_AFTER and text.isascii():
        return _ROMANCE_ANY.search(text.lower()) is not None
    return True


def addresses(text: str) -> Iterator[tuple[int, int]]:
    for pattern in (_NUMBER_FIRST, _NUMBER_AFTER, _GERMANIC, _LOWER_CASE):
        if not _may_hold(pattern, text):
            continue
        for m in pattern.finditer(text):
            street = m.group().split()[0].lower()
            if pattern is _GERMANIC and street in _NOT_STREETS:
                continue
            yield m.start(), _with_tail(text, m.end())


def _with_tail(text: str, end: int) -> int:
    """Extend an address over a following postcode and/or city ("…, 28013 Madrid")."""
    m = _TAIL.match(text, end)
    if not m:
        return end
    city = m.group("city")
    if city and city.split()[0] in _NOT_CITIES:
        return end
    return m.end()
