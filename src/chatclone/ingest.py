"""Ingest: export files → parsers → store, as one transaction.

Every path is discovered (and so checked) before anything is written; all files of one `ingest`
land together or not at all, and a workspace that the failed ingest created is removed again, so
bad input leaves the workspace exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chatclone.errors import InputError
from chatclone.messages import Message
from chatclone.parsers.base import READ_ERRORS, ParseReport
from chatclone.parsers.sources import Found, discover
from chatclone.store import Store
from chatclone.workspace import Workspace

# Called once per file with (name, size in bytes); returns a callback for the byte position.
ProgressStart = Callable[[str, int], Callable[[int], None] | None]


@dataclass
class FileResult:
    path: str
    parser: str
    chats: list[str]
    messages: int  # messages read from the file
    added: int  # of which new to the store
    present: int  # of which already stored
    unparsed: int  # lines (or records) not understood
    unparsed_lines: list[int]
    unit: str = "line"  # what unparsed_lines counts ("line", or "message id" for JSON)
    notes: list[str] = field(default_factory=list)


@dataclass
class IngestResult:
    files: list[FileResult]

    def total(self, key: str) -> int:
        return sum(int(getattr(f, key)) for f in self.files)

    def to_json(self) -> dict[str, Any]:
        totals = {k: self.total(k) for k in ("messages", "added", "present", "unparsed")}
        return {**totals, "files": [asdict(f) for f in self.files]}


def ingest(
    workspace: Workspace,
    paths: list[Path],
    progress: ProgressStart | None = None,
    strict: bool = False,
) -> IngestResult:
    """Parse and store every export under `paths`. Raises `InputError` and changes nothing if any
    file cannot be read (or, with `strict`, has a line that is not understood)."""
    found = [f for p in paths for f in discover(p)]
    created = _missing_parts(workspace)
    try:
        workspace.create()
        with Store(workspace.store_path) as store, store.transaction():
            results = [_ingest_one(store, f, progress, strict) for f in found]
    except BaseException:
        _remove(created)
        raise
    return IngestResult(results)


def _ingest_one(
    store: Store, found: Found, progress: ProgressStart | None, strict: bool
) -> FileResult:
    source, parser = found.source, found.parser
    report = ParseReport()
    if progress is not None:
        report.progress = progress(source.display, source.size)
    import_id = store.start_import(source.display, parser.name)
    chats: dict[str, None] = {}
    result = store.add_messages(_read(found, report, chats), import_id)
    if strict and report.unparsed:
        first = report.unparsed_lines[0]
        if report.unit == "line":
            raise InputError(source.display, "line not understood (--strict)", first)
        raise InputError(source.display, f"{report.unit} {first} not understood (--strict)")
    store.finish_import(import_id, result, report.unparsed)
    if report.owner is not None:
        store.set_owner(parser.name, report.owner[0], report.owner[1])
    if report.progress is not None:
        report.progress(source.size)
    return FileResult(
        path=source.display,
        parser=parser.name,
        chats=list(chats),
        messages=result.messages,
        added=result.added,
        present=result.present,
        unparsed=report.unparsed,
        unparsed_lines=report.unparsed_lines,
        unit=report.unit,
        notes=report.notes,
    )


def _read(found: Found, report: ParseReport, chats: dict[str, None]) -> Iterator[Message]:
    """The parser's messages, with low-level read failures turned into errors naming the file."""
    try:
        for m in found.parser.parse(found.source, report):
            if m.chat not in chats:
                chats[m.chat] = None
            yield m
    except READ_ERRORS as e:
        problem = f"cannot read (truncated or corrupt?): {e}"
        raise InputError(found.source.display, problem) from None


def _missing_parts(workspace: Workspace) -> list[Path]:
    """What `workspace.create()` and the store would create, to remove on failure."""
    parts = []
    if not workspace.root.exists():
        parts.append(workspace.root)
    for p in (workspace.settings_path, workspace.store_path):
        if not p.exists():
            parts.append(p)
    return parts


def _remove(created: list[Path]) -> None:
    for p in reversed(created):
        if p.is_dir():
            for sidecar in p.iterdir():  # nothing else can be in a directory we just made
                sidecar.unlink()
            p.rmdir()
        else:
            p.unlink(missing_ok=True)
            for suffix in ("-wal", "-shm", "-journal"):
                p.with_name(p.name + suffix).unlink(missing_ok=True)
