"""Messages → turns: what is kept of each message, who speaks, and which turns are dropped.

Every message or turn left out is counted under a named reason:

- per message: `system_message`, `deleted_message`, `media_message` (media without a caption),
  `call_message`, `other_message` (polls, locations, contact cards);
- per turn: `media_only_turn` (nothing but media), `empty_turn` (nothing left after cleaning),
  `link_only_turn`, `blocked_word_turn`;
- per session: `own_messages_only_session`, a session whose turns (what is left after the drops
  above) all come from me: nobody to answer, so nothing to learn (a Discord data package holds
  only its owner's messages). `stream.SessionReader` counts it with `own_messages_only` right
  after `build_turns`, before any reply is scored or embedded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from chatclone.dataset.model import Bubble, Drops, Turn
from chatclone.messages import Kind, Message
from chatclone.prompt import ASSISTANT, USER

_LINK = re.compile(r"(?:https?://|www\.)\S+", re.I)
_MESSAGE_DROPS = {
    Kind.SYSTEM: "system_message",
    Kind.DELETED: "deleted_message",
    Kind.CALL: "call_message",
    Kind.POLL: "other_message",
    Kind.LOCATION: "other_message",
    Kind.CONTACT: "other_message",
}


def blocked_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive whole-word pattern for the user's blocked words and phrases."""
    words = [w.strip() for w in words if w.strip()]
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.I)


def build_turns(
    messages: list[Message],
    me: set[str],
    drops: Drops,
    blocked: re.Pattern[str] | None = None,
    clean: Callable[[str], str] = lambda text: text,
) -> list[Turn]:
    """One session's messages → alternating user/assistant turns.

    Consecutive messages of one sender form a turn whose bubbles stay separate. In a group,
    several people talking in a row form one user turn (each bubble keeps its sender). `clean`
    (pseudonymisation) runs on every kept text.
    """
    turns: list[Turn] = []
    for sender, group in _by_sender(messages, drops):
        turn = _turn(sender, group, me, drops, blocked, clean)
        if turn is None:
            continue
        if turns and turns[-1].role == turn.role:
            turns[-1].bubbles.extend(turn.bubbles)
        else:
            turns.append(turn)
    return turns


def own_messages_only(turns: list[Turn]) -> bool:
    """Whether every turn of a session is mine (no one else's turn is left in it)."""
    return all(t.role == ASSISTANT for t in turns)


def _by_sender(messages: list[Message], drops: Drops) -> list[tuple[str, list[Message]]]:
    runs: list[tuple[str, list[Message]]] = []
    for m in messages:
        reason = _MESSAGE_DROPS.get(m.kind)
        if reason is not None or m.sender is None:
            drops.add(reason or "system_message")
            continue
        if runs and runs[-1][0] == m.sender:
            runs[-1][1].append(m)
        else:
            runs.append((m.sender, [m]))
    return runs


def _turn(
    sender: str,
    group: list[Message],
    me: set[str],
    drops: Drops,
    blocked: re.Pattern[str] | None,
    clean: Callable[[str], str],
) -> Turn | None:
    texts = []
    for m in group:
        if m.kind is Kind.MEDIA and not m.text.strip():
            drops.add("media_message")
            continue
        texts.append(m)
    if not texts:
        drops.add("media_only_turn")
        return None
    raw = [m.text.strip() for m in texts]
    if not any(raw):
        drops.add("empty_turn")
        return None
    if all(not _LINK.sub("", t).strip() for t in raw if t):
        drops.add("link_only_turn")
        return None
    if blocked is not None and any(blocked.search(t) for t in raw):
        drops.add("blocked_word_turn")
        return None
    shown = clean(sender)  # a group's user turns show who is talking: pseudonymised too
    bubbles = [Bubble(shown, clean(t), m.ts) for t, m in zip(raw, texts, strict=True) if t]
    return Turn(ASSISTANT if sender in me else USER, bubbles)
