"""Discord's own data package (User Settings → Data & Privacy → Request Data).

Discord mails a link to `package.zip`. Discord's help article on it ("Your Discord Data Package",
support.discord.com 360004957991) says its messages are "all messages you have sent in servers, DMs
or group DMs" (minus those deleted), and the package's own `README.txt` calls the folder "folders
for each channel you've sent messages in": the package holds the account owner's messages and no
one else's. So every message read here is the owner's; a channel is a chat with only one side.
That is the person's own writing (their style, what they said: memory), never a conversation to
learn replies from (the README says why).

The registry sniffs one file at a time, so each channel's `messages.json` (an array whose first
record has `ID`, `Timestamp` and `Contents`) or `messages.csv` (that header) is a source of its
own; it finds `channel.json`, `../index.json` and the account's `user.json` through
`Source.sibling` (the package's files are read once, then kept).

The package's layout and the chat each channel becomes: `discord_package_files`; how its records
become messages: `discord_package_records`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from chatclone.errors import InputError
from chatclone.messages import Message
from chatclone.parsers.base import ParseReport, Source, nothing_readable
from chatclone.parsers.discord_package_files import (
    NO_NAME,
    USER_FILES,
    Channel,
    Package,
    messages_root,
)
from chatclone.parsers.discord_package_records import RecordReader, csv_columns

_SNIFF_KEYS = tuple(re.compile(rb'"%s"\s*:' % key) for key in (b"ID", b"Timestamp", b"Contents"))
_SNIFF_RECORD = 4096


class DiscordPackageParser:
    name = "discord-package"
    description = "Discord's data package (Request all of my Data): the messages you sent"

    def __init__(self) -> None:
        self._package: tuple[tuple[str, int | None], Package] | None = None

    def sniff(self, source: Source) -> bool:
        head = source.head_content()
        if head.startswith(b"["):
            first = head[1:].lstrip()
            if not first.startswith(b"{"):
                return False
            record = first[:_SNIFF_RECORD]
            return all(key.search(record) for key in _SNIFF_KEYS)
        return csv_columns(head.split(b"\n", 1)[0]) is not None

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        package = self._package_of(source)
        channel = Channel.read(source, package)
        account = package.account
        report.owner = (account.name or NO_NAME, account.user_id or "me")
        reader = RecordReader(source, report, package, channel)
        head = source.head_content()
        if head.startswith(b"["):
            report.unit = "record"  # JSON records are not lines: named by position
            reader.read_json()
        else:
            columns = csv_columns(head.split(b"\n", 1)[0])
            if columns is None:
                raise InputError(source.display, "neither a JSON array nor the package's CSV")
            reader.read_csv(columns)
        yield from reader.in_order()
        if reader.records and not reader.kept and not reader.empty:
            where, reason, line = reader.first_failure or ("record 1", "not understood", None)
            raise nothing_readable(source, reader.records, "message record", where, reason, line)
        report.notes.extend(reader.notes())

    def _package_of(self, source: Source) -> Package:
        """The package's index and account, read once for all the channels of a package."""
        index = source.sibling("../index.json") if source.sibling else None
        key = (messages_root(source.display), index.size if index else None)
        if self._package is not None and self._package[0] == key:
            return self._package[1]
        package = Package()
        package.read_index(index)
        if source.sibling is not None:
            for relative in USER_FILES:
                found = source.sibling(relative)
                if found is not None and package.read_account(found):
                    break
        self._package = (key, package)
        return package
