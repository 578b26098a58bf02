"""Telegram Desktop JSON exports: golden files, the pieces of the mapping, bad input, streaming."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from collections.abc import Callable, Generator
from functools import partial
from pathlib import Path
from typing import IO, Any

import pytest

from chatclone.errors import ChatcloneError, InputError
from chatclone.messages import Kind, Message
from chatclone.parsers import find_parser
from chatclone.parsers.base import ParseOptions, ParseReport, Source
from chatclone.parsers.sources import discover
from chatclone.parsers.telegram import TelegramParser, flatten_text

from golden import check_fixture, fixtures

PARSER = TelegramParser()

# The machine zone each golden file is made in: the fixtures' `date`s are UTC wall times, except
# those of a converted export from a machine in Berlin.
GOLDEN_ZONES = {"unixtime_only.json": "Europe/Berlin"}
# Fixtures that must fail as a whole, and how.
GOLDEN_ERRORS = {
    "all_records_fail.json": "all_records_fail.json: none of its 3 message record(s) could be "
    "read; the first, message id 7: no readable `date` or `date_unixtime`",
}


@pytest.mark.parametrize("fixture", fixtures("telegram"), ids=lambda p: p.name)
def test_golden(fixture: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone(GOLDEN_ZONES.get(fixture.name, "UTC"))
    check_fixture(fixture, GOLDEN_ERRORS)


# --- helpers -----------------------------------------------------------------------------------


def source_of(data: bytes, display: str = "result.json") -> Source:
    return Source(display, partial(io.BytesIO, data), len(data), display)


def chat_json(*messages: Any, **chat: Any) -> bytes:
    doc = {"name": "Alice", "type": "personal_chat", "id": 42, **chat, "messages": list(messages)}
    return json.dumps(doc, ensure_ascii=False, indent=1).encode()


def message(**fields: Any) -> dict[str, Any]:
    base = {"id": 1, "type": "message", "date": "2024-01-05T10:00:00", "from": "Alice"}
    base.update({"from_id": "user42", "text": ""})
    return {**base, **fields}


def parse(data: bytes, report: ParseReport | None = None) -> list[Message]:
    return list(PARSER.parse(source_of(data), report or ParseReport()))


def only(**fields: Any) -> Message:
    (m,) = parse(chat_json(message(**fields)))
    return m


# --- text ----------------------------------------------------------------------------------------


def test_entities_are_flattened_keeping_newlines() -> None:
    text = [
        "see ",
        {"type": "bold", "text": "this"},
        ":\n",
        {"type": "text_link", "text": "the docs", "href": "https://x.y"},
        " ",
        {"type": "mention_name", "text": "Bob", "user_id": 7},
        {"type": "custom_emoji", "text": "🙂", "document_id": "x"},
    ]
    assert flatten_text(text) == "see this:\nthe docs Bob🙂"
    assert only(text=text).text == "see this:\nthe docs Bob🙂"


def test_flatten_tolerates_odd_values() -> None:
    assert flatten_text(None) == ""
    assert flatten_text(["a", 3, {"type": "bold"}, {"text": "b"}]) == "ab"


def test_plain_message_fields() -> None:
    m = only(id=7, text="hi", edited="2024-01-05T10:01:00", reply_to_message_id=6)
    assert (m.chat, m.chat_id, m.source) == ("Alice", "telegram:42", "telegram")
    assert (m.ts, m.sender, m.kind, m.text) == ("2024-01-05T10:00:00", "Alice", Kind.TEXT, "hi")
    assert (m.edited, m.reply_to, m.source_id) == (True, "6", "7")
    assert (m.origin_file, m.origin_line) == ("result.json", None)
    assert only(text="x").edited is False


def test_sender_falls_back_to_id_then_deleted_account() -> None:
    assert only(**{"from": None, "from_id": "user9"}).sender == "user9"
    assert only(**{"from": None, "from_id": None}).sender == "Deleted Account"


# --- dates ---------------------------------------------------------------------------------------


def unix_only(seconds: Any, **fields: Any) -> dict[str, Any]:
    record = message(date_unixtime=seconds, **fields)
    del record["date"]
    return record


def test_unixtime_only_is_shown_in_the_ingest_zone() -> None:
    report = ParseReport(options=ParseOptions(timezone="Asia/Tokyo"))
    # 1704448800 is 2024-01-05T10:00:00 UTC: 19:00 in Tokyo. A number works as well as a string.
    got = parse(chat_json(unix_only("1704448800", id=1), unix_only(1704448860, id=2)), report)
    assert [m.ts for m in got] == ["2024-01-05T19:00:00", "2024-01-05T19:01:00"]
    assert report.notes[-1] == (
        "2 message(s) had no `date`, only `date_unixtime`: their times are shown in Asia/Tokyo"
    )


def test_unixtime_only_without_a_zone_uses_the_machines(
    machine_zone: Callable[[str], None],
) -> None:
    machine_zone("America/New_York")
    report = ParseReport()
    (m,) = parse(chat_json(unix_only("1704448800")), report)
    assert m.ts == "2024-01-05T05:00:00"
    assert "this machine's zone (EST/EDT; set [ingest] timezone to choose)" in report.notes[-1]


def test_date_is_kept_as_written_and_wins_over_unixtime(
    machine_zone: Callable[[str], None],
) -> None:
    machine_zone("UTC")
    report = ParseReport(options=ParseOptions(timezone="Asia/Tokyo"))
    both = message(id=1, date="2024-01-05T10:00:00", date_unixtime="1")
    got = parse(chat_json(both, unix_only("1704448860", id=2, date="")), report)
    assert [m.ts for m in got] == ["2024-01-05T10:00:00", "2024-01-05T19:01:00"]
    assert report.notes[-1].startswith("1 message(s) had no `date`")


def test_edited_unixtime_alone_marks_an_edit() -> None:
    assert only(edited_unixtime="1704448900").edited is True


@pytest.mark.parametrize("bad", ["soon", "-5", "", True, -5, 1.5, None, "99999999999999"])
def test_unreadable_unixtime_is_not_understood(bad: Any) -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    got = parse(chat_json(unix_only(bad, id=4), message(id=5)), report)
    assert [m.source_id for m in got] == ["5"]
    assert (report.unparsed, report.unparsed_lines) == (1, [4])
    assert not any("date_unixtime" in n for n in report.notes)


def test_a_zone_that_does_not_exist_is_refused() -> None:
    report = ParseReport(options=ParseOptions(timezone="Mars/Olympus"))
    with pytest.raises(ChatcloneError, match="Mars/Olympus"):
        parse(chat_json(unix_only("1704448800")), report)
    parse(chat_json(message()), report)  # only read when a record needs it


# --- media and special messages -------------------------------------------------------------------


def test_photo_keeps_its_caption_as_text() -> None:
    m = only(photo="photos/photo_1.jpg", text=["nice ", {"type": "italic", "text": "view"}])
    assert (m.kind, m.text, m.attachment) == (Kind.MEDIA, "nice view", "photos/photo_1.jpg")


@pytest.mark.parametrize("media_type", ["sticker", "voice_message", "video_message", "audio_file"])
def test_files_are_media(media_type: str) -> None:
    m = only(file=f"files/{media_type}.bin", media_type=media_type)
    assert (m.kind, m.text, m.attachment) == (Kind.MEDIA, "", f"files/{media_type}.bin")


def test_media_left_out_of_the_export_has_no_attachment() -> None:
    left_out = "(File not included. Change data exporting settings to download.)"
    assert only(photo=left_out).attachment is None
    m = only(file=left_out, media_type="voice_message")
    assert (m.kind, m.attachment) == (Kind.MEDIA, None)


def test_poll_location_contact() -> None:
    poll = {"question": "Lunch?", "answers": [{"text": "yes", "voters": 1}, {"text": "no"}]}
    assert (only(poll=poll).kind, only(poll=poll).text) == (Kind.POLL, "Lunch?\n- yes\n- no")
    where = {"latitude": 1.5, "longitude": -2.25}
    assert (only(location_information=where).kind, only(location_information=where).text) == (
        Kind.LOCATION,
        "1.5, -2.25",
    )
    venue = only(location_information=where, place_name="Café", address="Main St 1")
    assert venue.text == "Café, Main St 1"
    card = {"first_name": "Bob", "last_name": "Jones", "phone_number": "+44 1"}
    m = only(contact_information=card, contact_vcard="contacts/contact_1.vcf")
    assert (m.kind, m.text, m.attachment) == (Kind.CONTACT, "Bob Jones", "contacts/contact_1.vcf")


# --- service messages ---------------------------------------------------------------------------


def service_record(action: str, **fields: Any) -> dict[str, Any]:
    record = {"id": 3, "type": "service", "date": "2024-01-05T10:00:00", "actor": "Alice"}
    return {**record, "actor_id": "user42", "action": action, "text": "", **fields}


def service(action: str, **fields: Any) -> Message:
    (m,) = parse(chat_json(service_record(action, **fields)))
    return m


def test_calls_are_calls_from_the_actor() -> None:
    missed = service("phone_call", discard_reason="missed")
    assert (missed.kind, missed.sender, missed.text) == (Kind.CALL, "Alice", "missed call")
    answered = service("phone_call", discard_reason="hangup", duration_seconds=62)
    assert (answered.kind, answered.text) == (Kind.CALL, "call, 62 s")
    assert service("phone_call", discard_reason="busy").text == "declined call"
    assert service("group_call", duration_seconds=5).text == "group call, 5 s"


@pytest.mark.parametrize(
    ("action", "fields", "text"),
    [
        ("create_group", {"title": "X", "members": ["Bob"]}, "Alice created group “X”"),
        ("invite_members", {"members": ["Bob", "Carol"]}, "Alice added Bob, Carol"),
        ("invite_members", {"members": ["Bob", None]}, "Alice added Bob, Deleted Account"),
        ("remove_members", {"members": ["Alice"]}, "Alice left the group"),
        ("remove_members", {"members": ["Bob"]}, "Alice removed Bob"),
        ("pin_message", {"message_id": 2}, "Alice pinned a message"),
        (
            "edit_group_title",
            {"title": "{odd} name"},
            "Alice changed the group name to “{odd} name”",
        ),
        ("set_chat_theme", {"emoticon": "🎄"}, "Alice: set chat theme"),
    ],
)
def test_service_messages_are_system_lines(action: str, fields: dict[str, Any], text: str) -> None:
    m = service(action, **fields)
    assert (m.kind, m.sender, m.text) == (Kind.SYSTEM, None, text)


# Every `action` Telegram Desktop's export_output_json.cpp writes (SerializeMessage), today's and
# those of older versions (topic_title_edit, topic_icon_edit, send_paid_message).
TDESKTOP_ACTIONS = (
    "create_group", "edit_group_title", "edit_group_photo", "delete_group_photo",
    "invite_members", "remove_members", "join_group_by_link", "create_channel",
    "migrate_to_supergroup", "migrate_from_group", "pin_message", "clear_history",
    "score_in_game", "send_payment", "phone_call", "conference_call", "take_screenshot",
    "attach_menu_bot_allowed", "web_app_bot_allowed", "allow_sending_messages",
    "send_passport_values", "joined_telegram", "proximity_reached", "requested_phone_number",
    "group_call", "invite_to_group_call", "set_messages_ttl", "group_call_scheduled",
    "edit_chat_theme", "join_group_by_request", "send_webview_data", "send_premium_gift",
    "topic_created", "topic_edit", "topic_title_edit", "topic_icon_edit", "suggest_profile_photo",
    "requested_peer", "gift_code_prize", "giveaway_launch", "giveaway_results",
    "set_chat_wallpaper", "set_same_chat_wallpaper", "boost_apply", "refunded_payment",
    "send_stars_gift", "send_ton_gift", "stars_prize", "send_star_gift", "send_paid_message",
    "paid_messages_refund", "paid_messages_price_change", "todo_completions", "todo_append_tasks",
    "process_suggested_post", "suggested_post_success", "suggested_post_refund",
)  # fmt: skip
CALL_ACTIONS = {"phone_call", "conference_call", "group_call"}


@pytest.mark.parametrize("action", TDESKTOP_ACTIONS)
def test_every_telegram_action_is_known(action: str) -> None:
    report = ParseReport()
    (m,) = parse(chat_json(service_record(action)), report)
    assert m.kind == (Kind.CALL if action in CALL_ACTIONS else Kind.SYSTEM)
    assert m.text and "_" not in m.text
    assert not [n for n in report.notes if "not known" in n]


@pytest.mark.parametrize("action", TDESKTOP_ACTIONS)
def test_no_actor_is_nobody_not_a_deleted_account(action: str) -> None:
    record = service_record(action)
    del record["actor"], record["actor_id"]
    (m,) = parse(chat_json(record))
    assert m.sender is None
    assert "Deleted Account" not in m.text and "None" not in m.text
    if m.kind == Kind.SYSTEM:  # a sentence; call texts are "missed call", "call, 62 s"
        assert m.text[0].isupper()


def test_actions_without_an_actor_read_as_sentences() -> None:
    assert service("pin_message", actor=None, actor_id=None).text == "Pinned a message"
    assert service("take_screenshot", actor=None, actor_id=None).text == "Took a screenshot"
    call = service("phone_call", actor=None, actor_id=None, discard_reason="missed")
    assert (call.kind, call.sender, call.text) == (Kind.CALL, None, "missed call")
    gone = service("pin_message", actor=None, actor_id="user9")  # a deleted account, by id
    assert gone.text == "user9 pinned a message"
    assert service("giveaway_launch").text == "A giveaway started"


def test_unknown_actions_are_kept_and_counted() -> None:
    report = ParseReport()
    records = [
        service_record("set_chat_mood", id=1),
        service_record("set_chat_mood", id=2, actor=None, actor_id=None),
        service_record("open_portal", id=3),
        service_record("pin_message", id=4),
    ]
    got = parse(chat_json(*records), report)
    assert [(m.kind, m.text) for m in got] == [
        (Kind.SYSTEM, "Alice: set chat mood"),
        (Kind.SYSTEM, "set chat mood"),
        (Kind.SYSTEM, "Alice: open portal"),
        (Kind.SYSTEM, "Alice pinned a message"),
    ]
    assert report.unparsed == 0
    assert report.notes[-1] == (
        "3 service message(s) with actions not known here, kept: open_portal (1), set_chat_mood (2)"
    )


def test_custom_action_is_its_information_text() -> None:
    record = service_record("", information_text="Alice joined via the partner app")
    del record["action"]
    (m,) = parse(chat_json(record))
    assert (m.kind, m.sender, m.text) == (Kind.SYSTEM, None, "Alice joined via the partner app")


@pytest.mark.parametrize(
    ("action", "fields", "text"),
    [
        (
            "phone_call",
            {"discard_reason": "disconnect", "duration_seconds": 5},
            "call, 5 s, disconnected",
        ),
        (
            "phone_call",
            {"discard_reason": "migrate_conference_all"},
            "call, moved to a conference call",
        ),
        ("conference_call", {"is_missed": True, "is_active": False}, "missed conference call"),
        ("conference_call", {"is_active": True, "is_missed": False}, "conference call, ongoing"),
        ("conference_call", {"duration_seconds": 600}, "conference call, 600 s"),
        ("group_call", {"duration": 2700}, "group call, 2700 s"),  # what the export writes
        ("group_call", {}, "group call"),
    ],
)
def test_call_texts(action: str, fields: dict[str, Any], text: str) -> None:
    m = service(action, **fields)
    assert (m.kind, m.sender, m.text) == (Kind.CALL, "Alice", text)


@pytest.mark.parametrize(
    ("action", "fields", "text"),
    [
        ("set_messages_ttl", {"period": 86400}, "Alice set messages to auto-delete after 1 day"),
        ("set_messages_ttl", {"period": 0}, "Alice turned off auto-delete"),
        ("edit_chat_theme", {"emoticon": "🎄"}, "Alice changed the chat theme to 🎄"),
        ("topic_edit", {"new_title": "{x}"}, "Alice renamed the topic to “{x}”"),
        ("topic_edit", {"new_icon_emoji_id": 5}, "Alice changed the topic icon"),
        ("boost_apply", {"boosts": 3}, "Alice boosted the group 3 times"),
        ("send_stars_gift", {"stars": 100}, "Alice gifted 100 Stars"),
        ("send_stars_gift", {"amount_whole": 50, "amount_nano": 0}, "Alice gifted 50 Stars"),
        (
            "invite_to_group_call",
            {"members": ["Bob", None]},
            "Alice invited Bob, Deleted Account to the video chat",
        ),
        ("send_payment", {"amount": 500, "currency": "EUR"}, "A payment in EUR was sent"),
    ],
)
def test_action_texts(action: str, fields: dict[str, Any], text: str) -> None:
    assert service(action, **fields).text == text


def test_records_not_understood_are_counted_by_id_and_skipped() -> None:
    report = ParseReport()
    messages = parse(
        chat_json(
            message(id=1, text="ok"),
            message(id=2, type="sponsored"),
            message(id=3, date=None),
            message(id=4, date="yesterday"),
            {"id": 5, "type": "service", "date": "2024-01-05T10:00:00"},  # no action
            "not an object",
            message(id=6, text="still ok"),
        ),
        report,
    )
    assert [m.source_id for m in messages] == ["1", "6"]
    assert (report.unparsed, report.unparsed_lines) == (5, [2, 3, 4, 5, 0])


# --- chats and the account export ---------------------------------------------------------------


def test_saved_messages_without_name() -> None:
    data = json.dumps({"type": "saved_messages", "id": 5, "messages": [message()]}).encode()
    (m,) = parse(data)
    assert (m.chat, m.chat_id) == ("Saved Messages", "telegram:5")


def test_chat_of_a_deleted_account() -> None:
    # Telegram writes a null name, and null `from`s, for a person whose account is gone.
    (m,) = parse(chat_json(message(**{"from": None}), name=None))
    assert (m.chat, m.chat_id) == ("Deleted Account", "telegram:42")


def test_nameless_personal_chat_is_named_after_the_other_person() -> None:
    mine = [message(id=i, **{"from": "Me", "from_id": "user1"}) for i in (1, 2)]
    theirs = message(id=3, **{"from": "Kim", "from_id": "user42"})
    got = parse(chat_json(*mine, theirs, message(id=4, **{"from": None}), name=None))
    assert [(m.chat, m.chat_id, m.source_id) for m in got] == [
        ("Kim", "telegram:42", str(i)) for i in (1, 2, 3, 4)
    ]
    # The other person's name is found after the messages too, and without a `name` key at all.
    doc = {"type": "personal_chat", "id": 42, "messages": [*mine, theirs]}
    assert {m.chat for m in parse(json.dumps(doc).encode())} == {"Kim"}


def test_nameless_personal_chat_streams_once_the_other_person_speaks() -> None:
    records = [message(id=1, **{"from": "Kim", "from_id": "user42"}), message(id=2)]
    got = PARSER.parse(source_of(chat_json(*records, name=None)), ParseReport())
    assert next(got).chat == "Kim"


@pytest.mark.parametrize(
    ("chat", "name"),
    [
        ({"name": None, "type": "private_group"}, "Telegram chat 42"),
        ({"name": "  ", "type": "public_channel"}, "Telegram chat 42"),
        ({"name": None, "type": None}, "Telegram chat 42"),
        ({"name": None, "type": "private_group", "id": None}, "Telegram chat #1"),
        ({"name": None, "type": "personal_chat", "id": None}, "Deleted Account"),
        ({"type": "personal_chat"}, "Telegram chat 42"),  # trimmed, and nobody else wrote
    ],
)
def test_a_chat_without_a_name_never_reads_none(chat: dict[str, Any], name: str) -> None:
    doc = {"id": 42, **chat, "messages": [message(**{"from_id": "user1"})]}
    (m,) = parse(json.dumps(doc).encode())
    assert m.chat == name


def test_messages_before_the_chat_name_are_buffered() -> None:
    doc = {"messages": [message(id=1), message(id=2)], "id": 9, "name": "Late Name"}
    assert [(m.chat, m.chat_id) for m in parse(json.dumps(doc).encode())] == [
        ("Late Name", "telegram:9")
    ] * 2


def account(*chats: dict[str, Any], left: tuple[dict[str, Any], ...] = ()) -> bytes:
    me = {"user_id": 42, "first_name": "Alexandra", "last_name": "Smith", "username": "@al"}
    return json.dumps(
        {
            "about": "…",
            "personal_information": me,
            "chats": {"about": "…", "list": list(chats)},
            "left_chats": {"about": "…", "list": list(left)},
        }
    ).encode()


def test_owner_is_the_name_on_their_own_messages() -> None:
    chat = {"name": "Bob", "type": "personal_chat", "id": 7, "messages": [message(), message()]}
    report = ParseReport()
    assert len(parse(account(chat), report)) == 2
    assert report.owner == ("Alice", "user42")


def test_owner_falls_back_to_first_and_last_name() -> None:
    chat = {"name": "Bob", "type": "personal_chat", "id": 7, "messages": []}
    report = ParseReport()
    assert parse(account(chat), report) == []
    assert report.owner == ("Alexandra Smith", "user42")


def test_left_chats_count_too() -> None:
    a = {"name": "A", "type": "private_group", "id": 1, "messages": [message(id=1)]}
    b = {"name": "B", "type": "private_supergroup", "id": 2, "messages": [message(id=2)]}
    assert [m.chat for m in parse(account(a, left=(b,)))] == ["A", "B"]


def test_a_single_chat_export_has_no_owner() -> None:
    report = ParseReport()
    parse(chat_json(message()), report)
    assert report.owner is None


# --- sniffing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", [p for p in fixtures("telegram") if p.suffix == ".json"])
def test_sniff_accepts_the_fixtures(fixture: Path) -> None:
    assert PARSER.sniff(source_of(fixture.read_bytes()))


@pytest.mark.parametrize(
    "data",
    [
        b'\xef\xbb\xbf {"name": "A", "type": "personal_chat", "id": 1, "messages": []}',
        b'{"about": "x", "personal_information": {"user_id": 1}}',
        b'{"about": "x", "chats": {"about": "y", "list": []}}',
    ],
)
def test_sniff_accepts_telegram_json(data: bytes) -> None:
    assert PARSER.sniff(source_of(data))


@pytest.mark.parametrize(
    "data",
    [
        b"12/31/23, 10:00 PM - Alice: hello\n12/31/23, 10:01 PM - Bob: hi\n",
        b"[31.12.23, 22:00:00] Alice: hello\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
        b"",
        b'{"foo": 1}',
        b'{"name": "chatclone", "version": "1.0.0", "dependencies": {"ijson": "^3"}}',
        b'{"type": "module", "id": 3, "messages": ["hello"]}',  # the words, not the shape
        b'[{"name": "A", "type": "personal_chat", "id": 1, "messages": []}]',
    ],
)
def test_sniff_rejects_other_files(data: bytes) -> None:
    assert not PARSER.sniff(source_of(data))


def test_registry_picks_telegram_for_result_json() -> None:
    parser = find_parser(source_of(chat_json(message())))
    assert parser is not None and parser.name == "telegram"


def test_export_inside_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "Telegram.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("ChatExport_2024-01-05/result.json", chat_json(message(text="zipped")))
        z.writestr("ChatExport_2024-01-05/photos/p.jpg", b"\xff\xd8\xff")
    (found,) = discover(path)
    assert [m.text for m in found.parser.parse(found.source, ParseReport())] == ["zipped"]


# --- bad input -------------------------------------------------------------------------------


def error_of(data: bytes) -> InputError:
    with pytest.raises(InputError) as caught:
        parse(data)
    return caught.value


def test_truncated_json_names_the_file_and_last_line() -> None:
    data = chat_json(message(id=1, text="a"), message(id=2, text="b"))
    cut = data[: data.index(b'"b"')]  # in the middle of the second message
    e = error_of(cut)
    assert e.path == "result.json"
    assert e.line == cut.count(b"\n") + 1
    assert str(e).startswith(f"result.json:{e.line}: truncated or malformed JSON")


def test_truncated_at_a_line_end_points_at_the_last_line_with_content() -> None:
    data = chat_json(message(id=1))
    cut = data[: data.index(b'"from"')]
    assert error_of(cut).line == cut.rstrip().count(b"\n") + 1


def test_malformed_json_points_at_the_broken_line() -> None:
    lines = chat_json(message(id=1), message(id=2, text="x")).split(b"\n")
    broken = next(i for i, line in enumerate(lines) if b'"text": "x"' in line)
    lines[broken] = b'   "text": "x",,'
    assert error_of(b"\n".join(lines)).line == broken + 1


def test_broken_line_is_found_far_into_a_big_file() -> None:
    data = chat_json(*(message(id=i, text=f"message {i}") for i in range(5000)))
    assert len(data) > 4 * 65536
    at = data.index(b'"message 4000"')
    bad = data[:at] + b"\x00" + data[at + 1 :]
    assert error_of(bad).line == data[:at].count(b"\n") + 1


def test_undecodable_bytes_and_binary_and_trailing_garbage() -> None:
    bad = chat_json(message(text="ok")).replace(b'"ok"', b'"\xff\xfe"')
    e = error_of(bad)
    assert (e.line, "UTF8" in e.problem) == (bad[: bad.index(b"\xff")].count(b"\n") + 1, True)
    assert error_of(b"\x00\x01\x02binary").line == 1
    good = chat_json(message())
    assert error_of(good + b"\n\nmore").line == good.count(b"\n") + 3


def test_a_byte_order_mark_is_skipped() -> None:
    (m,) = parse(b"\xef\xbb\xbf" + chat_json(message(text="bom")))
    assert m.text == "bom"
    assert error_of(b"\xef\xbb\xbf{\n\n  oops").line == 3


def test_truncated_export_inside_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    data = chat_json(message(id=1), message(id=2))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("result.json", data[:-40])
    (found,) = discover(path)
    with pytest.raises(InputError) as caught:
        list(found.parser.parse(found.source, ParseReport()))
    line = data[:-40].rstrip().count(b"\n") + 1
    assert str(caught.value).startswith(f"{path}:result.json:{line}: truncated or malformed JSON")


def test_empty_file_and_json_without_chats() -> None:
    assert error_of(b"").problem == "the file is empty"
    assert "no chat" in error_of(b'{"about": "x", "personal_information": {"user_id": 1}}').problem


def test_a_file_in_which_every_record_fails_is_an_error() -> None:
    e = error_of(chat_json(message(id=5, type="sponsored"), message(id=6, date=None)))
    assert e.path == "result.json" and e.line is None
    assert e.problem == (
        "none of its 2 message record(s) could be read; the first, message id 5: "
        "unknown record type 'sponsored'"
    )
    assert "a record without an id" in error_of(chat_json("stray")).problem
    assert parse(chat_json()) == []  # an empty chat is not a failure


def test_one_readable_record_is_enough() -> None:
    report = ParseReport()
    got = parse(account({"name": "A", "type": "private_group", "id": 1, "messages": [
        message(id=1, date=None), message(id=2)]}), report)  # fmt: skip
    assert [m.source_id for m in got] == ["2"] and report.unparsed_lines == [1]


def test_messages_before_an_error_are_yielded_first() -> None:
    data = chat_json(message(id=1), message(id=2))
    cut = data[: data.rindex(b'"from"')]
    got = PARSER.parse(source_of(cut), ParseReport())
    assert next(got).source_id == "1"
    with pytest.raises(InputError):
        next(got)


# --- streaming ---------------------------------------------------------------------------------


def write_big_export(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write('{\n "name": "Big", "type": "private_group", "id": 1,\n "messages": [\n')
        for i in range(count):
            record = message(id=i, text=["text ", {"type": "bold", "text": f"number {i}"}] * 3)
            f.write(("  " if i == 0 else "  ,") + json.dumps(record) + "\n")
        f.write(" ]\n}\n")


def file_source(path: Path) -> Source:
    return Source(str(path), lambda: path.open("rb"), path.stat().st_size, path.name)


@pytest.mark.slow
def test_parsing_streams_a_big_export(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    write_big_export(path, 50_000)
    size = path.stat().st_size
    progress: list[int] = []
    report = ParseReport(progress=progress.append)
    count = 0
    tracemalloc.start()
    try:
        for _ in PARSER.parse(file_source(path), report):
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 50_000
    assert size > 10_000_000
    # What is held is ijson's events for one 64 KB chunk (about 1.4 MB), whatever the file's size.
    assert peak < size / 5, f"peak {peak} bytes for a {size}-byte file"
    assert progress and progress[-1] == size and progress == sorted(progress)


def test_first_message_comes_before_the_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    write_big_export(path, 5_000)
    opened: list[IO[bytes]] = []

    def opener() -> IO[bytes]:
        f = path.open("rb")
        opened.append(f)
        return f

    size = path.stat().st_size
    got = PARSER.parse(Source(str(path), opener, size, path.name), ParseReport())
    assert next(got).source_id == "0"
    (reading,) = [f for f in opened if not f.closed]
    assert reading.tell() < size / 4
    assert isinstance(got, Generator)
    got.close()
    assert reading.closed
