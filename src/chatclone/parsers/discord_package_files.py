"""Discord's data package, besides the messages: `index.json`, each channel's `channel.json`
and the account's `user.json` → the owner, the friends' names, and each channel's chat (its id and
name). `discord_package` reads the package through these; `discord_package_records` reads a
channel's messages.

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

Mapping: the chat is the channel, with the id `discord:<channel id>`, the id DiscordChatExporter's
export of the same channel gets (`parsers.discord`), so the two land in one chat; a message's
`source_id` is its Discord id, which the exporter writes too, and the store keys a message that has
one by its chat and id: a message both hold is stored once, as whichever was ingested first wrote
it (the exporter writes the sender's server nickname and mentions by name).
The chat's name: a DM is named after the other person (their name in the friends list, else the
index's "Direct Message with NAME"), a group DM by its `name`, else its members' names; a server
channel "Server / #channel", a thread "Server / thread" (the package does not say its parent).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from chatclone.errors import InputError
from chatclone.messages import chat_id_for
from chatclone.parsers.base import READ_ERRORS, Source
from chatclone.parsers.jsonstream import json_events, value_at

NO_NAME = "Me"  # the sender when the package has no `user.json`
_FOLDER = re.compile(r"c?(\d{1,20})")
_SNOWFLAKE = re.compile(r"\d{1,20}")
# `*[!s]`: not `Activities/Activities_1/users/user.json`, which a zip's `*` (it crosses `/`) finds
# first where the account folder's translated name sorts after it (`Compte`).
USER_FILES = (
    "../../account/user.json", "../../Account/user.json", "../../*[!s]/user.json",
    "../../*/user.json",
)  # fmt: skip
_FAKE_DISCRIMINATOR = re.compile(r"#\d{1,4}$")
_DM_INDEX = "Direct Message with "

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


def messages_root(display: str) -> str:
    """`…/Messages` of `…/Messages/c123/messages.json`: what identifies one package's files."""
    parts = re.split(r"[/\\]", display)
    return "/".join(parts[:-2])


@dataclass
class Account:
    """The owner, from `user.json`: id, name, and the friends' names by user id."""

    user_id: str | None = None
    name: str | None = None
    names: dict[str, str] = field(default_factory=dict)
    read_from: str | None = None
    profile_only: bool = False  # an activity profile: the username, no display name or friends


@dataclass
class Package:
    """What the package says besides a channel's messages."""

    index: dict[str, str] = field(default_factory=dict)
    account: Account = field(default_factory=Account)
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
        user_id, profile = snowflake(top.get("id")), False
        if user_id is None:  # an activity profile (`Activities/…/users/user.json`)?
            user_id, profile = snowflake(top.get("discord_id")), True
        username = _text(top.get("username"))
        if user_id is None or not username:
            return False
        shown = _first_text(top, ("global_name", "display_name", "username"))
        name = username if profile else shown
        self.account = Account(user_id, name, {user_id: name}, _shown(source), profile)
        for friend in friends:
            user = friend.get("user") if isinstance(friend, dict) else None
            if isinstance(user, dict) and (ident := snowflake(user.get("id"))):
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


def snowflake(value: Any) -> str | None:
    """A Discord id (a snowflake), written as a number or a string; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and _SNOWFLAKE.fullmatch(value.strip()):
        return value.strip()
    return None


@dataclass
class Channel:
    """The chat a channel's messages go to, from `channel.json` and the index."""

    ident: str | None
    kind: str | None
    name: str
    chat_id: str
    problems: list[str]

    @classmethod
    def read(cls, source: Source, package: Package) -> Channel:
        folder = re.split(r"[/\\:]", source.display)[-2:-1]
        match = _FOLDER.fullmatch(folder[0]) if folder else None
        info_source = source.sibling("channel.json") if source.sibling else None
        problems: list[str] = []
        info = _load_json(info_source, problems)
        if info is not None and not isinstance(info, dict):
            problems.append(f"{_shown(info_source)} is not a JSON object")
        info = info if isinstance(info, dict) else {}
        ident = snowflake(info.get("id")) or (match.group(1) if match else None)
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


def _chat_name(ident: str, kind: str | None, info: dict[str, Any], package: Package) -> str:
    described = package.index.get(ident, "").strip()
    own = _text(info.get("name"))
    account = package.account
    recipients = info.get("recipients")
    others = [
        r
        for r in (snowflake(x) for x in (recipients if isinstance(recipients, list) else []))
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
