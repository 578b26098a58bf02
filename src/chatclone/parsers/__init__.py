"""Parsers, one module per messenger, and the registry that picks one by sniffing the file.

Built-in parsers register through the same `register()` that a plugin would call.
"""

from __future__ import annotations

from functools import cache

from chatclone.parsers.base import Parser, ParseReport, Source

_REGISTRY: list[Parser] = []


def register(parser: Parser) -> None:
    """Make a parser available to `chatclone ingest`. Later registrations are tried first."""
    _REGISTRY.insert(0, parser)


def parsers() -> list[Parser]:
    _load_builtins()
    return list(_REGISTRY)


def find_parser(source: Source) -> Parser | None:
    """The first registered parser that recognises `source`, or None."""
    for parser in parsers():
        if parser.sniff(source):
            return parser
    return None


@cache
def _load_builtins() -> None:
    """The built-in entries, registered once, on first use, through the same hook a plugin uses."""
    from chatclone.parsers.chatlab import ChatLabParser
    from chatclone.parsers.csv_chat import CsvParser
    from chatclone.parsers.discord import DiscordParser
    from chatclone.parsers.discord_package import DiscordPackageParser
    from chatclone.parsers.googlechat import GoogleChatParser
    from chatclone.parsers.imessage import IMessageParser
    from chatclone.parsers.line import LineParser
    from chatclone.parsers.messenger import InstagramParser, MessengerParser
    from chatclone.parsers.signal import SignalParser
    from chatclone.parsers.slack import SlackParser
    from chatclone.parsers.sms import SmsBackupParser
    from chatclone.parsers.telegram import TelegramParser
    from chatclone.parsers.whatsapp import WhatsAppParser

    register(ChatLabParser())
    register(CsvParser())
    register(DiscordParser())
    register(DiscordPackageParser())
    register(GoogleChatParser())
    register(IMessageParser())
    register(LineParser())
    register(MessengerParser())
    register(InstagramParser())
    register(SignalParser())
    register(SlackParser())
    register(SmsBackupParser())
    register(TelegramParser())
    register(WhatsAppParser())


__all__ = ["ParseReport", "Parser", "Source", "find_parser", "parsers", "register"]
