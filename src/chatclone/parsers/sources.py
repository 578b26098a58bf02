"""From the paths a user gives to the `Source`s the parsers read: files, folders and zip archives."""

from __future__ import annotations

import fnmatch
import glob
import os
import posixpath
import re
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO

from chatclone.errors import InputError
from chatclone.parsers import Parser, find_parser
from chatclone.parsers.base import Source, head_text

# Files inside an export folder or zip worth sniffing; the rest are photos, stickers, voice notes.
CANDIDATE_SUFFIXES = {".txt", ".json", ".jsonl", ".xml", ".csv", ".tsv", ".db"}
_DAY_FILE = re.compile(r"\d{4}-\d{2}-\d{2}\.json")  # Slack: `<channel>/<YYYY-MM-DD>.json`


@dataclass
class Found:
    """A source and the parser that recognised it."""

    source: Source
    parser: Parser


def discover(path: Path) -> list[Found]:
    """Every chat export found at `path`; raises `InputError` if there is none or it can't be read."""
    if not path.exists():
        raise InputError(str(path), "no such file or directory")
    if path.is_dir():
        found = [f for p in sorted(path.rglob("*")) if p.is_file() for f in _from_dir_entry(p)]
        if not found:
            raise InputError(str(path), "no chat export found in this folder")
        return found
    if zipfile.is_zipfile(path) or path.suffix.lower() == ".zip":
        return _from_zip(path)
    return [_recognise(_file_source(path))]


def _from_dir_entry(path: Path) -> Iterator[Found]:
    # Inside a folder only likely candidates are sniffed, and what no parser knows is skipped:
    # an export folder is mostly media.
    if path.suffix.lower() == ".zip":
        yield from _from_zip(path, quiet=True)
    elif path.suffix.lower() in CANDIDATE_SUFFIXES:
        source = _file_source(path)
        if source.size and (parser := find_parser(source)) is not None:
            yield Found(source, parser)


def _file_source(path: Path) -> Source:
    try:
        size = path.stat().st_size
    except OSError as e:
        raise InputError(str(path), f"cannot read: {e.strerror}") from None
    hint = _name_hint(path, path.parent.name)
    return Source(str(path), partial(_open_file, path), size, hint, sibling=partial(_near, path))


def _near(path: Path, relative: str) -> Source | None:
    pattern = os.path.normpath(os.path.join(glob.escape(str(path.parent)), relative))
    near = sorted(p for p in map(Path, glob.glob(pattern)) if p.is_file())
    return _file_source(near[0]) if near else None


def _name_hint(file: Path, container: str) -> str:
    """The name a parser may take the chat's name from: the file's own, except where the chat is
    named by what holds it (`container`: the folder, or the zip's stem)."""
    if file.name == "_chat.txt":  # WhatsApp iOS: the folder or zip is named after the chat
        return f"{container}.txt"
    if file.name in ("data.json", "messages.json"):  # one folder per chat: signal-export's
        return f"{file.parent.name or container}/{file.name}"  # `<chat>/`, Google Chat's `<group>/`
    if _DAY_FILE.fullmatch(file.name) and file.parent.name:  # Slack: the folder is the channel
        return f"{file.parent.name}/{file.name}"
    if re.fullmatch(r"message_\d+\.json", file.name):  # Meta: `…/messages/inbox/<thread>/`,
        parts = file.parts[-5:]  # with the folders above that tell Instagram from Facebook
        return "/".join((container, *parts) if len(file.parts) < 5 else parts)
    return file.name


def _open_file(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as e:
        raise InputError(str(path), f"cannot read: {e.strerror}") from None


def _recognise(source: Source) -> Found:
    if source.size == 0:
        raise InputError(source.display, "the file is empty")
    parser = find_parser(source)
    if parser is None:
        why, line = _why(source)
        raise InputError(source.display, f"not a chat export chatclone understands: {why}", line)
    return Found(source, parser)


EXPECTED = (
    "expected a WhatsApp header such as `12/31/24, 9:15 PM - Name: text` or "
    "`[31.12.24, 21:15:00] Name: text`, or Telegram Desktop's result.json"
)
_SHOWN_LINES, _SHOWN_CHARS = 3, 40


def _why(source: Source) -> tuple[str, int | None]:
    """What the file starts with and what was expected instead, and the first line it tried."""
    text = head_text(source)
    if text is None:
        return f"it holds binary data; {EXPECTED}", None
    numbered = [(n, line.strip()) for n, line in enumerate(text.splitlines()[:50], 1)]
    tried = [(n, line) for n, line in numbered if line][:_SHOWN_LINES]
    if not tried:
        return f"it holds only blank lines; {EXPECTED}", None
    shown = ", ".join(
        repr(line if len(line) <= _SHOWN_CHARS else line[: _SHOWN_CHARS - 1] + "…")
        for _, line in tried
    )
    if source.name_hint.lower().endswith(".json"):  # a JSON file's lines mean little
        return f"a JSON file that starts {shown}; {EXPECTED}", None
    return f"its first lines are {shown}; {EXPECTED}", tried[0][0]


# Open archives by (path, size, modification time): reading a zip's directory costs about 150 ms
# for 4,000 members (a Discord package, a Slack export), once per member read and per sniff
# before. A few stay open; a member being read keeps its archive's file open even when evicted.
_ARCHIVES: OrderedDict[tuple[str, int, int], zipfile.ZipFile] = OrderedDict()
_OPEN_ARCHIVES = 8


def _archive(path: Path) -> zipfile.ZipFile:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    archive = _ARCHIVES.get(key)
    if archive is None:
        archive = _ARCHIVES[key] = zipfile.ZipFile(path)
        if len(_ARCHIVES) > _OPEN_ARCHIVES:
            _ARCHIVES.popitem(last=False)[1].close()
    _ARCHIVES.move_to_end(key)
    return archive


def _from_zip(path: Path, quiet: bool = False) -> list[Found]:
    try:
        archive = _archive(path)
        members = [m for m in archive.infolist() if not m.is_dir()]
        sizes = {m.filename: m.file_size for m in members}
    except (zipfile.BadZipFile, OSError) as e:
        if quiet:
            return []
        problem = f"not a readable zip archive (truncated or corrupt?): {e}"
        raise InputError(str(path), problem) from None
    found = []
    for member in members:
        member_path = Path(member.filename)
        if member_path.suffix.lower() not in CANDIDATE_SUFFIXES or member.file_size == 0:
            continue
        # iOS names the text `_chat.txt`; the chat's name is then in the zip's own name.
        source = _member_source(path, sizes, member.filename)
        if (parser := find_parser(source)) is not None:
            found.append(Found(source, parser))
    if not found and not quiet:
        raise InputError(str(path), "this zip holds no chat export chatclone understands")
    return found


def _member_source(path: Path, sizes: dict[str, int], name: str) -> Source:
    hint = _name_hint(Path(name), path.stem)
    opener = partial(_open_member, path, name)
    near = partial(_near_member, path, sizes, name)
    return Source(f"{path}:{name}", opener, sizes[name], hint, sibling=near)


def _near_member(path: Path, sizes: dict[str, int], name: str, relative: str) -> Source | None:
    near = posixpath.normpath(posixpath.join(posixpath.dirname(name), relative))
    if near not in sizes and any(c in relative for c in "*?["):  # a wildcard: the first match
        folder = glob.escape(posixpath.dirname(name))
        pattern = posixpath.normpath(posixpath.join(folder, relative))
        near = min((n for n in sizes if fnmatch.fnmatchcase(n, pattern)), default=near)
    return _member_source(path, sizes, near) if near in sizes else None


def _open_member(path: Path, name: str) -> IO[bytes]:
    try:
        return _archive(path).open(name)
    except (zipfile.BadZipFile, OSError) as e:
        raise InputError(f"{path}:{name}", f"cannot read from the zip: {e}") from None
