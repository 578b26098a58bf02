"""Deciding who "me", the person being cloned, is.

In order: the settings file (`chatclone me NAME`); the owner of a Telegram account export; the
sender present in the most chats. A tie is reported, not guessed: cloning the wrong person is worse
than asking.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chatclone.config import MeSettings, Settings
from chatclone.prompt import SOURCE_NAMES
from chatclone.store import Store
from chatclone.workspace import Workspace


@dataclass
class MeDecision:
    name: str | None
    aliases: list[str]
    how: str  # "settings", "SOURCE-account" ("telegram-account"…), "most-chats", "tie", "unknown"
    detail: str  # one sentence for people
    candidates: list[str] = field(default_factory=list)  # the tied names, for "tie"

    def names(self) -> set[str]:
        """Every sender name that is me."""
        return {n for n in [self.name, *self.aliases] if n}


# What an export is called in "owner of the … account export" (a CSV names no messenger).
EXPORT_NAMES = {**SOURCE_NAMES, "csv": "CSV", "discord-package": "Discord data package"}


def decide_me(settings: Settings, store: Store | None) -> MeDecision:
    me = settings.me
    if me.name:
        return MeDecision(me.name, list(me.aliases), "settings", "set in chatclone.toml")
    if store is None:
        return MeDecision(None, list(me.aliases), "unknown", "no messages stored yet")
    owners = sorted({(name, source) for source, _, name in store.owners()})
    if len({name for name, _ in owners}) == 1:
        name, source = owners[0]
        sources = ", ".join(sorted({EXPORT_NAMES.get(s, s) for _, s in owners}))
        detail = f"owner of the {sources} account export"
        return MeDecision(name, list(me.aliases), f"{source}-account", detail)
    chats_per_sender = store.sender_chat_counts()
    if not chats_per_sender:
        return MeDecision(None, list(me.aliases), "unknown", "no messages with a sender stored yet")
    most = max(chats_per_sender.values())
    top = sorted(s for s, n in chats_per_sender.items() if n == most)
    total = store.chat_count()
    if len(top) == 1:
        detail = f"the sender present in the most chats ({most} of {total})"
        return MeDecision(top[0], list(me.aliases), "most-chats", detail)
    detail = (
        f"{len(top)} senders are each in {most} of {total} chats; "
        "set who you are with `chatclone me NAME`"
    )
    return MeDecision(None, list(me.aliases), "tie", detail, top)


def show_me(workspace: Workspace) -> MeDecision:
    settings = workspace.settings()
    if not workspace.exists():
        return decide_me(settings, None)
    with workspace.open_store() as store:
        return decide_me(settings, store)


def set_me(
    workspace: Workspace, name: str | None, aliases: list[str] | None, unset: bool
) -> str | None:
    """Save who "me" is in the settings file; returns a warning for a name no stored message has."""
    workspace.create()
    settings = workspace.settings()
    if unset:
        settings.me = MeSettings()
    if name is not None:
        settings.me.name = name
    if aliases:
        settings.me.aliases = list(dict.fromkeys(aliases))
    workspace.save(settings)
    if name is None or not workspace.exists():
        return None
    with workspace.open_store() as store:
        senders = store.senders()
    unknown = [n for n in [name, *(aliases or [])] if n not in senders]
    if unknown and senders:
        return f"no stored message is from {', '.join(unknown)} (saved anyway)"
    return None
