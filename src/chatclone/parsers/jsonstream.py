"""Reading a JSON export as a stream of events, for every parser of a JSON format.

The file is read with ijson, so a multi-gigabyte export is never loaded whole: `json_events` hands
a parser the `(prefix, event, value)` events, and the parser builds only the records it wants with
`build_value`. The bytes are counted as they are read, for a progress callback and for finding
where the JSON breaks, and a byte-order mark (which some editors add and JSON parsers reject) is
skipped.

JSON has no useful line numbers and ijson reports no position, so a file that is not valid JSON
fails with an `InputError` naming the line where the JSON breaks (`locate_json_error`).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

import ijson

from chatclone.errors import InputError
from chatclone.parsers.base import READ_ERRORS, Source

CHUNK = 64 * 1024
PROGRESS_EVERY = 4 * 1024 * 1024  # bytes between two progress calls
STARTS = ("start_map", "start_array")  # the events that open a value `build_value` can build

Events = Iterator[tuple[str, str, Any]]


@contextmanager
def json_events(source: Source, progress: Callable[[int], None] | None) -> Iterator[Events]:
    """The ijson events of `source`'s JSON, to be read inside the `with` block.

    A JSON error while the block reads them becomes an `InputError`: "the file is empty", or
    "truncated or malformed JSON" with the line where it breaks. `progress` is told the number of
    bytes read every `PROGRESS_EVERY` bytes, and once more when the block ends.
    """
    head = source.head()
    with source.open() as f:
        stream = ProgressStream(f, head, progress)
        try:
            yield ijson.parse(stream, buf_size=CHUNK, use_float=True)
        except ijson.JSONError as e:
            if stream.pos == 0:
                raise InputError(source.display, "the file is empty") from None
            raise InputError(
                source.display,
                f"truncated or malformed JSON ({_first_line(e)})",
                locate_json_error(source, stream.last_read_at),
            ) from None
    if progress is not None:
        progress(stream.pos)


class ProgressStream:
    """The export's bytes as ijson reads them: counted for progress and error location, and with
    a byte-order mark (which some editors add and JSON parsers reject) skipped."""

    def __init__(self, f: IO[bytes], head: bytes, progress: Callable[[int], None] | None) -> None:
        self.f = f
        self.progress = progress
        self.pos = 0
        self.last_read_at = 0  # where the latest chunk starts: a parse error lies in it or after
        self._next_progress = PROGRESS_EVERY
        if head.startswith(codecs.BOM_UTF8):
            f.read(len(codecs.BOM_UTF8))

    def read(self, size: int = -1) -> bytes:
        data = self.f.read(size)
        if data:
            self.last_read_at = self.pos
            self.pos += len(data)
            if self.progress is not None and self.pos >= self._next_progress:
                self._next_progress = self.pos + PROGRESS_EVERY
                self.progress(self.pos)
        return data


def value_at(events: Events, event: str, value: Any) -> Any:
    """The whole value an event starts: an object or array built from the events that follow it,
    else the scalar the event carries."""
    return build_value(events, event) if event in STARTS else value


def build_value(events: Events, start: str) -> Any:
    """The JSON object or array that `start` (`start_map` or `start_array`) opens, built from the
    events that follow it. A plain loop: ijson's ObjectBuilder, a method call per event, makes the
    whole parse about a third slower."""
    root: Any = {} if start == "start_map" else []
    stack = [root]
    key = None
    for _, event, value in events:
        if event == "map_key":
            key = value
            continue
        if event == "end_map" or event == "end_array":
            stack.pop()
            if not stack:
                return root
            continue
        if event == "start_map":
            value = {}
        elif event == "start_array":
            value = []
        top = stack[-1]
        if type(top) is list:
            top.append(value)
        else:
            top[key] = value
        if event == "start_map" or event == "start_array":
            stack.append(value)
    raise ijson.IncompleteJSONError("premature EOF")  # ijson itself raises this first


def _first_line(error: Exception) -> str:
    detail = error.args[0] if error.args else ""
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    return str(detail).strip().split("\n", 1)[0] or type(error).__name__


def locate_json_error(source: Source, near: int) -> int | None:
    """The line on which the JSON in `source` breaks, given that it breaks after byte `near`
    (None if the file cannot be read again).

    The parser reports no position, so the file is parsed again: quickly up to `near`, then one
    byte at a time, so the byte it fails on is the last one read. Streaming, whatever the size.
    """
    try:
        with source.open() as f:
            stream = LocatingStream(f, source.head(), slow_from=max(0, near - CHUNK))
            try:
                for _ in ijson.items(stream, "\0", buf_size=CHUNK):  # a prefix never matched
                    pass
            except ijson.JSONError:
                pass
    except (*READ_ERRORS, InputError):
        return None
    return stream.last_content_line if stream.at_end else stream.line_of_last_byte


class LocatingStream:
    """Bytes for `locate_json_error`: big chunks up to `slow_from`, single bytes after it."""

    def __init__(self, f: IO[bytes], head: bytes, slow_from: int) -> None:
        self.f = f
        self.slow_from = slow_from
        self.pos = 0
        self.newlines = 0
        self.line_of_last_byte = 1
        self.last_content_line = 1  # a truncated file breaks after its last non-blank byte
        self.at_end = False
        if head.startswith(codecs.BOM_UTF8):
            f.read(len(codecs.BOM_UTF8))

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        fast = self.slow_from - self.pos
        data = self.f.read(min(size if size > 0 else CHUNK, fast) if fast > 0 else 1)
        if not data:
            self.at_end = True
            return data
        self.line_of_last_byte = self.newlines + 1 + data.count(b"\n", 0, len(data) - 1)
        content = data.rstrip(b" \t\r\n")
        if content:
            self.last_content_line = self.newlines + 1 + content.count(b"\n")
        self.newlines += data.count(b"\n")
        self.pos += len(data)
        return data
