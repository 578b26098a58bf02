"""What a Telegram Desktop service message says: the text of every `action` the exporter writes
(`export_output_json.cpp`, `SerializeMessage`, 2018 to 2025), and which of them are calls.

An action is written as its actor's sentence ("Alice pinned a message"), or, with nobody named,
as a sentence about what happened ("Pinned a message"); an action newer than this table says its
own name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DELETED_ACCOUNT = "Deleted Account"  # how Telegram itself shows a sender whose account is gone


def is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def flatten_text(text: Any) -> str:
    """A message's text as plain text: a string as is, or a list of plain strings and entities
    (`{"type": "bold", "text": "…"}`, links, mentions…) joined; formatting is dropped."""
    if isinstance(text, str):
        return text
    if not isinstance(text, list):
        return ""
    parts = []
    for part in text:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append(part["text"])
    return "".join(parts)


CALLS = {"phone_call": "call", "conference_call": "conference call", "group_call": "group call"}


def call_text(action: str, raw: dict[str, Any]) -> str:
    call = CALLS[action]
    reason = raw.get("discard_reason")
    # Phone calls give `duration_seconds`, group calls (video chats) `duration`.
    seconds = raw.get("duration_seconds", raw.get("duration"))
    if reason == "missed" or raw.get("is_missed") is True:
        return f"missed {call}"
    if reason == "busy":
        return f"declined {call}"
    if reason == "migrate_conference_all":
        return f"{call}, moved to a conference call"
    if raw.get("is_active") is True:
        return f"{call}, ongoing"
    text = f"{call}, {seconds} s" if isinstance(seconds, int | float) and seconds else call
    return f"{text}, disconnected" if reason == "disconnect" else text


class Fields(dict[str, str]):
    """A service record's fields as plain strings for the texts below; missing ones read ""."""

    def __init__(self, raw: dict[str, Any], actor: str | None) -> None:
        super().__init__((k, _plain(v)) for k, v in raw.items() if k != "members")
        members = raw.get("members")
        names = members if isinstance(members, list) else []
        self["members"] = ", ".join(m if is_name(m) else DELETED_ACCOUNT for m in names)
        self.member_names = [str(m) for m in names if is_name(m)]
        self.actor = actor
        self.raw = raw

    def __missing__(self, key: str) -> str:
        return ""


def _plain(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    return flatten_text(value)


def _span(seconds: str) -> str:
    """A period in the largest whole unit: "1 day", "2 weeks", "90 s"."""
    n = int(seconds) if seconds.isdigit() else 0
    for size, unit in ((604800, "week"), (86400, "day"), (3600, "hour"), (60, "minute")):
        if n >= size and n % size == 0:
            count = n // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{n} s"


def _times(count: str) -> str:
    return f" {count} times" if count.isdigit() and int(count) > 1 else ""


def _todo_items(f: Fields) -> str:
    items = f.raw.get("items")
    texts = [flatten_text(i.get("text")) for i in items or [] if isinstance(i, dict)]
    return "added to the checklist: " + "; ".join(texts)


# What a service message says, by its `action` (Telegram Desktop's export_output_json.cpp, with
# the names of older versions). The actor's texts are phrases after their name ("Alice pinned a
# message"), capitalised where the export names nobody; `{field}` is the record's field.
_Text = str | Callable[[Fields], str]
_ACTOR_TEXTS: dict[str, _Text] = {
    "create_group": "created group “{title}”",
    "create_channel": "created channel “{title}”",
    "migrate_to_supergroup": "converted this group to a supergroup",
    "migrate_from_group": "converted group “{title}” to a supergroup",
    "edit_group_title": "changed the group name to “{title}”",
    "edit_group_photo": "changed the group photo",
    "delete_group_photo": "removed the group photo",
    "invite_members": "added {members}",
    "remove_members": "removed {members}",
    "join_group_by_link": "joined the group via an invite link",
    "join_group_by_request": "joined the group",
    "pin_message": "pinned a message",
    "clear_history": "cleared the history",
    "score_in_game": "scored {score} in a game",
    "take_screenshot": "took a screenshot",
    "joined_telegram": "joined Telegram",
    "requested_phone_number": "requested a phone number",
    "invite_to_group_call": "invited {members} to the video chat",
    "group_call_scheduled": "scheduled a video chat",
    "set_messages_ttl": lambda f: (
        f"set messages to auto-delete after {_span(f['period'])}"
        if f["period"] not in ("", "0")
        else "turned off auto-delete"
    ),
    "edit_chat_theme": lambda f: (
        f"changed the chat theme to {f['emoticon']}" if f["emoticon"] else "reset the chat theme"
    ),
    "send_premium_gift": "gifted Telegram Premium for {months} months",
    "topic_created": "created the topic “{title}”",
    "topic_edit": lambda f: (
        f"renamed the topic to “{f['new_title']}”" if f["new_title"] else "changed the topic icon"
    ),
    "topic_title_edit": "renamed the topic to “{title}”",
    "topic_icon_edit": "changed the topic icon",
    "suggest_profile_photo": "suggested a profile photo",
    "requested_peer": "shared a chat with the bot",
    "set_chat_wallpaper": "set a new chat wallpaper",
    "set_same_chat_wallpaper": "set the same wallpaper for this chat",
    "boost_apply": lambda f: f"boosted the group{_times(f['boosts'])}",
    "send_stars_gift": lambda f: f"gifted {f['amount_whole'] or f['stars']} Stars",
    "send_ton_gift": "gifted {amount_whole} TON",
    "stars_prize": "gave a prize of {stars} Stars",
    "send_star_gift": lambda f: "sent a gift" + (f": {f['gift_text']}" if f["gift_text"] else ""),
    "send_paid_message": "paid {stars} Stars for a message",
    "paid_messages_refund": "refunded {stars_count} Stars for {messages_count} messages",
    "paid_messages_price_change": "set the price of a message to {price_stars} Stars",
    "todo_completions": "updated the checklist",
    "todo_append_tasks": _todo_items,
    "process_suggested_post": lambda f: (
        "rejected a suggested post"
        if f.raw.get("rejected") is True
        else "approved a suggested post"
    ),
    "suggested_post_success": "had a suggested post published",
    "suggested_post_refund": "had a suggested post refunded",
}
# Actions the export writes without an actor: whole sentences.
_EVENT_TEXTS: dict[str, _Text] = {
    "send_payment": "A payment in {currency} was sent",
    "refunded_payment": "A payment in {currency} was refunded by {peer_name}",
    "attach_menu_bot_allowed": "The bot was added to the attachment menu",
    "web_app_bot_allowed": "The bot was allowed to send messages",
    "allow_sending_messages": lambda f: (
        "The bot was allowed to send messages"
        + (
            f" (logged in on {f['reason_domain'] or f['reason_app_name']})"
            if f["reason_domain"] or f["reason_app_name"]
            else ""
        )
    ),
    "send_passport_values": "Telegram Passport data was shared",
    "proximity_reached": lambda f: (
        f"{f['from'] or f['from_id'] or 'Someone'} came within {f['distance']} m of "
        f"{f['to'] or f['to_id'] or 'someone'}"
    ),
    "send_webview_data": "Data was sent to the bot",
    "gift_code_prize": "A Telegram Premium gift code for {months} months was received",
    "giveaway_launch": "A giveaway started",
    "giveaway_results": "Giveaway results: {winners} winner(s)",
}
KNOWN_ACTIONS = frozenset((*_ACTOR_TEXTS, *_EVENT_TEXTS, *CALLS))


def system_text(action: str, actor: str | None, fields: Fields) -> str:
    if action in _EVENT_TEXTS:
        return _render(_EVENT_TEXTS[action], fields)
    if action in ("invite_members", "remove_members") and actor and fields.member_names == [actor]:
        phrase = "joined the group" if action == "invite_members" else "left the group"
    elif action in _ACTOR_TEXTS:
        phrase = _render(_ACTOR_TEXTS[action], fields)
    else:  # an action newer than this parser: its name says what happened
        return f"{actor}: {action.replace('_', ' ')}" if actor else action.replace("_", " ")
    return f"{actor} {phrase}" if actor else phrase[:1].upper() + phrase[1:]


def _render(text: _Text, fields: Fields) -> str:
    return text(fields) if callable(text) else text.format_map(fields)
