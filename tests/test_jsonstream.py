"""The JSON streaming helpers every JSON-export parser shares: building values from events, the
progress callback, the byte-order mark, and the line where a broken file breaks."""

from __future__ import annotations

import io
import json
from functools import partial
from typing import Any

import ijson
import pytest

from chatclone.errors import InputError
from chatclone.parsers import jsonstream
from chatclone.parsers.base import Source
from chatclone.parsers.jsonstream import (
    STARTS,
    ProgressStream,
    build_value,
    json_events,
    locate_json_error,
)

NESTED = {
    "name": "Alice",
    "id": 42,
    "tags": ["a", {"deep": [1, 2.5, [True, None]]}, []],
    "empty": {},
    "messages": [{"id": 1, "text": ["hi ", {"type": "bold", "text": "there"}]}],
}


def source_of(data: bytes, display: str = "export.json") -> Source:
    return Source(display, partial(io.BytesIO, data), len(data), display)


def read_all(data: bytes, progress: Any = None) -> list[tuple[str, str, Any]]:
    with json_events(source_of(data), progress) as events:
        return list(events)


def error_of(data: bytes) -> InputError:
    with pytest.raises(InputError) as caught:
        read_all(data)
    return caught.value


@pytest.mark.parametrize("value", [NESTED, [NESTED, [], [[{}]]], {"a": {"b": {"c": []}}}])
def test_build_value_rebuilds_nested_objects_and_arrays(value: Any) -> None:
    events = ijson.parse(io.BytesIO(json.dumps(value).encode()), use_float=True)
    _, start, _ = next(events)
    assert start in STARTS
    assert build_value(events, start) == value
    assert next(events, None) is None  # the closing event was consumed, nothing after it


def test_build_value_reads_one_item_and_leaves_the_rest() -> None:
    data = json.dumps({"messages": [{"id": 1, "x": [1]}, {"id": 2}]}).encode()
    events = ijson.parse(io.BytesIO(data))
    built = [build_value(events, e) for p, e, _ in events if p == "messages.item" and e in STARTS]
    assert built == [{"id": 1, "x": [1]}, {"id": 2}]


def test_build_value_on_a_truncated_value_raises_a_json_error() -> None:
    events = ijson.parse(io.BytesIO(b'{"a": [1, {"b": 2'))
    _, start, _ = next(events)
    with pytest.raises(ijson.JSONError):
        build_value(events, start)


def test_events_skip_a_byte_order_mark() -> None:
    data = json.dumps(NESTED).encode()
    assert read_all(b"\xef\xbb\xbf" + data) == read_all(data)


def test_progress_is_reported_in_order_and_ends_at_the_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jsonstream, "PROGRESS_EVERY", 1000)  # less than a chunk: every read
    data = json.dumps({"messages": [{"id": i, "text": "x" * 50} for i in range(4000)]}).encode()
    progress: list[int] = []
    read_all(data, progress.append)
    chunks = -(-len(data) // jsonstream.CHUNK)
    assert len(progress) == chunks + 1 and progress == sorted(progress)
    assert progress[-1] == len(data)  # once more at the end


def test_progress_stream_counts_bytes_and_calls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstream, "PROGRESS_EVERY", 10)
    progress: list[int] = []
    data = b"\xef\xbb\xbf" + b"0123456789" * 3
    stream = ProgressStream(io.BytesIO(data), data[:8], progress.append)
    chunks = [stream.read(7) for _ in range(5)]
    assert b"".join(chunks) == data[3:]  # the byte-order mark is not handed on
    assert (stream.pos, stream.last_read_at) == (30, 28)
    assert progress == [14, 28]


def test_empty_file() -> None:
    assert error_of(b"").problem == "the file is empty"


def test_truncated_file_names_its_last_line() -> None:
    data = json.dumps(NESTED, indent=1).encode()
    cut = data[: len(data) // 2]
    error = error_of(cut)
    assert error.path == "export.json"
    assert error.problem.startswith("truncated or malformed JSON (")
    assert error.line == cut.rstrip().count(b"\n") + 1


def test_truncated_file_with_blank_lines_at_the_end_names_the_last_written_line() -> None:
    data = b'{\n "a": [\n  1,\n  2\n\n\n'
    assert error_of(data).line == 4
    assert locate_json_error(source_of(data), 0) == 4


def test_malformed_json_points_at_the_broken_line() -> None:
    lines = json.dumps(NESTED, indent=1).encode().split(b"\n")
    broken = next(i for i, line in enumerate(lines) if b'"deep"' in line)
    lines[broken] = lines[broken].replace(b":", b"")
    data = b"\n".join(lines)
    assert error_of(data).line == broken + 1
    assert locate_json_error(source_of(data), 0) == broken + 1


def test_locate_json_error_past_the_first_chunk() -> None:
    items = b",\n".join(b'{"id": %d}' % i for i in range(20_000))
    data = b"[\n" + items + b",\n{oops}\n]"
    assert len(data) > 2 * jsonstream.CHUNK
    expected = data[: data.index(b"oops")].count(b"\n") + 1
    assert locate_json_error(source_of(data), len(data) - 100) == expected
    assert error_of(data).line == expected


def test_locate_json_error_after_a_byte_order_mark() -> None:
    assert locate_json_error(source_of(b"\xef\xbb\xbf{\n\n  oops"), 0) == 3


def test_locate_json_error_is_none_when_the_file_cannot_be_read_again() -> None:
    def gone() -> io.BytesIO:
        raise OSError("gone")

    assert locate_json_error(Source("x.json", gone, 10, "x.json", b"{"), 0) is None
