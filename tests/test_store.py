"""The store: migrations, and refusing stores it cannot understand."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chatclone.config import MeSettings, Settings, load_settings, render_settings, save_settings
from chatclone.errors import WorkspaceError
from chatclone.messages import Kind, Message
from chatclone.migrations import MIGRATIONS
from chatclone.rows import _key, keyed, message_rows
from chatclone.store import Store


def message(text: str, ts: str = "2024-01-01T10:00", source_id: str | None = None) -> Message:
    return Message("Chat", "whatsapp:1", "whatsapp", ts, "Ana", Kind.TEXT, text,
                   source_id=source_id, origin_file="f.txt", origin_line=1)  # fmt: skip


def test_migrations_are_recorded_and_run_once(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        assert store.migrations() == [name for name, _ in MIGRATIONS]
    with Store(tmp_path / "c.db") as store:  # reopening applies nothing twice
        assert store.migrations() == [name for name, _ in MIGRATIONS]


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    Store(tmp_path / "c.db").close()
    con = sqlite3.connect(tmp_path / "c.db")
    con.execute("INSERT INTO schema_migrations VALUES ('m999_future', 'x')")
    con.commit()
    con.close()
    with pytest.raises(WorkspaceError, match="newer chatclone"):
        Store(tmp_path / "c.db")


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    (tmp_path / "c.db").write_bytes(b"hello, not sqlite" * 100)
    with pytest.raises(WorkspaceError, match="not a chatclone store"):
        Store(tmp_path / "c.db")


def test_messages_with_ids_are_keyed_by_id(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store, store.transaction():
        imp = store.start_import("f.txt", "test")
        first = store.add_messages(
            [message("hi", source_id="1"), message("hi", source_id="2")], imp
        )
        again = store.add_messages([message("hi", source_id="1")], imp)
    assert (first.added, again.added, again.present) == (2, 0, 1)


def test_time_order_keeps_file_order_within_a_minute(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        with store.transaction():
            imp = store.start_import("f.txt", "test")
            store.add_messages([message("b", "2024-01-01T10:01"), message("z"), message("a")], imp)
        assert [m.text for m in store.iter_messages()] == ["z", "a", "b"]


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.add_messages([message("x")], store.start_import("f.txt", "test"))
            raise RuntimeError
        assert store.count() == 0


def test_settings_round_trip_with_help_comments(tmp_path: Path) -> None:
    path = tmp_path / "chatclone.toml"
    save_settings(path, Settings(MeSettings("Sam", ["Sammy"])))
    text = path.read_text()
    assert "# The person being cloned" in text
    assert load_settings(path) == Settings(MeSettings("Sam", ["Sammy"]))
    assert load_settings(tmp_path / "missing.toml") == Settings()
    assert "# name = " in render_settings(Settings())


@pytest.mark.parametrize(
    ("text", "error"),
    [("[me]\nnmae = 'x'\n", "unknown setting 'nmae'"), ("me = 3\n", "must be a table"),
     ("[me\n", "not valid TOML"),
     ("[dataset]\nmax_context_tokens = '1024'\n", "max_context_tokens must be int, not '1024'"),
     ("[dataset]\nsession_gap = 3\n", "session_gap must be str"),
     ("[dataset]\nlow_info_filter = 1\n", "low_info_filter must be bool"),
     ("[dataset]\nmax_context_tokens = true\n", "max_context_tokens must be int"),
     ("[dataset]\nblocked_words = 'x'\n", "blocked_words must be list of strings"),
     ("[me]\nname = 7\n", "name must be str")],
)  # fmt: skip
def test_bad_settings_are_named(tmp_path: Path, text: str, error: str) -> None:
    # Types are checked against each field's default; a float setting takes an int too.
    path = tmp_path / "chatclone.toml"
    path.write_text(text)
    with pytest.raises(WorkspaceError, match=error):
        load_settings(path)


def test_a_float_setting_accepts_an_int(tmp_path: Path) -> None:
    path = tmp_path / "chatclone.toml"
    path.write_text("[dataset]\nvalid_fraction = 0\nlow_info_threshold = 0.5\n")
    settings = load_settings(path)
    assert settings.dataset.valid_fraction == 0 and settings.dataset.low_info_threshold == 0.5


def test_a_store_from_before_the_chat_time_key_index_keeps_every_row(tmp_path: Path) -> None:
    """m002 rebuilds the messages table around one (chat, ts, key) index: a store written with
    m001 alone keeps every row and id, and still refuses what it already holds."""
    path = tmp_path / "c.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, at TEXT NOT NULL)")
    for statement in MIGRATIONS[0][1].split(";"):
        if statement.strip():
            con.execute(statement)
    con.execute("INSERT INTO schema_migrations VALUES ('m001_initial', 'x')")
    con.execute("INSERT INTO chats VALUES ('whatsapp:1', 'Chat', 'whatsapp')")
    con.execute("INSERT INTO imports VALUES (1, 'x', 'f.txt', 'whatsapp', 3, 3, 0)")
    old = [message("hi"), message("hi"), message("later", "2024-01-01T11:00", "7")]
    (_, rows), *_ = list(message_rows(old))
    con.executemany(
        "INSERT INTO messages (key, chat_id, ts, sender, kind, text, edited, reply_to, "
        "source_id, attachment, origin_line, import_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,1)",
        [row[:11] for row in keyed(rows, {})],  # (m001 had no sender_id)
    )
    con.commit()
    before = list(con.execute("SELECT * FROM messages ORDER BY id"))
    con.close()
    with Store(path) as store:
        assert store.migrations() == [name for name, _ in MIGRATIONS]
        after = list(store.db.execute("SELECT * FROM messages ORDER BY id"))
        assert [row[:-1] for row in after] == before
        assert {row[-1] for row in after} == {None}  # m003's sender_id
        indexes = {row[1] for row in store.db.execute("PRAGMA index_list(messages)")}
        assert {"messages_chat_ts_key", "messages_chat_source_id"} <= indexes
        with store.transaction():
            again = store.add_messages(old, store.start_import("f.txt", "whatsapp"))
            # The message with its own id, read again at another time (another time zone):
            moved = store.add_messages(
                [message("later", "2024-01-01T12:00", "7")], store.start_import("g", "x")
            )
        assert (again.added, moved.added) == (0, 0)
        assert store.count() == 3


def test_the_sender_id_is_stored_and_read_back(tmp_path: Path) -> None:
    m = Message(
        "Chat", "telegram:1", "telegram", "2024-01-01T10:00", "Ana", Kind.TEXT, "hi",
        source_id="5", origin_file="result.json", sender_id="user42",
    )  # fmt: skip
    with Store(tmp_path / "c.db") as store:
        with store.transaction():
            store.add_messages([m, message("no id here")], store.start_import("f", "telegram"))
        got = {x.text: x.sender_id for x in store.iter_messages()}
    assert got == {"hi": "user42", "no id here": None}


def test_rows_are_keyed_as_their_messages() -> None:
    """The writer keys rows (`keyed`) that may come from another process; the keys must be
    exactly the messages' own (`_key`), or a re-ingest would store everything twice."""
    messages = [
        message("hi"), message("hi"), message("hi", "2024-01-01T10:01"),
        message("with id", source_id="42"),
        Message("Chat", "whatsapp:1", "whatsapp", "2024-01-01T10:00", None, Kind.SYSTEM, "Ana left"),
        message("bad \udc80 surrogate"),
    ]  # fmt: skip
    occurrences: dict[bytes, int] = {}
    want = [_key(m, occurrences) for m in messages]
    (_, rows), *_ = list(message_rows(messages))
    assert [row[0] for row in keyed(rows, {})] == want
