"""Is a chat new to the store really one it already holds, under another name?

Downloading an export twice gives `WhatsApp Chat with Mom (1).txt`; renaming the file, or the
contact between two exports, gives the same chat another name. Such a chat shares a run of
identical messages (time, sender, kind and text, one after another) with the chat it really is,
from the same messenger. A long run is proof: ingest merges the new chat into the old one and says
so. A short one is not proof either way: ingest stores nothing and asks for `--chat NAME` (merge)
or `--as-new-chat` (keep apart). Two different chats that share an "ok" at the same minute share
no run, and stay apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chatclone.store import Store

SURE_RUN = 10  # this many identical messages in a row: the same chat
LEAST_RUN = 3  # fewer in a row (and not the whole of the smaller chat): not the same chat

PROBE = 20  # messages of the shared time span looked at before comparing two chats in full

SAME, UNSURE, DIFFERENT = "same", "unsure", "different"


@dataclass(frozen=True)
class Overlap:
    """What a new chat shares with a stored one."""

    chat_id: str  # the stored chat
    name: str
    shared: int  # the new chat's messages that the stored one also holds
    run: int  # the longest run of them one after another
    size: int  # the new chat's messages
    other_size: int  # the stored chat's messages

    @property
    def verdict(self) -> str:
        return verdict(self.run, self.size, self.other_size)


def verdict(run: int, size: int, other_size: int) -> str:
    smaller = min(size, other_size)
    if run >= SURE_RUN or (run >= LEAST_RUN and run == smaller):
        return SAME
    if run >= LEAST_RUN or (run >= 1 and run == smaller):
        return UNSURE
    return DIFFERENT


def longest_run(flags: Sequence[bool]) -> int:
    best = current = 0
    for flag in flags:
        current = current + 1 if flag else 0
        best = max(best, current)
    return best


def best_overlap(store: Store, chat_id: str, source: str) -> Overlap | None:
    """The stored chat of the same messenger that shares the longest run with `chat_id`.

    Only chats whose time spans meet, and that hold at least `LEAST_RUN` of the new chat's
    first `PROBE` messages in the shared span, are compared in full: an overlap copies every
    message of that span, a different chat almost none, and comparing each message of each
    chat would make a folder of many chats slow to ingest."""
    best: Overlap | None = None
    first, last = store.chat_span(chat_id)
    if first is None or last is None:
        return None
    for other_id, name in store.chats_of(source):
        if other_id == chat_id:
            continue
        other_first, other_last = store.chat_span(other_id)
        if other_first is None or other_last is None:
            continue
        start, end = max(first, other_first), min(last, other_last)
        if start > end:
            continue
        looked, held = store.shared_in_window(chat_id, other_id, start, end, PROBE)
        if held < min(LEAST_RUN, looked) or held == 0:
            continue
        flags = store.shared(chat_id, other_id)
        run = longest_run(flags)
        if run and (best is None or run > best.run):
            size = store.chat_size(other_id)
            best = Overlap(other_id, name, sum(flags), run, len(flags), size)
    return best
