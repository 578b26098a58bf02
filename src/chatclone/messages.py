"""The normalized message model: the one vocabulary every stage speaks.

A parser turns an export into `Message`s; the store keeps them; later stages read them back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What a message is, independent of the messenger it came from."""

    TEXT = "text"
    MEDIA = "media"  # photo, video, voice note, sticker, file…; a caption stays in `text`
    DELETED = "deleted"  # "This message was deleted" and its translations
    SYSTEM = "system"  # group events, encryption notices; no sender
    CALL = "call"  # voice/video calls, missed or not
    LOCATION = "location"
    POLL = "poll"
    CONTACT = "contact"  # a shared contact card


# A kind's plain text and back, by dict: rows store (and bind) the text, and the enum's own
# constructor is slow in loops that run per message.
KIND_TEXT: dict[Kind, str] = {k: k.value for k in Kind}
KIND_OF: dict[str, Kind] = {k.value: k for k in Kind}


@dataclass(slots=True)
class Message:
    """One message as written in an export.

    `ts` is the local wall-clock time the export shows, in ISO 8601 (`2024-03-14T19:05` or, where
    the export has seconds, `2024-03-14T19:05:12`): exports carry no time zone, so none is invented,
    except for Telegram records that hold only an instant (`date_unixtime`), shown in the [ingest]
    time zone (this machine's by default; the ingest report says which).
    """

    chat: str  # the chat's display name
    chat_id: str  # stable across exports of the same chat
    source: str  # "whatsapp", "telegram", …
    ts: str
    sender: str | None  # display name; None for system lines
    kind: Kind
    text: str  # newlines kept; markers such as "<This message was edited>" stripped
    edited: bool = False
    reply_to: str | None = None  # source id of the message this one answers
    source_id: str | None = None  # the message's own id where the export has one
    attachment: str | None = None  # media file name where the export names it
    origin_file: str = ""  # provenance: which file …
    origin_line: int | None = None  # … and which line (text exports)
    # The sender's own id where the export names people by one (Telegram `user123`, a Discord or
    # Slack user id, a ChatLab `platformId`, a Google Chat e-mail): stable where names change.
    sender_id: str | None = None

    def content_hash(self) -> bytes:
        """Identity of the message's content, for de-duplicating repeated imports.

        The attachment name is left out on purpose: an export "with media" and one "without media"
        of the same chat describe the same messages.
        """
        return content_digest(self.chat_id, self.ts, self.sender, self.kind, self.text)


# The two row layouts of a `RowBatch`: every column of the store's messages but its id, key and
# import, or fewer, for messages with no id, reply or sender id of their own (WhatsApp's).
FULL_ROW = (
    "chat_id", "ts", "sender", "kind", "text", "edited", "reply_to", "source_id", "attachment",
    "origin_line", "sender_id",
)  # fmt: skip
PLAIN_ROW = ("chat_id", "ts", "sender", "kind", "text", "edited", "attachment", "origin_line")

# A batch of a file's rows: the chats first seen in it (id, name, messenger) and the messages as
# rows not yet keyed, all in one of the layouts `FULL_ROW` and `PLAIN_ROW`.
RowBatch = tuple[list[tuple[str, str, str]], list[tuple[Any, ...]]]


def content_digest(chat_id: str, ts: str, sender: str | None, kind: str, text: str) -> bytes:
    """`Message.content_hash` of a message given by its fields (the store keys rows with it)."""
    # `Kind` is a str: joining it gives its value. One encode and one hash call: this runs for
    # every message ingested.
    data = "\x1f".join((chat_id, ts, sender or "\x00", kind, text))
    return hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass(slots=True, frozen=True)
class Chat:
    """A conversation: a group or a one-to-one chat."""

    id: str
    name: str
    source: str


def chat_id_for(source: str, name: str) -> str:
    """A stable id for a chat known only by its name (WhatsApp exports have no ids)."""
    digest = hashlib.blake2b(name.strip().casefold().encode(), digest_size=6).hexdigest()
    return f"{source}:{digest}"
