"""Ingest: export files → parsers → store, as one transaction.

Every path is discovered (and so checked) before anything is written; all files of one `ingest`
land together or not at all, and a workspace that the failed ingest created is removed again, so
bad input leaves the workspace exactly as it was. A chat new to the store that is a stored chat
under another name (an export downloaded twice, a renamed file) is merged into it (`overlap`).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chatclone.errors import ChatcloneError, InputError
from chatclone.messages import chat_id_for
from chatclone.overlap import SAME, UNSURE, best_overlap
from chatclone.parsers.base import DATE_ORDERS, ParseOptions, ParseReport
from chatclone.parsers.sources import Found, discover
from chatclone.reading import file_rows
from chatclone.store import AddResult, Store
from chatclone.workspace import Workspace

# Called once per file with (name, size in bytes); returns a callback for the byte position.
ProgressStart = Callable[[str, int], Callable[[int], None] | None]


@dataclass(frozen=True)
class ChatChoice:
    """Where the chats of the files go: `chat` names the chat to store them in (a stored one to
    merge into, or a new name); `as_new` keeps a chat new to the store apart even when it is a
    stored chat under another name."""

    chat: str | None = None
    as_new: bool = False


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
    options: ParseOptions | None = None,
    choice: ChatChoice | None = None,
) -> IngestResult:
    """Parse and store every export under `paths`. Raises `InputError` and changes nothing if any
    file cannot be read (or, with `strict`, has a line that is not understood, or holds a chat
    that may or may not be a stored one: see `overlap`). `options` are what the user said about
    the exports (`--date-order`, the [ingest] time zone); `choice`, where their chats go."""
    choice = choice or ChatChoice()
    found = [f for p in paths for f in discover(p)]
    if options is None:
        options = parse_options(workspace)
    created = _missing_parts(workspace)
    try:
        workspace.create()
        with _without_cycle_collection(), Store(workspace.store_path) as store, store.transaction():
            results = [_ingest_one(store, f, progress, strict, options, choice) for f in found]
    except BaseException:
        _remove(created)
        raise
    return IngestResult(results)


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Reading makes millions of rows, tuples of strings with no cycles among them, that the
    cycle collector would scan again and again (a fifth of a big ingest's time, in the process
    that reads and the one that writes): it is off while files are read, and on again after."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def parse_options(workspace: Workspace, date_order: str | None = None) -> ParseOptions:
    """The flags and the workspace's [ingest] settings, checked, as the parsers take them."""
    order = None
    if date_order is not None:
        order = date_order.strip().upper()
        if order not in DATE_ORDERS:
            raise ChatcloneError(f"--date-order takes {', '.join(DATE_ORDERS)}, not '{date_order}'")
    settings = workspace.settings().ingest
    settings.check()
    return ParseOptions(order, settings.timezone)


def _ingest_one(
    store: Store,
    found: Found,
    progress: ProgressStart | None,
    strict: bool,
    options: ParseOptions,
    choice: ChatChoice,
) -> FileResult:
    source, parser = found.source, found.parser
    report = ParseReport(options=options)
    if progress is not None:
        report.progress = progress(source.display, source.size)
    import_id = store.start_import(source.display, parser.name)
    chats: dict[str, tuple[str, str]] = {}
    known = store.chat_id_set()
    result = store.add_rows(file_rows(found, report, chats), import_id)
    if strict and report.unparsed:
        first = report.unparsed_lines[0]
        if report.unit == "line":
            raise InputError(source.display, "line not understood (--strict)", first)
        raise InputError(source.display, f"{report.unit} {first} not understood (--strict)")
    names, change = _place(store, source.display, chats, known, choice, report.notes)
    if change:  # what the file added is what the store gained, once its chats are in place
        result = AddResult(result.messages, result.added + change)
    store.finish_import(import_id, result, report.unparsed)
    if report.owner is not None:
        store.set_owner(parser.name, report.owner[0], report.owner[1])
    if report.progress is not None:
        report.progress(source.size)
    return FileResult(
        path=source.display,
        parser=parser.name,
        chats=names,
        messages=result.messages,
        added=result.added,
        present=result.present,
        unparsed=report.unparsed,
        unparsed_lines=report.unparsed_lines,
        unit=report.unit,
        notes=report.notes,
    )


def _place(
    store: Store,
    display: str,
    chats: dict[str, tuple[str, str]],
    known: set[str],
    choice: ChatChoice,
    notes: list[str],
) -> tuple[list[str], int]:
    """Put each chat of a file where it belongs: the chat named by `--chat`; else, for a chat new
    to the store, the stored chat it turns out to be (`overlap`). The chats' names, and the change
    in the store's count that moving them made (messages the target chats already held)."""
    names, change = [], 0
    for chat_id, (name, source) in chats.items():
        if choice.chat is not None:
            target_id, target = _named(store, source, choice.chat)
            if target_id != chat_id:
                change += store.move_chat(chat_id, target_id, target)
                notes.append(f"stored in the chat '{target}' (--chat), not '{name}'")
                name = target
        elif chat_id not in known and not choice.as_new and chat_id == chat_id_for(source, name):
            # Only a chat known by its name alone (WhatsApp, LINE) can be a stored chat under
            # another name; one keyed by the messenger's own id (a Discord channel) cannot, and
            # comparing it with every stored chat made packages of many channels slow.
            found = best_overlap(store, chat_id, source)
            if found is not None and found.verdict == SAME:
                change += store.move_chat(chat_id, found.chat_id, found.name)
                notes.append(
                    f"'{name}' is the stored chat '{found.name}' under another name: "
                    f"{found.shared} of its {found.size} messages were already there "
                    f"({found.run} in a row), so it was merged into it (--as-new-chat keeps it "
                    "apart)"
                )
                name = found.name
            elif found is not None and found.verdict == UNSURE:
                raise InputError(
                    display,
                    f"the chat '{name}' shares {found.shared} messages ({found.run} in a row) "
                    f"with the stored chat '{found.name}': too few to be sure it is the same "
                    f"chat. Add --chat '{found.name}' to merge it into that chat, or "
                    "--as-new-chat to keep it apart; nothing was stored",
                )
        names.append(name)
    return names, change


def _named(store: Store, source: str, name: str) -> tuple[str, str]:
    """The stored chat of this messenger with this name, or a new chat's id and name."""
    for chat_id, stored in store.chats_of(source):
        if stored == name:
            return chat_id, stored
    return chat_id_for(source, name), name


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
