"""Discord's own data package (User Settings → Data & Privacy → Request Data).

Discord mails a link to `package.zip`. Discord's help article on it ("Your Discord Data Package",
support.discord.com 360004957991) says its messages are "all messages you have sent in servers, DMs
or group DMs" (minus those deleted), and the package's own `README.txt` calls the folder "folders
for each channel you've sent messages in": the package holds the account owner's messages and no
one else's. So every message read here is the owner's; a channel is a chat with only one side.
That is the person's own writing (their style, what they said: memory), never a conversation to
learn replies from (the README says why).

The layout, and where each fact comes from (public readers of real packages; Discord documents none
of it beyond the README and the help article):

- `messages/index.json`: channel id → a description, "Direct Message with bob#0" (usernames without
  a discriminator get a fake `#0`, or `#0000`), "general in Club", "Unknown channel in …", or null
  (dumpus-app/dumpus-api `src/tasks.py`; davidbmaier/discord-recap `app/lib/stats/messages.js`,
  commits "Remove fake discriminators", "Fix DM channel names for new usernames").
- One folder per channel: `messages/c<channel id>/`; packages made before mid-June 2021 have no `c`
  (`messages/<channel id>/`) (Androz2091/discord-data-package-explorer `src/app/extractor.js`;
  genki-ai/Discord-Data-Package-Parser pull request 12, 2021-06-14).
- `channel.json` in it: `id`, `type`, and where they apply `name`, `guild` {`id`, `name`} (server
  channels and threads) and `recipients` (user ids; DMs, group DMs). `type` was Discord's channel
  type number (0 text, 1 DM, 3 group DM, 5 announcement, 10–12 threads…) until about August 2024,
  then its name ("GUILD_TEXT", "DM", "GROUP_DM", "PUBLIC_THREAD", …) (discord-recap
  `translateChannelType` and commit "Adapt to new folder structure and fix channel types"). Both
  are read. A channel of a server the owner left may have no `name` or `guild`.
- The messages: `messages.csv` until about March 2024 (header `ID,Timestamp,Contents,Attachments`,
  `Timestamp` like `2020-08-25 22:54:05.726000+00:00`, quoted fields that may span lines:
  seanbreckenridge/discord_data `discord_data/parse.py` and its README example), then
  `messages.json`, a JSON array of {`ID`, `Timestamp` like `2021-10-13 15:35:46`, `Contents`,
  `Attachments`} (discord-data-package-explorer commit "add support for new packages format",
  2024-03-15; discord_data 0.2.2 reads `Attachments` as optional). `ID` is written as a JSON
  number in the samples published; a string is read too. `Attachments` holds the attachments'
  CDN URLs separated by spaces, or "".
- `Timestamp` is UTC. The JSON form has no offset; it is the UTC time encoded in the message's own
  id (a snowflake: milliseconds since 2015-01-01 UTC, shifted 22 bits), cut to the second — checked
  here on the five ids and times of real messages quoted in a third-party schema note of the
  package ("Discord Schema", from the Memoria project) and on discord_data's README example (CSV,
  `+00:00`). The CSV form says `+00:00` itself. Times are shown as wall-clock
  time in the ingest zone (`ParseOptions.timezone`, else this machine's), like every other `ts`.
- `account/user.json`: the owner — `id`, `username`, `global_name` (the display name; absent or
  null before Discord's 2023 username change), and `relationships` [{`id`, `user` {`id`,
  `username`, `global_name`}}], the friends list (dumpus-api reads `id`, `username`,
  `relationships[].user.username`, and a `display_name` where there is one, also read here; a Rust
  model of the package, `DUser`, has `global_name: Option<String>`). It may be very large, so it is streamed, once per package. It is missing when
  the user unticks account data in the request form (dumpus-api commit "MISSING_USER_DATA error
  when user.json is absent").
- Since 2025-06-14 the top folders are capitalised (`Messages/`, `Account/`, `Servers/`), and in a
  package of an account set to another language they are translated (`Compte/user.json`), while
  `Activities/Activities_1/users/user.json` (an activity profile: `username`, `discord_id`) also
  exists (discord-data-package-explorer commits "fix: support new Discord packages", "Support
  multi language packages"; discord-recap "Rename translated top-level folders"). So the messages
  root is found from the channel's folder, and `user.json` as `../../account/user.json`,
  `../../Account/user.json`, else the first `../../*/user.json` not in a folder named `…s`
  (`users/`), else any; an activity profile found that way gives the username only.

The registry sniffs one file at a time, so each channel's `messages.json` (an array whose first
record has `ID`, `Timestamp` and `Contents`) or `messages.csv` (that header) is a source of its
own; it finds `channel.json`, `../index.json` and the account's `user.json` through
`Source.sibling` (the package's files are read once, then kept).

Mapping: the chat is the channel, with the id `discord:<channel id>`, the id DiscordChatExporter's
export of the same channel gets (`parsers.discord`), so the two land in one chat; a message's
`source_id` is its Discord id, which the exporter writes too, and the store keys a message that has
one by its chat and id: a message both hold is stored once, as whichever was ingested first wrote
it (the exporter writes the sender's server nickname and mentions by name).
The chat's name: a DM is named after the other person (their name in the friends list, else the
index's "Direct Message with NAME"), a group DM by its `name`, else its members' names; a server
channel "Server / #channel", a thread "Server / thread" (the package does not say its parent).
The sender of every message is the owner, named by `global_name`, else `username`, and reported as
the account's owner (`ParseReport.owner`), so "me" needs no guess; without `user.json` the sender is
"Me". A message with attachments is `media` (the first file's name from its URL), its text kept;
one with neither text nor attachment (a sticker, an embed, a call: the package keeps nothing of
them) is skipped and counted. As DiscordChatExporter does, a custom emoji `<:name:id>` becomes
`:name:` and a user mention `<@id>` becomes `@Name` where the friends list (or the owner) names the
id; other mentions stay as written, counted in a note. Messages are yielded in time order, whatever
the file's order. A record that cannot be read (not an object, no readable `Timestamp`, an `ID`
that is not a message id…) is counted by its position in the file (JSON, `record N`) or the line it
starts on (CSV); a file of which no record can be read fails naming the first.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from chatclone.errors import InputError
from chatclone.messages import Kind, Message, chat_id_for
from chatclone.parsers.base import READ_ERRORS, Clock, ParseReport, Source, nothing_readable
from chatclone.parsers.jsonstream import json_events, value_at

NO_NAME = "Me"  # the sender when the package has no `user.json`
_SNIFF_KEYS = tuple(re.compile(rb'"%s"\s*:' % key) for key in (b"ID", b"Timestamp", b"Contents"))
_SNIFF_RECORD = 4096
_CSV_COLUMNS = ("id", "timestamp", "contents", "attachments")
_FOLDER = re.compile(r"c?(\d{1,20})")
_SNOWFLAKE = re.compile(r"\d{1,20}")
# `*[!s]`: not `Activities/Activities_1/users/user.json`, which a zip's `*` (it crosses `/`) finds
# first where the account folder's translated name sorts after it (`Compte`).
_USER_FILES = (
    "../../account/user.json", "../../Account/user.json", "../../*[!s]/user.json",
    "../../*/user.json",
)  # fmt: skip
_FAKE_DISCRIMINATOR = re.compile(r"#\d{1,4}$")
_DM_INDEX = "Direct Message with "
_EMOJI = re.compile(r"<a?:(\w{1,64}):\d{1,20}>")
_MENTION = re.compile(r"<@!?(\d{1,20})>")

_DM, _GROUP, _THREAD, _CHANNEL = "DM", "group DM", "thread", "server channel"
# Discord's channel types: the numbers packages wrote until 2024, the names they write since.
_TYPES: dict[int | str, str] = {
    0: _CHANNEL, 1: _DM, 2: _CHANNEL, 3: _GROUP, 5: _CHANNEL, 10: _THREAD, 11: _THREAD,
    12: _THREAD, 13: _CHANNEL, 15: _CHANNEL, 16: _CHANNEL,
    "GUILD_TEXT": _CHANNEL, "DM": _DM, "GUILD_VOICE": _CHANNEL, "GROUP_DM": _GROUP,
    "GUILD_ANNOUNCEMENT": _CHANNEL, "GUILD_NEWS": _CHANNEL, "ANNOUNCEMENT_THREAD": _THREAD,
    "GUILD_NEWS_THREAD": _THREAD, "PUBLIC_THREAD": _THREAD, "PRIVATE_THREAD": _THREAD,
    "GUILD_PUBLIC_THREAD": _THREAD, "GUILD_PRIVATE_THREAD": _THREAD, "GUILD_STAGE_VOICE": _CHANNEL,
    "GUILD_FORUM": _CHANNEL, "GUILD_MEDIA": _CHANNEL,
}  # fmt: skip


class DiscordPackageParser:
    name = "discord-package"
    description = "Discord's data package (Request all of my Data): the messages you sent"

    def __init__(self) -> None:
        self._package: tuple[tuple[str, int | None], _Package] | None = None

    def sniff(self, source: Source) -> bool:
        head = source.head_content()
        if head.startswith(b"["):
            first = head[1:].lstrip()
            if not first.startswith(b"{"):
                return False
            record = first[:_SNIFF_RECORD]
            return all(key.search(record) for key in _SNIFF_KEYS)
        return _csv_columns(head.split(b"\n", 1)[0]) is not None

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        package = self._package_of(source)
        channel = _Channel.read(source, package)
        account = package.account
        report.owner = (account.name or NO_NAME, account.user_id or "me")
        reader = _Reader(source, report, package, channel)
        head = source.head_content()
        if head.startswith(b"["):
            report.unit = "record"  # JSON records are not lines: named by position
            reader.read_json()
        else:
            columns = _csv_columns(head.split(b"\n", 1)[0])
            if columns is None:
                raise InputError(source.display, "neither a JSON array nor the package's CSV")
            reader.read_csv(columns)
        yield from reader.in_order()
        if reader.records and not reader.kept and not reader.empty:
            where, reason, line = reader.first_failure or ("record 1", "not understood", None)
            raise nothing_readable(source, reader.records, "message record", where, reason, line)
        report.notes.extend(reader.notes())

    def _package_of(self, source: Source) -> _Package:
        """The package's index and account, read once for all the channels of a package."""
        index = source.sibling("../index.json") if source.sibling else None
        key = (_messages_root(source.display), index.size if index else None)
        if self._package is not None and self._package[0] == key:
            return self._package[1]
        package = _Package()
        package.read_index(index)
        if source.sibling is not None:
            for relative in _USER_FILES:
                found = source.sibling(relative)
                if found is not None and package.read_account(found):
                    break
        self._package = (key, package)
        return package


def _csv_columns(line: bytes) -> dict[str, int] | None:
    """The column of each field the package's CSV header names; None for any other first line."""
    text = line.decode("utf-8", "replace").strip().lstrip("\ufeff")
    names = [name.strip().strip('"').lower() for name in text.split(",")]
    if sorted(names) != sorted(_CSV_COLUMNS):
        return None
    return {name: i for i, name in enumerate(names)}


def _messages_root(display: str) -> str:
    """`…/Messages` of `…/Messages/c123/messages.json`: what identifies one package's files."""
    parts = re.split(r"[/\\]", display)
    return "/".join(parts[:-2])


@dataclass
class _Account:
    """The owner, from `user.json`: id, name, and the friends' names by user id."""

    user_id: str | None = None
    name: str | None = None
    names: dict[str, str] = field(default_factory=dict)
    read_from: str | None = None
    profile_only: bool = False  # an activity profile: the username, no display name or friends


@dataclass
class _Package:
    """What the package says besides a channel's messages."""

    index: dict[str, str] = field(default_factory=dict)
    account: _Account = field(default_factory=_Account)
    problems: list[str] = field(default_factory=list)

    def read_index(self, source: Source | None) -> None:
        data = _load_json(source, self.problems)
        if data is None:
            return
        if not isinstance(data, dict):
            self.problems.append(f"{_shown(source)} is not a JSON object: channels left unnamed")
            return
        self.index = {str(k): v for k, v in data.items() if isinstance(v, str) and v.strip()}

    def read_account(self, source: Source) -> bool:
        """Read the owner from `source`; False if it is not an account's `user.json`."""
        top: dict[str, Any] = {}
        friends: list[Any] = []
        try:
            with json_events(source, None) as events:
                for prefix, event, value in events:
                    if prefix == "relationships.item":
                        friends.append(value_at(events, event, value))
                    elif "." not in prefix and event in ("string", "number"):
                        top.setdefault(prefix, value)
        except (*READ_ERRORS, InputError) as e:
            self.problems.append(f"{_shown(source)} could not be read ({_reason(e)})")
            return False
        user_id, profile = _snowflake(top.get("id")), False
        if user_id is None:  # an activity profile (`Activities/…/users/user.json`)?
            user_id, profile = _snowflake(top.get("discord_id")), True
        username = _text(top.get("username"))
        if user_id is None or not username:
            return False
        shown = _first_text(top, ("global_name", "display_name", "username"))
        name = username if profile else shown
        self.account = _Account(user_id, name, {user_id: name}, _shown(source), profile)
        for friend in friends:
            user = friend.get("user") if isinstance(friend, dict) else None
            if isinstance(user, dict) and (ident := _snowflake(user.get("id"))):
                named = _first_text(user, ("global_name", "display_name", "username"))
                if named:
                    self.account.names.setdefault(ident, named)
        return True


def _load_json(source: Source | None, problems: list[str]) -> Any:
    """A small JSON file of the package, or None (a problem noted) if it cannot be read."""
    if source is None:
        return None
    try:
        with source.open() as f:
            return json.loads(f.read().decode("utf-8-sig"))
    except (*READ_ERRORS, InputError, ValueError) as e:
        problems.append(f"{_shown(source)} could not be read ({_reason(e)})")
        return None


def _shown(source: Source | None) -> str:
    """A package file as notes name it: its path inside the package (`Messages/index.json`)."""
    if source is None:
        return ""
    path = source.display.rsplit(".zip:", 1)[-1]
    parts = re.split(r"[/\\]", path)
    return "/".join(parts[-3:]) if parts[-1] == "channel.json" else "/".join(parts[-2:])


def _reason(error: Exception) -> str:
    if isinstance(error, InputError):
        return error.problem
    return type(error).__name__


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _first_text(fields: dict[str, Any], keys: tuple[str, ...]) -> str:
    """The first of `keys` that holds text (a display name, else a username)."""
    return next((text for key in keys if (text := _text(fields.get(key)))), "")


def _snowflake(value: Any) -> str | None:
    """A Discord id (a snowflake), written as a number or a string; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and _SNOWFLAKE.fullmatch(value.strip()):
        return value.strip()
    return None


@dataclass
class _Channel:
    """The chat a channel's messages go to, from `channel.json` and the index."""

    ident: str | None
    kind: str | None
    name: str
    chat_id: str
    problems: list[str]

    @classmethod
    def read(cls, source: Source, package: _Package) -> _Channel:
        folder = re.split(r"[/\\:]", source.display)[-2:-1]
        match = _FOLDER.fullmatch(folder[0]) if folder else None
        info_source = source.sibling("channel.json") if source.sibling else None
        problems: list[str] = []
        info = _load_json(info_source, problems)
        if info is not None and not isinstance(info, dict):
            problems.append(f"{_shown(info_source)} is not a JSON object")
        info = info if isinstance(info, dict) else {}
        ident = _snowflake(info.get("id")) or (match.group(1) if match else None)
        kind = _kind(info)
        name = _chat_name(ident, kind, info, package) if ident else ""
        if not name:
            name = f"Discord channel {ident}" if ident else "Discord channel"
        chat_id = f"discord:{ident}" if ident else chat_id_for("discord", name)
        return cls(ident, kind, name, chat_id, problems)


def _kind(info: dict[str, Any]) -> str | None:
    kind = info.get("type")
    if isinstance(kind, str):
        kind = kind.strip().upper()
    if isinstance(kind, int | str) and not isinstance(kind, bool) and kind in _TYPES:
        return _TYPES[kind]
    if isinstance(info.get("guild"), dict):
        return _CHANNEL
    recipients = info.get("recipients")
    if isinstance(recipients, list) and len(recipients) >= 2:
        return _DM if len(recipients) == 2 else _GROUP
    return None


def _chat_name(ident: str, kind: str | None, info: dict[str, Any], package: _Package) -> str:
    described = package.index.get(ident, "").strip()
    own = _text(info.get("name"))
    account = package.account
    recipients = info.get("recipients")
    others = [
        r
        for r in (_snowflake(x) for x in (recipients if isinstance(recipients, list) else []))
        if r is not None and r != account.user_id
    ]
    if kind == _DM:
        if len(others) == 1 and others[0] in account.names:
            return account.names[others[0]]
        if described.startswith(_DM_INDEX):
            return _FAKE_DISCRIMINATOR.sub("", described.removeprefix(_DM_INDEX)).strip()
        return own or described or f"Discord DM {ident}"
    if kind == _GROUP:
        if own:
            return own
        if others and all(o in account.names for o in others):
            return ", ".join(account.names[o] for o in others)
        return described or f"Discord group DM {ident}"
    guild = info.get("guild")
    server = _text(guild.get("name")) if isinstance(guild, dict) else ""
    if own and server:
        return f"{server} / {own}" if kind == _THREAD else f"{server} / #{own}"
    return described or (f"#{own}" if own else "")


class _Reader:
    """A channel's records → the owner's messages, kept until all are read, then sorted."""

    def __init__(
        self, source: Source, report: ParseReport, package: _Package, channel: _Channel
    ) -> None:
        self.source = source
        self.report = report
        self.package = package
        self.channel = channel
        self.clock = Clock(report.options.timezone)
        self.sender = package.account.name or NO_NAME
        self.messages: list[tuple[datetime, int, int, Message]] = []
        self.records = 0
        self.kept = 0
        self.empty = 0
        self.unresolved = 0
        self.first_failure: tuple[str, str, int | None] | None = None  # where, why, CSV line

    def read_json(self) -> None:
        with json_events(self.source, self.report.progress) as events:
            for prefix, event, value in events:
                if prefix == "item":
                    self.records += 1
                    self._json_record(value_at(events, event, value), self.records)

    def _json_record(self, raw: Any, position: int) -> None:
        where = f"record {position}"
        if not isinstance(raw, dict):
            self._fail(position, where, "not a JSON object")
            return
        ident = raw.get("ID")
        message_id = _snowflake(ident)
        if message_id is not None:
            where = f"record {position} (message id {message_id})"
        elif ident is not None:
            self._fail(position, where, "`ID` is not a message id")
            return
        contents = raw.get("Contents")
        if contents is not None and not isinstance(contents, str):
            self._fail(position, where, "`Contents` is not text")
            return
        files = _attachments(raw.get("Attachments"))
        if files is None:
            self._fail(position, where, "`Attachments` is not text")
            return
        self._add(position, where, message_id, raw.get("Timestamp"), contents or "", files, None)

    def read_csv(self, columns: dict[str, int]) -> None:
        self.report.unit = "line"
        needed = max(columns["id"], columns["timestamp"], columns["contents"]) + 1
        for line, row in self._csv_rows():
            if not any(cell.strip() for cell in row):
                self.report.blank_lines += 1
                continue
            self.records += 1
            where = f"line {line}"
            if len(row) < needed or len(row) > len(columns):
                self._fail(line, where, f"{len(row)} field(s), the header has {len(columns)}")
                continue
            ident = row[columns["id"]].strip()
            message_id = _snowflake(ident)
            if message_id is None and ident:
                self._fail(line, where, f"`ID` is not a message id: {ident[:20]!r}")
                continue
            at = columns["attachments"]
            files = _attachments(row[at] if at < len(row) else "") or []
            stamp = row[columns["timestamp"]]
            self._add(line, where, message_id, stamp, row[columns["contents"]], files, line)

    def _csv_rows(self) -> Iterator[tuple[int, list[str]]]:
        """(first line, row) for every row after the header."""
        try:
            with self.source.open() as raw:
                f = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                rows = csv.reader(f)
                last = 0
                for row in rows:
                    first, last = last + 1, rows.line_num
                    if first > 1:
                        yield first, row
        except UnicodeDecodeError:
            raise InputError(self.source.display, "not valid UTF-8 text") from None
        except csv.Error as e:
            raise InputError(self.source.display, f"not readable as CSV: {e}") from None

    def _add(
        self,
        position: int,
        where: str,
        message_id: str | None,
        stamp: Any,
        contents: str,
        files: list[str],
        line: int | None,
    ) -> None:
        moment = _instant(stamp)
        ts = self.clock.wall_time(int(moment.timestamp())) if moment is not None else None
        if moment is None or ts is None:
            self._fail(position, where, "no readable `Timestamp`")
            return
        if not contents.strip() and not files:
            self.empty += 1
            return
        self.kept += 1
        message = Message(
            chat=self.channel.name,
            chat_id=self.channel.chat_id,
            source="discord",
            ts=ts,
            sender=self.sender,
            kind=Kind.MEDIA if files else Kind.TEXT,
            text=self._plain(contents),
            source_id=message_id,
            attachment=_file_name(files[0]) if files else None,
            origin_file=self.source.display,
            origin_line=line,
        )
        order = int(message_id) if message_id is not None else 0
        self.messages.append((moment, order, position, message))

    def _plain(self, text: str) -> str:
        """Custom emoji and the mentions the package can name, as DiscordChatExporter writes them."""
        text = _EMOJI.sub(lambda m: f":{m.group(1)}:", text)

        def mention(match: re.Match[str]) -> str:
            name = self.package.account.names.get(match.group(1))
            if name is None:
                self.unresolved += 1
                return match.group(0)
            return f"@{name}"

        return _MENTION.sub(mention, text)

    def in_order(self) -> Iterator[Message]:
        self.messages.sort(key=lambda item: item[:3])
        for *_, message in self.messages:
            yield message

    def _fail(self, position: int, where: str, reason: str) -> None:
        self.report.not_understood(position)
        if self.first_failure is None:
            line = position if self.report.unit == "line" else None
            self.first_failure = (where, reason, line)

    def notes(self) -> list[str]:
        """Few lines: a package has a file per channel, and each file's notes are printed."""
        channel, package = self.channel, self.package
        kind = f"{channel.kind}, " if channel.kind else ""
        unparsed = self.records - self.kept - self.empty
        notes = [
            f"Discord data package: {channel.name!r} ({kind}channel {channel.ident or '?'}), only "
            f"the owner's own messages (the package holds no one else's): {self.records} "
            f"record(s), {self.kept} kept, {self.empty} with neither text nor attachment skipped "
            f"(stickers, embeds, calls), {unparsed} not understood",
            f"times converted from UTC to {self.clock.describe()}",
        ]
        if package.account.name is None:
            notes.append(f"no account user.json found: the owner's messages are from {NO_NAME!r}")
        elif package.account.profile_only:
            notes.append(
                f"the owner named by the activity profile {package.account.read_from} "
                "(a username; no account user.json found)"
            )
        notes += package.problems + channel.problems
        if self.unresolved:
            notes.append(
                f"{self.unresolved} mention(s) of people not in the friends list kept as written"
            )
        return notes


def _instant(value: Any) -> datetime | None:
    """`Timestamp` as an aware instant: UTC where it has no offset (the JSON form)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _attachments(value: Any) -> list[str] | None:
    """The attachment URLs (a space-separated string, or a list); None if it is neither."""
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if v.strip()]
    return None


def _file_name(url: str) -> str:
    """`photo one.png` of `https://cdn.discordapp.com/attachments/1/2/photo%20one.png?ex=…`."""
    return unquote(posixpath.basename(urlsplit(url).path)) or url
