"""Discord's own data package (Request all of my Data): golden files of both layouts, folder and
zip, the mapping, the owner, times, sniffing, bad input, a DiscordChatExporter export of the same
channel, and what build and memory make of chats that hold only the owner's messages."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from chatclone.embeddings import HashEmbedder
from chatclone.errors import InputError
from chatclone.memory.index import MemoryIndex, documents, my_names
from chatclone.memory.recall import recall
from chatclone.messages import Kind, Message
from chatclone.parsers import find_parser
from chatclone.parsers.base import ParseOptions, ParseReport, Source
from chatclone.parsers.discord_package import DiscordPackageParser
from chatclone.parsers.sources import discover
from chatclone.workspace import Workspace

from golden import FIXTURES, check_fixture, fixtures
from helpers import cli

PACKAGES = FIXTURES / "discord_package"
GOLDEN_ZONE = "Europe/Berlin"
GOLDEN_ERRORS = {
    "all_records_fail": "none of its 2 message record(s) could be read; the first, record 1 "
    "(message id 1328114995036160000): no readable `Timestamp`",
}
EPOCH_MS = 1_420_070_400_000  # Discord's epoch, 2015-01-01 UTC, in a snowflake's top bits
OWNER, BEN, CARLA = "402118463210045441", "398551276340985866", "411907734251667457"
DM = "1192837465019283746"


@pytest.mark.parametrize("fixture", fixtures("discord_package"), ids=lambda p: p.name)
def test_golden(fixture: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone(GOLDEN_ZONE)
    check_fixture(fixture, GOLDEN_ERRORS)


def parsed(path: Path, zone: str = "UTC") -> list[Message]:
    report = ParseReport(options=ParseOptions(timezone=zone))
    return [m for f in discover(path) for m in f.parser.parse(f.source, report)]


def row(m: Message) -> tuple[Any, ...]:
    return (m.chat, m.chat_id, m.ts, m.sender, m.kind, m.text, m.attachment, m.source_id)


@pytest.mark.parametrize("name", ["package", "package_csv"])
def test_the_zip_reads_as_the_folder(name: str) -> None:
    folder, zipped = parsed(PACKAGES / name), parsed(PACKAGES / f"{name}.zip")
    assert folder and [row(m) for m in folder] == [row(m) for m in zipped]
    assert {m.source for m in folder} == {"discord"}


def test_only_the_messages_files_are_read() -> None:
    found = discover(PACKAGES / "package")
    assert {f.parser.name for f in found} == {"discord-package"}
    channels = ["1098765432109876543", "1156789012345678901", "1178901234567890123", DM]
    channels.append("1201456789012345678")
    assert sorted(f.source.name_hint for f in found) == [f"c{c}/messages.json" for c in channels]
    # user.json, index.json, channel.json, the activity log, guild.json: sniffed by no parser
    for path in (PACKAGES / "package").rglob("*"):
        if path.is_file() and path.name not in ("messages.json", "messages.csv"):
            data = path.read_bytes()
            source = Source(str(path), partial(io.BytesIO, data), len(data), path.name)
            assert find_parser(source) is None, path


# --- the mapping ---------------------------------------------------------------------------------


def test_every_message_is_the_owners_and_the_owner_is_reported() -> None:
    for name, owner in (("package", "Ana Müller"), ("package_csv", "anamueller")):
        for found in discover(PACKAGES / name):
            report = ParseReport(options=ParseOptions(timezone="UTC"))
            messages = list(found.parser.parse(found.source, report))
            assert {m.sender for m in messages} == {owner}
            assert report.owner == (owner, OWNER)
            assert "only the owner's own messages" in report.notes[0]


def test_chats_are_the_channels_under_discordchatexporters_ids() -> None:
    chats = {(m.chat_id, m.chat) for m in parsed(PACKAGES / "package")}
    assert chats == {
        (f"discord:{DM}", "Benoît Léger"),  # a DM: the friend's display name
        ("discord:1201456789012345678", "Ski trip 🎿"),  # a group DM: its name
        ("discord:1156789012345678901", "Trail Runners / #general"),
        ("discord:1178901234567890123", "Trail Runners / Carpool"),  # a thread: no parent known
        ("discord:1098765432109876543", "Unknown channel in Book Club"),  # a server left
    }
    # Before 2023 a friend had no display name, and the index a real discriminator.
    assert {m.chat for m in parsed(PACKAGES / "package_csv")} == {
        "benoit", "Trail Runners / #general"
    }  # fmt: skip


def test_attachments_are_media_keeping_the_text() -> None:
    dm = [m for m in parsed(PACKAGES / "package") if m.chat_id == f"discord:{DM}"]
    media = [(m.kind, m.text, m.attachment) for m in dm if m.kind is Kind.MEDIA]
    assert media == [
        (Kind.MEDIA, "look at this view", "IMG_2041.jpg"),
        (Kind.MEDIA, "", "trail map.pdf"),  # two attachments: the first named, its %20 undone
    ]


def test_emoji_and_friends_mentions_read_as_discordchatexporter_writes_them() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    source = next(f.source for f in discover(PACKAGES / "package") if DM in f.source.display)
    texts = [m.text for m in DiscordPackageParser().parse(source, report)]
    assert "see you there :campfire: :wave:" in texts
    assert "@carla_d is coming too" in texts  # no display name: her username
    assert "ask <@287650412983906305> about the car" in texts  # not a friend: as written
    assert "1 mention(s) of people not in the friends list kept as written" in report.notes


def test_messages_come_out_in_time_order_whatever_the_files_order() -> None:
    dm = [m for m in parsed(PACKAGES / "package") if m.chat_id == f"discord:{DM}"]
    assert [m.ts for m in dm] == sorted(m.ts for m in dm)
    assert dm[0].text == "hey! are you still up for saturday?"  # the file's last record
    same_second = [m.source_id for m in dm if m.ts == "2025-01-12T21:40:05"]
    assert same_second == sorted(same_second, key=int)  # then by id


def test_empty_records_are_skipped_and_every_record_counted() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    source = next(f.source for f in discover(PACKAGES / "package") if DM in f.source.display)
    assert len(list(DiscordPackageParser().parse(source, report))) == 7
    assert report.notes[0].endswith(
        "8 record(s), 7 kept, 1 with neither text nor attachment skipped (stickers, embeds, "
        "calls), 0 not understood"
    )


# --- times -------------------------------------------------------------------------------------


def snowflake_time(ident: str) -> datetime:
    return datetime.fromtimestamp(((int(ident) >> 22) + EPOCH_MS) // 1000, UTC)


@pytest.mark.parametrize("name", ["package", "package_csv"])
def test_timestamps_are_utc_as_the_message_ids_say(name: str) -> None:
    """A message id holds its UTC creation time: the package's `Timestamp` is that time."""
    for m in parsed(PACKAGES / name, zone="UTC"):
        assert m.source_id is not None
        assert datetime.fromisoformat(m.ts).replace(tzinfo=UTC) == snowflake_time(m.source_id)


def test_times_are_wall_clock_in_the_ingest_zone() -> None:
    report = ParseReport(options=ParseOptions(timezone="Asia/Tokyo"))
    got = list(DiscordPackageParser().parse(source([record("2025-01-12 21:34:50")]), report))
    assert got[0].ts == "2025-01-13T06:34:50"
    assert "times converted from UTC to Asia/Tokyo" in report.notes
    csv_file = source_csv([["1", "2020-08-25 22:54:05.726000+00:00", "hi", ""]])
    (m,) = DiscordPackageParser().parse(csv_file, report)
    assert m.ts == "2020-08-26T07:54:05"


# --- other layouts -----------------------------------------------------------------------------


def write_package(
    root: Path,
    channels: dict[str, tuple[dict[str, Any], str]],
    *,
    messages: str = "Messages",
    account: str | None = "Account",
    user: dict[str, Any] | None = None,
    index: dict[str, Any] | None = None,
    prefix: str = "c",
) -> Path:
    """A package folder: `channels` maps a channel id to its channel.json and messages file
    (JSON text, or CSV text starting with the header)."""
    if account is not None:
        owner = {"id": OWNER, "username": "ana.mueller", "global_name": "Ana Müller"}
        write(root / account / "user.json", json.dumps(user or owner))
    write(root / messages / "index.json", json.dumps(index or {}))
    for ident, (info, text) in channels.items():
        folder = root / messages / f"{prefix}{ident}"
        write(folder / "channel.json", json.dumps(info))
        name = "messages.csv" if text.startswith("ID,") else "messages.json"
        write(folder / name, text)
    return root


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")


def as_zip(folder: Path) -> Path:
    target = folder.with_suffix(".zip")
    with zipfile.ZipFile(target, "w") as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(folder).as_posix())
    return target


def csv_text(*rows: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows([["ID", "Timestamp", "Contents", "Attachments"], *rows])
    return buf.getvalue()


def test_the_2020_layout_numbered_types_and_a_group_named_by_its_members(tmp_path: Path) -> None:
    """Before mid-2021: `messages/<id>/` without the `c`; types were numbers until 2024."""
    user = {
        "id": OWNER, "username": "anamueller", "discriminator": 4821,
        "relationships": [
            {"id": BEN, "type": 1, "user": {"id": BEN, "username": "benoit"}},
            {"id": CARLA, "type": 1, "user": {"id": CARLA, "username": "carla_d"}},
        ],
    }  # fmt: skip
    group = {"id": "700", "type": 3, "recipients": [OWNER, BEN, CARLA]}
    text = csv_text(["111", "2020-05-01 12:34:56.123000+00:00", 'say "hi",\nthen go', ""])
    root = write_package(
        tmp_path / "pkg", {"700": (group, text)}, messages="messages", account="account",
        user=user, index={"700": None}, prefix="",
    )  # fmt: skip
    (m,) = parsed(root)
    assert (m.chat, m.chat_id, m.sender) == ("benoit, carla_d", "discord:700", "anamueller")
    assert (m.text, m.ts, m.origin_line) == ('say "hi",\nthen go', "2020-05-01T12:34:56", 2)


def test_a_translated_package_finds_its_account_folder(tmp_path: Path) -> None:
    """Since 2025 the top folders carry the account's language: `Compte/`, and `Activités/…/
    users/user.json` (an activity profile) sorts before it in a zip."""
    dm = {"id": DM, "type": "DM", "recipients": [OWNER, BEN]}
    root = write_package(
        tmp_path / "paquet", {DM: (dm, json.dumps([record("2025-01-12 21:34:50")]))},
        messages="Messages", account="Compte",
        index={DM: "Direct Message with benoit.l#0"},
    )  # fmt: skip
    profile = {"id": "b81bd5c7-7e52", "username": "ana.mueller", "discord_id": OWNER}
    write(root / "Activités" / "Activities_1" / "users" / "user.json", json.dumps(profile))
    for path in (root, as_zip(root)):
        (m,) = parsed(path)
        assert (m.sender, m.chat) == ("Ana Müller", "benoit.l")


def test_without_user_json_the_owner_is_me(tmp_path: Path) -> None:
    dm = {"id": DM, "type": "DM", "recipients": [OWNER, BEN]}
    root = write_package(
        tmp_path / "pkg", {DM: (dm, json.dumps([record("2025-01-12 21:34:50")]))},
        account=None, index={DM: "Direct Message with benoit.l#0"},
    )  # fmt: skip
    (found,) = discover(root)
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    (m,) = found.parser.parse(found.source, report)
    assert (m.sender, m.chat, report.owner) == ("Me", "benoit.l", ("Me", "me"))
    assert "no account user.json found: the owner's messages are from 'Me'" in report.notes


def test_two_packages_in_one_ingest_keep_their_own_owners() -> None:
    found = discover(PACKAGES / "package_csv") + discover(PACKAGES / "package.zip")
    found += discover(PACKAGES / "package_csv.zip")
    owners = []
    for f in found:
        report = ParseReport(options=ParseOptions(timezone="UTC"))
        senders = {m.sender for m in f.parser.parse(f.source, report)}
        owners.append((report.owner[0] if report.owner else None, senders))
    assert all({owner} == senders for owner, senders in owners)
    assert [o for o, _ in owners] == ["anamueller"] * 2 + ["Ana Müller"] * 5 + ["anamueller"] * 2


def test_broken_side_files_are_noted_and_the_messages_still_read(tmp_path: Path) -> None:
    dm = {"id": DM, "type": "DM", "recipients": [OWNER, BEN]}
    group = {"id": "700", "type": "GROUP_DM", "name": "Crew"}
    one = json.dumps([record("2025-01-12 21:34:50")])
    root = write_package(tmp_path / "pkg", {DM: (dm, one), "700": (group, one)})
    write(root / "Messages" / "index.json", "{not json")
    write(root / "Messages" / f"c{DM}" / "channel.json", "[1, 2]")
    notes = {}
    for found in discover(root):
        report = ParseReport(options=ParseOptions(timezone="UTC"))
        (m,) = found.parser.parse(found.source, report)
        notes[m.chat_id] = (m.chat, report.notes)
    broken, fine = notes[f"discord:{DM}"], notes["discord:700"]
    assert (broken[0], fine[0]) == (f"Discord channel {DM}", "Crew")  # the id from its folder
    index_problem = "Messages/index.json could not be read (JSONDecodeError)"
    assert index_problem in broken[1] and index_problem in fine[1]  # the package's: every file
    channel_problem = f"Messages/c{DM}/channel.json is not a JSON object"
    assert channel_problem in broken[1] and channel_problem not in fine[1]  # its own channel's


# --- sniffing ----------------------------------------------------------------------------------


def record(stamp: str, contents: str = "hi", attachments: str = "", **extra: Any) -> dict[str, Any]:
    moment = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
    ident = (int(moment.timestamp() * 1000) - EPOCH_MS) << 22
    return {"ID": ident, "Timestamp": stamp, "Contents": contents, "Attachments": attachments,
            **extra}  # fmt: skip


def source(records: list[Any], hint: str = f"c{DM}/messages.json") -> Source:
    data = json.dumps(records).encode()
    return Source(hint, partial(io.BytesIO, data), len(data), hint)


def source_csv(rows: list[list[str]], text: str | None = None) -> Source:
    data = (text if text is not None else csv_text(*rows)).encode()
    return Source(f"c{DM}/messages.csv", partial(io.BytesIO, data), len(data), "messages.csv")


def test_sniff_accepts_both_forms_and_a_byte_order_mark() -> None:
    parser = DiscordPackageParser()
    assert parser.sniff(source([record("2025-01-12 21:34:50")]))
    assert parser.sniff(source_csv([]))
    bom = b"\xef\xbb\xbf" + json.dumps([record("2025-01-12 21:34:50")], indent=2).encode()
    assert parser.sniff(Source("m.json", partial(io.BytesIO, bom), len(bom), "m.json"))


@pytest.mark.parametrize(
    "data",
    [
        b"[]",
        b'[{"id": "1", "timestamp": "2024-01-01", "content": "hi"}]',
        b'{"ID": 1, "Timestamp": "2024-01-01 00:00:00", "Contents": "hi"}',
        b"ID,Timestamp,Contents\n1,2024-01-01,hi\n",
        b"timestamp,sender,text\n2024-01-01,Ana,hi\n",
    ],
)
def test_sniff_rejects_other_files(data: bytes) -> None:
    assert not DiscordPackageParser().sniff(Source("x", partial(io.BytesIO, data), len(data), "x"))


OTHER_FIXTURES = sorted(
    p
    for folder in FIXTURES.iterdir()
    if folder.is_dir() and folder.name != "discord_package"
    for p in folder.rglob("*")
    if p.is_file() and p.suffix in (".json", ".jsonl", ".csv", ".txt")
)


@pytest.mark.parametrize("path", OTHER_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sniff_leaves_every_other_fixture_alone(path: Path) -> None:
    data = path.read_bytes()
    assert not DiscordPackageParser().sniff(
        Source(str(path), partial(io.BytesIO, data), len(data), path.name)
    )


# --- bad input ---------------------------------------------------------------------------------


def test_bad_records_are_counted_by_position_and_the_rest_kept() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    got = list(
        DiscordPackageParser().parse(
            source([
                record("2025-01-12 21:34:50", "a"), "stray",
                record("2025-01-12 21:35:00", Timestamp="soon"),
                record("2025-01-12 21:35:00", ID="abc"), record("2025-01-12 21:35:00", Contents=5),
                record("2025-01-12 21:35:00", Attachments={"url": "x"}),
                record("2025-01-12 21:36:00", "b", ID=None, Attachments=None),
            ]),
            report,
        )
    )  # fmt: skip
    first_id = str(record("2025-01-12 21:34:50")["ID"])
    assert [(m.text, m.source_id) for m in got] == [("a", first_id), ("b", None)]
    assert (report.unparsed, report.unparsed_lines, report.unit) == (5, [2, 3, 4, 5, 6], "record")
    assert "7 record(s), 2 kept, 0 with neither" in report.notes[0]


def test_bad_csv_rows_are_counted_by_line() -> None:
    report = ParseReport(options=ParseOptions(timezone="UTC"))
    rows = [
        ["1", "2020-05-01 12:00:00+00:00", "two\nlines", ""],
        ["2", "later", "no time", ""],
        ["3", "2020-05-01 12:01:00+00:00", "too", "many", "fields"],
        ["x", "2020-05-01 12:02:00+00:00", "bad id", ""],
        [],
        ["4", "2020-05-01 12:03:00+00:00", "ok", ""],
    ]
    got = list(DiscordPackageParser().parse(source_csv(rows), report))
    assert [(m.text, m.origin_line) for m in got] == [("two\nlines", 2), ("ok", 8)]
    assert (report.unparsed, report.unparsed_lines, report.unit) == (3, [4, 5, 6], "line")


def test_a_file_in_which_every_record_fails_is_an_error() -> None:
    with pytest.raises(InputError) as caught:
        list(
            DiscordPackageParser().parse(
                source(["x", record("2025-01-12 21:34:50", Timestamp="never")]), ParseReport()
            )
        )
    assert caught.value.path == f"c{DM}/messages.json"
    assert caught.value.problem == (
        "none of its 2 message record(s) could be read; the first, record 1: not a JSON object"
    )
    # An empty channel, or one of empty records only, is no failure.
    assert (
        list(
            DiscordPackageParser().parse(source([record("2025-01-12 21:34:50", "")]), ParseReport())
        )
        == []
    )


def test_a_csv_in_which_every_row_fails_names_the_first_line() -> None:
    rows = [["1", "soon", "a", ""], ["2", "later", "b", ""]]
    with pytest.raises(InputError) as caught:
        list(DiscordPackageParser().parse(source_csv(rows), ParseReport()))
    assert (caught.value.path, caught.value.line) == (f"c{DM}/messages.csv", 2)
    assert caught.value.problem == (
        "none of its 2 message record(s) could be read; the first, line 2: no readable `Timestamp`"
    )


def test_truncated_json_names_the_file_and_line() -> None:
    data = json.dumps([record("2025-01-12 21:34:50"), record("2025-01-12 21:35:50")], indent=2)
    cut = data[: data.rindex('"Contents"') + 3].encode()
    broken = Source("m.json", partial(io.BytesIO, cut), len(cut), "m.json")
    with pytest.raises(InputError) as caught:
        list(DiscordPackageParser().parse(broken, ParseReport()))
    assert caught.value.path == "m.json" and caught.value.line == cut.count(b"\n") + 1
    assert "truncated or malformed JSON" in caught.value.problem


def test_csv_that_is_not_utf8_is_an_error() -> None:
    data = "ID,Timestamp,Contents,Attachments\r\n1,2020-05-01 12:00:00+00:00,caf\xe9,\r\n"
    raw = data.encode("latin-1")
    bad = Source("messages.csv", partial(io.BytesIO, raw), len(raw), "messages.csv")
    with pytest.raises(InputError, match="not valid UTF-8"):
        list(DiscordPackageParser().parse(bad, ParseReport()))


# --- with DiscordChatExporter, build and memory ----------------------------------------------------


def exporter_dm(*messages: tuple[str, str, str, str]) -> dict[str, Any]:
    """DiscordChatExporter's JSON of the DM channel: (time, author id, nickname, content); each
    message's id is the one `record` gives a package's message of that time."""
    return {
        "guild": {"id": "0", "name": "Direct Messages"},
        "channel": {"id": DM, "type": "DirectTextChat", "name": "Benoît Léger"},
        "messages": [
            {
                "id": str(record(at)["ID"]), "type": "Default",
                "timestamp": at.replace(" ", "T") + ".417+00:00", "content": content,
                "author": {"id": author, "name": "x", "nickname": nickname},
                "attachments": [{"fileName": "IMG_1.jpg"}] if content == "look" else [],
            }
            for at, author, nickname, content in messages
        ],
    }  # fmt: skip


@pytest.mark.parametrize("package_first", [False, True])
def test_an_exporter_export_of_the_same_channel_is_the_same_chat(
    tmp_path: Path, package_first: bool
) -> None:
    """Same chat id, and the same message id: a message both hold is stored once, as the first
    ingested wrote it, even where the two write it differently (a server nickname, a mention)."""
    ana, ben = (OWNER, "Ana Müller"), (BEN, "Benoît Léger")
    said = [
        ("2025-01-12 21:34:50", ana, "hey! are you still up for saturday?"),
        ("2025-01-12 21:35:10", ben, "yes!! what do I bring"),
        ("2025-01-12 21:36:00", ana, "look"),  # with a photo in both
        ("2025-01-12 21:36:30", ana, "see you there :campfire:"),
        ("2025-01-12 21:37:00", ana, "@Benoît Léger you there?"),
        ("2025-01-12 21:38:00", ana, "ask @David about the car"),  # not a friend
    ]
    export = exporter_dm(*((at, who[0], who[1], text) for at, who, text in said))
    write(tmp_path / "exported" / "Direct Messages - Benoît Léger.json", json.dumps(export))
    photo = "https://cdn.discordapp.com/attachments/1/2/IMG_1.jpg?ex=1"
    package_records = [
        record("2025-01-12 21:34:50", "hey! are you still up for saturday?"),
        record("2025-01-12 21:36:00", "look", photo),
        record("2025-01-12 21:36:30", "see you there <:campfire:1034567890123456789>"),
        record("2025-01-12 21:37:00", f"<@{BEN}> you there?"),
        record("2025-01-12 21:38:00", "ask <@287650412983906305> about the car"),
        record("2025-01-12 21:39:00", "only in the package"),
    ]
    user = {"id": OWNER, "username": "ana.mueller", "global_name": "Ana Müller",
            "relationships": [{"id": BEN, "user": {"id": BEN, "username": "benoit.l",
                                                   "global_name": "Benoît Léger"}}]}  # fmt: skip
    dm = {"id": DM, "type": "DM", "recipients": [OWNER, BEN]}
    package = write_package(
        tmp_path / "package", {DM: (dm, json.dumps(package_records))}, user=user
    )
    ws = tmp_path / "ws"
    order = [package, tmp_path / "exported"] if package_first else [tmp_path / "exported", package]
    first = cli("ingest", order[0], "-w", ws, "--json")
    assert first.code == 0, first.err
    second = cli("ingest", order[1], "-w", ws, "--json")
    assert second.code == 0, second.err
    added = (second.json()["added"], second.json()["present"])
    assert added == (1, 5)
    stats = cli("stats", "-w", ws, "--json").json()
    assert stats["chats"] == 1 and stats["senders"] == {"Ana Müller": 6, "Benoît Léger": 1}
    rows = cli("messages", "-w", ws, "--json").out.splitlines()
    texts = [json.loads(line)["text"] for line in rows]
    kept = (
        "ask <@287650412983906305> about the car" if package_first else "ask @David about the car"
    )
    assert kept in texts and len(texts) == 7


def test_build_copes_with_chats_of_only_the_owners_messages(tmp_path: Path) -> None:
    """The package alone: "me" is its owner, and build writes nothing to learn from (no one is
    answered), dropping each session as `own_messages_only_session`, without failing."""
    ws = tmp_path / "ws"
    assert cli("ingest", PACKAGES / "package.zip", "-w", ws).code == 0
    me = cli("me", "-w", ws, "--json").json()
    assert (me["me"], me["how"]) == ("Ana Müller", "discord-package-account")
    built = cli("build", "-w", ws, "--json", "--no-low-info-filter", "--no-memory")
    assert built.code == 0, built.err
    report = built.json()
    assert report["samples"] == {"train": 0, "valid": 0}
    assert report["drops"]["own_messages_only_session"] == report["sessions"] == 5
    assert "no_reply_session" not in report["drops"]


def test_memory_indexes_the_package_as_the_persons_writing(tmp_path: Path) -> None:
    root = Workspace(tmp_path / "ws")
    assert cli("ingest", PACKAGES / "package", "-w", root.root).code == 0
    docs = list(documents(root, my_names(root)))
    mine = [d.text for d in docs if d.kind == "message"]
    assert "10k done, legs are jelly" in mine and "never mind, found them" in mine
    assert all(d.sender == "Ana Müller" for d in docs)
    assert {d.context for d in docs if d.kind == "exchange"} == {""}  # no one else's words
    with MemoryIndex(root, HashEmbedder()) as index:
        index.refresh()
        hits = recall(index, "legs are jelly", k=3)
    found = [h for h in hits if "legs are jelly" in h.text]
    assert found and found[0].chat == "Trail Runners / #general"
