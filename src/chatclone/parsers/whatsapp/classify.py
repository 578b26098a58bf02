"""What a WhatsApp message's text is: plain text, or a marker of media, a deletion, a call, a
location or a poll (in the languages `markers` knows), with the marker taken off."""

from __future__ import annotations

import re

from chatclone.messages import Kind
from chatclone.parsers.whatsapp import markers

# "report.pdf • 3 pages", "verslag.pdf • \u200e3 pagina's", "見積書.pdf • \u200eページ数: 2"
_PAGES = re.compile(r"\s*•[^•]*$")
BIDI = "\u200e\u200f"


def classify(text: str) -> tuple[Kind, str, bool, str | None]:
    """(kind, text without markers, edited?, attachment name) for a message's text.

    This runs for every message, so cheap checks (a dict lookup, a first character, a substring)
    guard every regex.
    """
    edited = False
    if text.endswith(">"):
        m = markers.EDITED_SUFFIX.search(text)
        if m is not None:
            text, edited = text[: m.start()], True
    marked = text[:1] in BIDI
    if marked:
        text = text.lstrip(BIDI)
    first = text[:1]
    if len(text) <= _MARKER_SPAN:  # every marker is short
        low = _normalized(text)
        exact = _EXACT.get(low)
        if exact is not None:
            return exact, "" if exact is not _CALL else text, edited, None
        if marked or low.startswith(markers.CALL_PREFIXES):
            call = markers.CALL.match(low)
            if call is not None and (call.end() == len(low) or low[call.end()] in ",."):
                return _CALL, text, edited, None
        if low.endswith(markers.DOCUMENT_ENDINGS):
            m = markers.DOCUMENT_OMITTED.fullmatch(text)
            if m is not None:
                name = _PAGES.sub("", m["name"]).strip(" \u200e\u200f")
                return _MEDIA, "", edited, name
    if "<" in text and ">" in text and (m := markers.ATTACHED.fullmatch(text)) is not None:
        name = m["name"] or m["name_first"]
        return _MEDIA, m["caption"].strip(), edited, name.strip()
    if first == "<" and text[-1:] == ">" and markers.is_unknown_placeholder(text):
        return _MEDIA, "", edited, None  # counted by the reader, see `_Reader._message`
    if first == "<" and "\n" in text:
        # Android: "<Media omitted>" with the caption on the next line.
        head, _, caption = text.partition("\n")
        if _normalized(head) in markers.MEDIA_EXACT:
            caption = caption.strip()
            if markers.DOCUMENT_NAME.fullmatch(caption):  # a document's name, not a caption
                return _MEDIA, "", edited, caption
            return _MEDIA, caption, edited, None
    if "(" in text and ")" in text and (m := markers.FILE_ATTACHED.fullmatch(text)) is not None:
        return _MEDIA, m["caption"].strip(), edited, m["name"].strip()
    if "://" in text and _is_location(text):
        return _LOCATION, text, edited, None
    if "\n" in text and markers.POLL.match(text):
        return _POLL, text, edited, None
    return _TEXT, text, edited, None


def is_plain(text: str) -> bool:
    """True only where `classify(text)` is `(Kind.TEXT, text, False, None)`, decided without it:
    a text with no character that any non-text rule looks for, whose first two and last two
    characters begin or end no marker. False says nothing: ask `classify`."""
    if (
        text.endswith(">")  # edited, and every `<…>` placeholder
        or "<" in text
        or "\n" in text  # captions under a placeholder, polls
        or "://" in text  # locations
        or ("(" in text and ")" in text)  # "name.jpg (file attached)"
        or text[:1] in BIDI  # a marked line, whose marks `classify` takes off
    ):
        return False
    if len(text) > _MARKER_SPAN:
        return True
    if len(text) < 2:
        return False
    edges = _EDGES
    # (a space inside the text stays one space, however many there are)
    second, last_but_one = text[1], text[-2]
    a, z = edges.get(text[0]), edges.get(text[-1])
    b = second if second == " " else edges.get(second)
    y = last_but_one if last_but_one == " " else edges.get(last_but_one)
    if not (a and b and y and z):  # a character not seen before, or one that normalizing could
        return _plain_edges(text)  # strip, map or merge: see `_edge`
    head, tail = a + b, y + z
    if head in _CALL_HEADS or tail in _DOCUMENT_TAILS:
        return False
    return head not in _EXACT_HEADS or tail not in _EXACT_TAILS


def _plain_edges(text: str) -> bool:
    """`is_plain` once the edge characters it had not seen are known; False when none was new
    (an edge that normalizing could change)."""
    new = [c for c in (text[0], text[1], text[-2], text[-1]) if c not in _EDGES]
    for c in new:
        _EDGES[c] = _edge(c)
    return bool(new) and is_plain(text)


def _edge(c: str) -> str:
    """What `c` is at the start or end of a normalized text (`_normalized`), or "" where that
    is not simply its lower case: a space or mark that normalizing strips, the full stop it drops,
    a letter whose case mapping depends on its neighbours or changes its length."""
    low = c.lower()
    if (
        c.isspace()
        or c in BIDI
        or c in _STRIPPED
        or c in "\u03a3\u03c3\u03c2\u0130"  # Σ σ ς (final sigma) and İ
        or len(low) != 1
        or low != c.casefold()
        or low != low.casefold()
    ):
        return ""
    return low


def classify_text(text: str) -> tuple[Kind, str, bool, str | None]:
    """`classify`, remembered for short texts: "ok", "haha" and "<Media omitted>" come back
    thousands of times in a chat."""
    if len(text) > _REMEMBERED_LENGTH:
        return classify(text)
    known = _remembered.get(text)
    if known is None:
        if len(_remembered) >= _REMEMBERED:
            _remembered.clear()
        known = _remembered[text] = classify(text)
    return known


_REMEMBERED, _REMEMBERED_LENGTH = 50_000, 40
_remembered: dict[str, tuple[Kind, str, bool, str | None]] = {}


def is_unknown(text: str) -> bool:
    return text.lstrip(BIDI)[:1] == "<" and markers.is_unknown_placeholder(text)


def _is_location(text: str) -> bool:
    if markers.LOCATION.match(text):
        return True
    return "foursquare.com/" in text and markers.FOURSQUARE.fullmatch(text.rstrip()) is not None


def _normalized(text: str) -> str:
    low = text.lower().strip()
    # Most texts have nothing to normalize; finding that out is far cheaper than doing it, and
    # cheaper still for ASCII text, where only tabs, newlines and double spaces can need it.
    if low.isascii():
        if "\t" in low or "\n" in low or "  " in low:
            low = markers.normalize(low)
    elif "  " in low or markers.NORMALIZED_CHARS.search(low) is not None:
        low = markers.normalize(low)  # (two tests: a pattern of one class is searched fastest)
    return low


# What `is_plain` knows: every marker is short, and how each kind of marker starts or ends.
_MARKER_SPAN = 120  # `classify` looks for whole-text markers only in texts this long or shorter
_STRIPPED = ".。" + markers.BIDI_MARKS + "\u061c\ufeff"  # full stops, marks normalizing drops
_EDGES: dict[str, str] = {}  # per character seen at an edge: `_edge`

# Enum attribute lookups are slow in a loop that runs per message.
_TEXT, _MEDIA, _DELETED, _CALL = Kind.TEXT, Kind.MEDIA, Kind.DELETED, Kind.CALL
_LOCATION, _POLL = Kind.LOCATION, Kind.POLL
# Every exact marker form and its kind, one lookup for the three sets; a form in more than one
# set takes the kind they were tested in before (media, then deleted, then call).
_EXACT: dict[str, Kind] = {
    **dict.fromkeys(markers.CALL_EXACT, _CALL),
    **dict.fromkeys(markers.DELETED_EXACT, _DELETED),
    **dict.fromkeys(markers.MEDIA_EXACT, _MEDIA),
}
_EXACT_HEADS = frozenset(form[:2] for form in _EXACT)
_EXACT_TAILS = frozenset(form[-2:] for form in _EXACT)
_CALL_HEADS = frozenset(prefix[:2] for prefix in markers.CALL_PREFIXES)
_DOCUMENT_TAILS = frozenset(ending[-2:] for ending in markers.DOCUMENT_ENDINGS)
