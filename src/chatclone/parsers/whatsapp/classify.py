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
    if len(text) <= 120:  # every marker is short
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
