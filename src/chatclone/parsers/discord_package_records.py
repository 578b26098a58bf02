"""A channel of Discord's data package: its message records (JSON or CSV) → the owner's
`Message`s, in time order, with the notes on what was kept and why not.

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

import posixpath
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from chatclone.messages import Kind, Message
from chatclone.parsers.base import Clock, ParseReport, Source, csv_rows
from chatclone.parsers.discord_package_files import NO_NAME, Channel, Package, snowflake
from chatclone.parsers.jsonstream import json_events, value_at

_CSV_COLUMNS = ("id", "timestamp", "contents", "attachments")
_EMOJI = re.compile(r"<a?:(\w{1,64}):\d{1,20}>")
_MENTION = re.compile(r"<@!?(\d{1,20})>")


def csv_columns(line: bytes) -> dict[str, int] | None:
    """The column of each field the package's CSV header names; None for any other first line."""
    text = line.decode("utf-8", "replace").strip().lstrip("\ufeff")
    names = [name.strip().strip('"').lower() for name in text.split(",")]
    if sorted(names) != sorted(_CSV_COLUMNS):
        return None
    return {name: i for i, name in enumerate(names)}


class RecordReader:
    """A channel's records → the owner's messages, kept until all are read, then sorted."""

    def __init__(
        self, source: Source, report: ParseReport, package: Package, channel: Channel
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
        message_id = snowflake(ident)
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
        for line, row in csv_rows(self.source, "utf-8-sig"):
            if not any(cell.strip() for cell in row):
                self.report.blank_lines += 1
                continue
            self.records += 1
            where = f"line {line}"
            if len(row) < needed or len(row) > len(columns):
                self._fail(line, where, f"{len(row)} field(s), the header has {len(columns)}")
                continue
            ident = row[columns["id"]].strip()
            message_id = snowflake(ident)
            if message_id is None and ident:
                self._fail(line, where, f"`ID` is not a message id: {ident[:20]!r}")
                continue
            at = columns["attachments"]
            files = _attachments(row[at] if at < len(row) else "") or []
            stamp = row[columns["timestamp"]]
            self._add(line, where, message_id, stamp, row[columns["contents"]], files, line)

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
