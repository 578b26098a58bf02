"""Phone numbers, for `patterns`: a number is only a phone number when its digit count, grouping
and neighbourhood look like one (not a date, a price, an IP address or an order number): in
international form (`+`, `00`), with a trunk 0, or in one of the national groupings listed here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from chatclone.privacy.banking import number_blocks

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


def phones(text: str) -> Iterator[tuple[int, int]]:
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
