"""The detectors behind `detect.find_pii`: one function per kind of personal data.

Each detector takes a text and yields `(start, end)` of what it found. They lean towards precision:
a number is only a phone number when its digit count, grouping and neighbourhood look like one (not
a date, a price, an IP address or an order number), card numbers must pass the Luhn check, IBANs
the mod-97 check, and an address needs a house number next to a street-type word.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Found = Iterator[tuple[int, int]]

# --- e-mail and URLs ---------------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-]+@(?:[\w\-]+\.)+[A-Za-z]{2,}(?![\w\-])")

_URL = re.compile(r"(?<![\w@.\-])(?:https?://|www\.)[^\s<>\"'`]+", re.I)
# A bare domain with a path (example.com/x) may have any alphabetic TLD but not a file extension;
# without a path, only TLDs that are not also everyday words ("de", "es", "it", "me", "so"…).
_BARE_WITH_PATH = re.compile(
    r"(?<![\w@./\-])(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+([a-z]{2,6})/[^\s<>\"'`]*", re.I
)
_BARE = re.compile(
    r"(?<![\w@./\-])(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+"
    r"(?:com|net|org|io|dev|app|info|eu|nl|pt|fr|uk|br)(?:\.(?:br|es|mx|ar|pt|uk|au))?"
    r"(?![\w@\-]|\.\w)"
)
_FILE_EXTENSIONS = frozenset(
    """txt pdf doc docx xls xlsx csv jpg jpeg png gif mp3 mp4 html htm zip
    """.split()  # noqa: SIM905 (a word list reads best as one string)
)
_TRAILING = ".,;:!?'\"»…*"


def emails(text: str) -> Found:
    for m in _EMAIL.finditer(text):
        yield m.span()


# What each URL pattern cannot match without, looked for first: these start with a literal, which
# the regex engine scans for quickly (the patterns start with a look-behind, checked everywhere).
_URL_HINT = re.compile(r"(?i:https?://|www\.)")
_BARE_HINT = re.compile(r"\.(?:com|net|org|io|dev|app|info|eu|nl|pt|fr|uk|br)")


def urls(text: str) -> Found:
    if _URL_HINT.search(text):
        for m in _URL.finditer(text):
            yield m.start(), m.start() + len(_trim_url(m.group()))
    if "/" in text:
        for m in _BARE_WITH_PATH.finditer(text):
            if m.group(1).lower() not in _FILE_EXTENSIONS:
                yield m.start(), m.start() + len(_trim_url(m.group()))
    if _BARE_HINT.search(text):
        for m in _BARE.finditer(text):
            yield m.span()


def _trim_url(url: str) -> str:
    """Leave sentence punctuation and an unmatched closing bracket outside the URL."""
    while url:
        if url[-1] in _TRAILING or (url[-1] in ")]}" and url.count(")") > url.count("(")):
            url = url[:-1]
        else:
            break
    return url


# --- payment cards and IBANs -------------------------------------------------------------------

_CARD = re.compile(
    r"(?<![\w+.,\-])(?:\d{4}([ \-]?)\d{4}\1\d{4}\1\d{1,4}(?:\1\d{3})?|\d{4}([ \-]?)\d{6}\2\d{4,5})"
    r"(?!\w|[.,\-]\d)"
)
_IBAN_START = re.compile(r"(?<!\w)([A-Za-z]{2})(\d{2})")
_IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "BR": 29, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21,
    "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TR": 26,
}  # fmt: skip
# Anything shaped like a card or an IBAN, valid or not: no phone number is looked for inside it.
_IBAN_SHAPE = re.compile(r"(?<!\w)[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,}(?: ?[A-Z0-9]{1,3})?(?!\w)")


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum that every payment card number passes."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """The ISO 13616 check: known country, its length, and mod 97 of the rearranged number is 1."""
    iban = iban.replace(" ", "").upper()
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def cards(text: str) -> Found:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if digits[0] in "23456" and len(set(digits)) > 1 and luhn_ok(digits):
            yield m.span()


def ibans(text: str) -> Found:
    for m in _IBAN_START.finditer(text):
        length = _IBAN_LENGTHS.get(m.group(1).upper())
        end = _iban_end(text, m.end(), length - 4) if length else None
        if end is not None and iban_ok(text[m.start() : end]):
            yield m.start(), end


def _iban_end(text: str, pos: int, wanted: int) -> int | None:
    """Where an IBAN whose BBAN has `wanted` characters (single spaces allowed) ends, if it fits."""
    seen = 0
    while seen < wanted:
        if pos < len(text) and text[pos] == " ":
            pos += 1
        if pos >= len(text) or not (text[pos].isascii() and text[pos].isalnum()):
            return None
        seen, pos = seen + 1, pos + 1
    return None if pos < len(text) and text[pos].isalnum() else pos


def number_blocks(text: str) -> list[tuple[int, int]]:
    """Where something shaped like a card or an IBAN is, valid or not."""
    return [m.span() for pattern in (_CARD, _IBAN_SHAPE) for m in pattern.finditer(text)]


# --- phone numbers -----------------------------------------------------------------------------

# At most 32 characters, so that a long run of numbers is looked at in pieces, in linear time.
_PHONE_CANDIDATE = re.compile(
    r"(?<![\w+#/.,@\-])(?:\+ ?|\(\+?)?\d[\d ().\-/\u00a0]{0,30}\d(?!\w|[.,\-/]\d)"
)
_PHONE_WORDS = re.compile(
    r"\b(?:tel|tél|phone|call|cell|mobile|number|whats ?app|text me|móvil|movil|teléfono|telefono|"
    r"llama|llámame|número|numero|handy|nummer|anrufen|ruf|telefon|portable|numéro|appelle|"
    r"cellulare|cel|celu|chiama|bel|mobiel|telemóvel|telemovel|celular|liga|zap)\b",
    re.I,
)
_NOT_PHONE_WORDS = re.compile(
    r"\b(?:order|pedido|bestellung|bestellnummer|commande|ordine|bestelling|encomenda|ref|"
    r"tracking|invoice|factura|rechnung|facture|fattura|factuur|fatura|booking|reserva|buchung|"
    r"réservation|prenotazione|boeking|ticket|flight|vuelo|flug|vol|volo|vlucht|voo|account|"
    r"cuenta|konto|compte|conto|rekening|conta|pin|code|código|codice|dni|nif|bsn|ssn|isbn|"
    r"serial|id|reference|referencia|référence|riferimento|referentie|referência|sécu|sécurité sociale|seguridad social|nss|cpf|ahv|insee)\b|[#№]|n[º°]",
    re.I,
)
_MONEY_BEFORE = re.compile(r"[€$£¥]\s?$")
_UNIT_AFTER = re.compile(
    r"^\s?(?:€|\$|£|%|eur|euros?|usd|dollars?|gbp|reais|r\$|km|kg|mb|gb|views|people|personas)\b|^\s?[€$£%]",
    re.I,
)
_GROUP_AFTER_SPACE = re.compile(r"(?:^|(?<= ))[(+]*\d")
_PAREN_GROUP = re.compile(r"\(\+?\d{1,4}\)")
# Groupings of national numbers that do not start with a trunk 0: (lengths, allowed first digits).
_NATIONAL_SHAPES = {
    (3, 3, 4): "23456789",  # US 555 123 4567, IT mobile 333 123 4567
    (1, 3, 3, 4): "1",  # US 1-800-555-0199
    (3, 3, 3): "6789",  # ES/PT 612 345 678
    (3, 2, 2, 2): "6789",  # ES 612 34 56 78
    (2, 3, 2, 2): "89",  # ES 91 123 45 67
    (2, 3, 4): "2",  # PT 21 123 4567
    (3, 7): "3",  # IT 347 1234567
    (3, 3, 2, 2): "3",  # IT 333 123 45 67
    (2, 5, 4): "123456789",  # BR 11 91234-5678
}
_DOT_SHAPES = {(2, 2, 2, 2, 2), (3, 3, 4), (1, 3, 3, 4), (3, 3, 2, 2)}
_PLAIN_NATIONAL = re.compile(r"0\d{9,11}|[67]\d{8}|9\d{8}|3\d{9}")


# The fewest digits a phone number has ("call me: 555-0142"; `_is_phone`): a run of numbers
# with fewer holds none, and a text with fewer needs no look at all.
MIN_PHONE_DIGITS = 7
_DIGIT = re.compile(r"\d")


def phones(text: str) -> Found:
    blocks: list[tuple[int, int]] | None = None  # found once a candidate is worth a look
    for m in _PHONE_CANDIDATE.finditer(text):
        if len(_DIGIT.findall(m.group())) < MIN_PHONE_DIGITS:
            continue
        if blocks is None:
            blocks = number_blocks(text)
        if any(s < m.end() and m.start() < e for s, e in blocks):
            continue
        # A run of numbers can hold a phone number after unrelated ones ("at 12 0612345678") or
        # several phone numbers: try each group that follows a space as a start.
        pos = m.start()
        for g in _GROUP_AFTER_SPACE.finditer(m.group()):
            start = m.start() + g.start()
            if start < pos:
                continue
            end = _phone_at(text, start, m.end())
            if end is not None:
                yield start, end
                pos = end


def _phone_at(text: str, start: int, stop: int) -> int | None:
    context = _context(text, start)
    if context == "other" and not text.startswith(("+", "(+"), start):
        return None
    length = _phone_end(text[start:stop], context == "phone")
    if length is None:
        return None
    end = start + length
    if _MONEY_BEFORE.search(text[max(0, start - 2) : start]) or _UNIT_AFTER.search(
        text[end : end + 8]
    ):
        return None
    return end


def _context(text: str, start: int) -> str | None:
    """What the nearest keyword before a number says it is: 'phone' ("call me on"), 'other'
    ("order", "flight", "account"; also "order number") or None."""
    before = text[max(0, start - 30) : start]
    other = max((m.end() for m in _NOT_PHONE_WORDS.finditer(before)), default=-1)
    phone = max(
        (
            m.end()
            for m in _PHONE_WORDS.finditer(before)
            if not _NOT_PHONE_WORDS.search(before, max(0, m.start() - 12), m.start())
        ),
        default=-1,
    )
    if other == phone:
        return None
    return "phone" if phone > other else "other"


def _phone_end(raw: str, phone_context: bool) -> int | None:
    """The end of the longest leading run of digit groups in `raw` that makes a phone number."""
    pieces = re.split(r"(\d+)", raw)  # [lead, group, sep, group, …, group, ""]
    groups, seps = pieces[1::2], pieces[2:-1:2]
    ends = [len("".join(pieces[: 2 * i + 2])) for i in range(len(groups))]
    if _two_digit_run(groups, seps) > 5:
        return None  # lottery numbers, not a French phone number cut short
    for k in range(len(groups), 0, -1):
        # Trailing groups may only be dropped at a space ("call 06 12 34 56 78 2 times", "… / …").
        if k < len(groups) and not _breaks(seps[k - 1]):
            continue
        window = raw[: ends[k - 1]]
        if _is_phone(window, groups[:k], seps[: k - 1], phone_context):
            return ends[k - 1]
    return None


def _two_digit_run(groups: list[str], seps: list[str]) -> int:
    """How many two-digit groups, separated alike, the run starts with."""
    run = 0
    while run < len(groups) and len(groups[run]) == 2 and (run == 0 or seps[run - 1] == seps[0]):
        run += 1
    return run


def _breaks(sep: str) -> bool:
    return not sep.strip() or (sep[0].isspace() and sep[-1].isspace())


def _is_phone(window: str, groups: list[str], seps: list[str], phone_context: bool) -> bool:
    core = [s.replace("\u00a0", " ").strip("() ") for s in seps]
    if any(c not in ("", "-", ".", "/") for c in core) or not _parens_ok(window):
        return False
    if core.count("/") > 1 or _looks_like_date(groups, core) or _looks_like_ip(groups, core):
        return False
    digits = "".join(groups)
    if window.startswith(("+", "(+")) or digits.startswith("00"):
        n = len(digits) - (2 if digits.startswith("00") else 0)
        return 8 <= n <= 15 and digits.strip("0") != ""
    if phone_context and core == ["-"] and (len(groups[0]), len(groups[1])) == (3, 4):
        return True  # a local US number after "call me": 555-0142
    if not 9 <= len(digits) <= 12:
        return False
    shape = tuple(len(g) for g in groups)
    if "/" in core and (core.index("/") != 0 or not digits.startswith("0")):
        return False  # only the German 0171/1234567
    if core and all(c == "." for c in core) and shape not in _DOT_SHAPES:
        return False
    if digits.startswith("0") or window.startswith("("):
        return len(groups) > 1 or len(digits) >= 10
    if phone_context:
        return all(len(g) >= 2 for g in groups[1:])
    if len(groups) == 1:
        return bool(_PLAIN_NATIONAL.fullmatch(digits))
    if any(set(g) == {"0"} for g in groups[1:]):
        return False  # 600 000 000 is a round number, not a phone
    if shape == (2, 5, 4) and core[-1] != "-":
        return False
    return digits[0] in _NATIONAL_SHAPES.get(shape, "")


def _parens_ok(window: str) -> bool:
    rest = _PAREN_GROUP.sub("", window, count=1)
    return "(" not in rest and ")" not in rest


def _looks_like_date(groups: list[str], core: list[str]) -> bool:
    if len(groups) != 3:
        return False
    a, b, c = (len(g) for g in groups)
    return (a <= 2 and b <= 2 and (c == 4 or (c == 2 and core[0] != ""))) or (
        a == 4 and b <= 2 and c <= 2
    )


def _looks_like_ip(groups: list[str], core: list[str]) -> bool:
    return len(groups) == 4 and all(c == "." for c in core) and all(len(g) <= 3 for g in groups)


# --- postal addresses --------------------------------------------------------------------------

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


def _may_hold(pattern: re.Pattern[str], text: str) -> bool:
    if pattern is _GERMANIC:
        return any(w in text for w in _GERMANIC_WORDS)
    if pattern is _NUMBER_AFTER and text.isascii():
        low = text.lower()
        return any(w in low for w in _ROMANCE_WORDS)
    return True


def addresses(text: str) -> Found:
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


# --- names -------------------------------------------------------------------------------------


# Given names that are also everyday words: matched only as written, never in lower case.
NAME_WORDS = frozenset(
    """will may mark bill rose grace hope joy faith art sue pat mum dad mom nana papa mama june april
    august ray dawn summer autumn amber ruby pearl jade jack rob don guy max sky river rain ash sandy
    holly ivy lily daisy iris violet sunny cash gene miles chase hunter drew frank earl reed wade dean
    doc king rich penny bella angel clement constance prudence victor sol luz paz rosa""".split()  # noqa: SIM905
)


def name_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """Whole-word: each name, and its first word if that is a capitalised word. People text in
    lower case ("see you marco"), so names of 4+ letters also match in lower and upper case, unless
    they are everyday words too (`NAME_WORDS`)."""
    forms = {n.strip() for n in names if n.strip()}
    for name in list(forms):
        first = name.split()[0]
        if len(first) >= 3 and first.isalpha() and first[0].isupper():
            forms.add(first)
    for form in list(forms):
        if len(form) >= 4 and form.lower() not in NAME_WORDS:
            forms.update((form.lower(), form.upper()))
    if not forms:
        return None
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def names_in(text: str, pattern: re.Pattern[str] | None) -> Found:
    if pattern is not None:
        for m in pattern.finditer(text):
            yield m.span()
