"""Parsers, one module per messenger, and the registry that picks one by sniffing the file.

Built-in parsers register through the same `register()` that a plugin would call.
"""

from __future__ import annotations

from functools import cache

from chatclone.parsers.base import Parser, ParseReport, Source

_REGISTRY: list[Parser | str] = []  # a built-in not yet needed is its name in `_BUILTINS`

# The built-ins, registered in this order (so tried in the reverse): each module is imported only
# when a file gets as far as its sniff, so a WhatsApp file costs the WhatsApp parser alone.
_BUILTINS = (
    "chatlab", "csv_chat", "discord", "discord_package", "googlechat", "imessage", "line",
    "messenger", "instagram", "signal", "slack", "sms", "telegram", "whatsapp",
)  # fmt: skip


def register(parser: Parser) -> None:
    """Make a parser available to `chatclone ingest`. Later registrations are tried first."""
    _REGISTRY.insert(0, parser)


def parsers() -> list[Parser]:
    return [_entry(i) for i in range(len(_entries()))]


def find_parser(source: Source) -> Parser | None:
    """The first registered parser that recognises `source`, or None."""
    for i in range(len(_entries())):
        parser = _entry(i)
        if parser.sniff(source):
            return parser
    return None


def _entries() -> list[Parser | str]:
    _register_builtins()
    return _REGISTRY


@cache
def _register_builtins() -> None:
    """The built-in entries, registered once, on first use, as a plugin would register."""
    for name in _BUILTINS:
        _REGISTRY.insert(0, name)


def _entry(i: int) -> Parser:
    entry = _REGISTRY[i]
    if isinstance(entry, str):
        entry = _REGISTRY[i] = _load_builtins(entry)
    return entry


def _load_builtins(name: str) -> Parser:
    """The built-in parser `name` (of `_BUILTINS`), imported now."""
    match name:
        case "chatlab":
            from chatclone.parsers.chatlab import ChatLabParser

            return ChatLabParser()
        case "csv_chat":
            from chatclone.parsers.csv_chat import CsvParser

            return CsvParser()
        case "discord":
            from chatclone.parsers.discord import DiscordParser

            return DiscordParser()
        case "discord_package":
            from chatclone.parsers.discord_package import DiscordPackageParser

            return DiscordPackageParser()
        case "googlechat":
            from chatclone.parsers.googlechat import GoogleChatParser

            return GoogleChatParser()
        case "imessage":
            from chatclone.parsers.imessage import IMessageParser

            return IMessageParser()
        case "line":
            from chatclone.parsers.line import LineParser

            return LineParser()
        case "messenger":
            from chatclone.parsers.messenger import MessengerParser

            return MessengerParser()
        case "instagram":
            from chatclone.parsers.messenger import InstagramParser

            return InstagramParser()
        case "signal":
            from chatclone.parsers.signal import SignalParser

            return SignalParser()
        case "slack":
            from chatclone.parsers.slack import SlackParser

            return SlackParser()
        case "sms":
            from chatclone.parsers.sms import SmsBackupParser

            return SmsBackupParser()
        case "telegram":
            from chatclone.parsers.telegram import TelegramParser

            return TelegramParser()
        case "whatsapp":
            from chatclone.parsers.whatsapp import WhatsAppParser

            return WhatsAppParser()
    raise ValueError(f"no built-in parser {name!r}")


__all__ = ["ParseReport", "Parser", "Source", "find_parser", "parsers", "register"]
