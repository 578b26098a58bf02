"""What the store holds, as one JSON-able dict (`chatclone stats --json`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chatclone.config import Settings
from chatclone.me import decide_me
from chatclone.store import Store


def collect_stats(store: Store, settings: Settings) -> dict[str, Any]:
    decision = decide_me(settings, store)
    senders = store.senders()
    chats = [asdict(c) for c in store.chats()]
    firsts = [c["first"] for c in chats if c["first"]]
    lasts = [c["last"] for c in chats if c["last"]]
    return {
        "messages": store.count(with_sender=True),  # system lines have no sender
        "chats": len(chats),
        "senders": senders,
        "me": decision.name,
        "me_aliases": decision.aliases,
        "me_how": decision.how,
        "me_detail": decision.detail,
        "me_candidates": decision.candidates,
        "me_messages": sum(n for s, n in senders.items() if s in decision.names()),
        "stored": store.count(),
        "kinds": store.kinds(),
        "first": min(firsts, default=None),
        "last": max(lasts, default=None),
        "chat_list": chats,
    }
