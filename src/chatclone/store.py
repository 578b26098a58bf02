"""The SQLite store of every message (its schema: `migrations`).

Rows are content-addressed (`rows`): ingesting the same export twice adds nothing, and two
overlapping exports of one chat merge to exactly their union.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatclone.errors import WorkspaceError
from chatclone.messages import KIND_OF, PLAIN_ROW, Message, RowBatch
from chatclone.migrations import MIGRATIONS
from chatclone.rows import keyed, keyed_values, message_rows

_INSERT = (
    "INSERT OR IGNORE INTO messages (key, chat_id, ts, sender, kind, text, edited, reply_to, "
    "source_id, attachment, origin_line, sender_id, import_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# `RowBatch` rows (see there) with their key in front, and the import the whole batch shares
# written into the statement: each value bound costs time on every row of a big ingest.
_INSERT_FULL = _INSERT.replace(", ?)", ", {import_id})")
_INSERT_PLAIN = (
    "INSERT OR IGNORE INTO messages (key, chat_id, ts, sender, kind, text, edited, attachment, "
    "origin_line, import_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {import_id})"
)
_COLUMNS = (
    "c.name, m.chat_id, c.source, m.ts, m.sender, m.kind, m.text, m.edited, m.reply_to, "
    "m.source_id, m.attachment, i.path, m.origin_line, m.sender_id"
)
_ROWS_PER_INSERT = 100  # x 9 or 12 values, far below SQLite's limit of 32,766 per statement


@functools.cache
def _insert_rows(n: int, plain: bool, import_id: int) -> str:
    """The statement that inserts `n` keyed rows of one import at once."""
    head, values = (
        (_INSERT_PLAIN if plain else _INSERT_FULL)
        .format(import_id=int(import_id))
        .split(" VALUES ")
    )
    return f"{head} VALUES {', '.join([values] * n)}"


@dataclass
class AddResult:
    messages: int = 0  # messages offered
    added: int = 0  # of which new to the store

    @property
    def present(self) -> int:
        return self.messages - self.added


@dataclass
class ChatSummary:
    id: str
    name: str
    source: str
    messages: int
    first: str | None
    last: str | None


class Store:
    """One workspace's `chatclone.db`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(path, isolation_level=None)
            # Larger pages mean fewer B-tree splits on big ingests (only takes effect on a new
            # store, which is why it comes before WAL is switched on).
            self.db.execute("PRAGMA page_size=16384")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            # Content keys arrive in random order: a cache that holds the key index keeps a big
            # ingest from thrashing pages (the default is 2 MB).
            self.db.execute("PRAGMA cache_size=-65536")
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise WorkspaceError(f"{path}: not a chatclone store ({e})") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------------------

    def _migrate(self) -> None:
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, at TEXT NOT NULL)"
        )
        done = {row[0] for row in self.db.execute("SELECT name FROM schema_migrations")}
        known = {name for name, _ in MIGRATIONS}
        if unknown := done - known:
            raise WorkspaceError(
                f"{self.path}: written by a newer chatclone (migrations {', '.join(sorted(unknown))});"
                " upgrade chatclone to use it"
            )
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            with self.transaction():
                for statement in sql.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (name, _now()))

    def migrations(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM schema_migrations ORDER BY name")]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside lands whole or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- writing ----------------------------------------------------------------------------

    def start_import(self, path: str, parser: str) -> int:
        cur = self.db.execute(
            "INSERT INTO imports (at, path, parser, messages, added, unparsed) "
            "VALUES (?, ?, ?, 0, 0, 0)",
            (_now(), path, parser),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish_import(self, import_id: int, result: AddResult, unparsed: int) -> None:
        self.db.execute(
            "UPDATE imports SET messages = ?, added = ?, unparsed = ? WHERE id = ?",
            (result.messages, result.added, unparsed, import_id),
        )

    def add_messages(self, messages: Iterable[Message], import_id: int) -> AddResult:
        """Store the messages of one file; call inside `transaction()`. The file's path is kept
        once, in `imports`, as every message's provenance."""
        return self.add_rows(message_rows(messages), import_id)

    def add_rows(self, batches: Iterable[RowBatch], import_id: int) -> AddResult:
        """Store one file's batches of rows (`message_rows`', or a parser's own, made here or in
        the process that read the file), keyed here; call inside `transaction()`."""
        result = AddResult()
        occurrences: dict[bytes, int] = {}
        for chats, rows in batches:
            for chat in chats:
                self.db.execute(
                    "INSERT INTO chats (id, name, source) VALUES (?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                    chat,
                )
            if rows:
                result.messages += len(rows)
                result.added += self._insert(rows, import_id, occurrences)
        return result

    def _insert(
        self, rows: list[tuple[Any, ...]], import_id: int, occurrences: dict[bytes, int]
    ) -> int:
        """Key and insert rows `_ROWS_PER_INSERT` to a statement: a quarter less work than one
        statement per row. Returns how many were new."""
        added, n, execute = 0, _ROWS_PER_INSERT, self.db.execute
        plain = len(rows[0]) == len(PLAIN_ROW)
        sql = _insert_rows(n, plain, import_id)
        for i in range(0, len(rows), n):
            chunk = rows[i : i + n]
            if len(chunk) < n:
                sql = _insert_rows(len(chunk), plain, import_id)
            added += execute(sql, keyed_values(chunk, occurrences)).rowcount
        return added

    def set_owner(self, source: str, name: str, user_id: str) -> None:
        self.db.execute(
            "INSERT INTO account_owners VALUES (?, ?, ?) "
            "ON CONFLICT (source, user_id) DO UPDATE SET name = excluded.name",
            (source, user_id, name),
        )

    def move_chat(self, from_id: str, to_id: str, to_name: str) -> int:
        """Move every message of chat `from_id` into chat `to_id` (made, named `to_name`, if it
        does not exist), keyed as if they had been read into it, so that those it already holds
        are not stored twice; `from_id` is removed. Returns how many messages the store lost by it
        (those `to_id` already held), 0 or less: the change in its count. Call inside
        `transaction()`."""
        source = self.db.execute("SELECT source FROM chats WHERE id = ?", (from_id,)).fetchone()[0]
        self.db.execute(
            "INSERT INTO chats (id, name, source) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (to_id, to_name, source),
        )
        # Read back as full `RowBatch` rows of the target chat (each with its own import after
        # them), then keyed as if read into it.
        rows = self.db.execute(
            "SELECT ?, ts, sender, kind, text, edited, reply_to, source_id, attachment, "
            "origin_line, sender_id, import_id FROM messages WHERE chat_id = ? ORDER BY id",
            (to_id, from_id),
        ).fetchall()
        moved = keyed(rows, {})
        self.db.execute("DELETE FROM messages WHERE chat_id = ?", (from_id,))
        self.db.execute("DELETE FROM chats WHERE id = ?", (from_id,))
        added = self.db.executemany(_INSERT, moved).rowcount if moved else 0
        return int(added) - len(moved)

    # -- reading ----------------------------------------------------------------------------

    def has_chat(self, chat_id: str) -> bool:
        return (
            self.db.execute("SELECT 1 FROM chats WHERE id = ?", (chat_id,)).fetchone() is not None
        )

    def chat_size(self, chat_id: str) -> int:
        row = self.db.execute("SELECT COUNT(*) FROM messages WHERE chat_id = ?", (chat_id,))
        return int(row.fetchone()[0])

    def chat_id_set(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM chats")}

    def chats_of(self, source: str) -> list[tuple[str, str]]:
        """(id, name) of every chat from this source."""
        rows = self.db.execute("SELECT id, name FROM chats WHERE source = ? ORDER BY id", (source,))
        return [(r[0], r[1]) for r in rows]

    def chat_span(self, chat_id: str) -> tuple[str | None, str | None]:
        """The first and last message times of a chat (through the index: no scan)."""
        row = self.db.execute(
            "SELECT MIN(ts), MAX(ts) FROM messages WHERE chat_id = ?", (chat_id,)
        ).fetchone()
        return row[0], row[1]

    def shared_in_window(
        self, chat_id: str, other_id: str, start: str, end: str, limit: int
    ) -> tuple[int, int]:
        """Of `chat_id`'s first `limit` messages between `start` and `end`: how many were looked
        at, and how many `other_id` holds identically."""
        row = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(EXISTS (SELECT 1 FROM messages e WHERE e.chat_id = ? "
            "AND e.ts = n.ts AND e.kind = n.kind AND e.text = n.text "
            "AND e.sender IS n.sender)), 0) "
            "FROM (SELECT * FROM messages WHERE chat_id = ? AND ts BETWEEN ? AND ? "
            "ORDER BY ts, id LIMIT ?) n",
            (other_id, chat_id, start, end, limit),
        ).fetchone()
        return int(row[0]), int(row[1])

    def shared(self, chat_id: str, other_id: str) -> list[bool]:
        """For each message of `chat_id`, in the order it was read: whether `other_id` holds an
        identical one (time, sender, kind and text)."""
        rows = self.db.execute(
            "SELECT EXISTS (SELECT 1 FROM messages e WHERE e.chat_id = ? AND e.ts = n.ts "
            "AND e.kind = n.kind AND e.text = n.text AND e.sender IS n.sender) "
            "FROM messages n WHERE n.chat_id = ? ORDER BY n.id",
            (other_id, chat_id),
        )
        return [bool(r[0]) for r in rows]

    def owners(self) -> list[tuple[str, str, str]]:
        """(source, user id, name) of every account export's owner."""
        return list(self.db.execute("SELECT source, user_id, name FROM account_owners"))

    def count(self, with_sender: bool = False) -> int:
        sql = "SELECT COUNT(*) FROM messages" + (" WHERE sender IS NOT NULL" if with_sender else "")
        return int(self.db.execute(sql).fetchone()[0])

    def kinds(self) -> dict[str, int]:
        rows = self.db.execute("SELECT kind, COUNT(*) FROM messages GROUP BY kind ORDER BY 2 DESC")
        return {k: n for k, n in rows}

    def senders(self) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT sender, COUNT(*) FROM messages WHERE sender IS NOT NULL "
            "GROUP BY sender ORDER BY 2 DESC, 1"
        )
        return {s: n for s, n in rows}

    def sender_chat_counts(self) -> dict[str, int]:
        """In how many chats each sender wrote something (system lines aside)."""
        rows = self.db.execute(
            "SELECT sender, COUNT(DISTINCT chat_id) FROM messages "
            "WHERE sender IS NOT NULL AND kind != 'system' GROUP BY sender"
        )
        return {s: n for s, n in rows}

    def chat_ids(self, chat: str) -> list[str]:
        """The ids of the chats with this name or id (names need not be unique)."""
        rows = self.db.execute(
            "SELECT id FROM chats WHERE name = ? OR id = ? ORDER BY id", (chat, chat)
        )
        return [r[0] for r in rows]

    def chat_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM chats").fetchone()[0])

    def chat_senders(self, chat_id: str) -> set[str]:
        """Everyone who wrote in a chat (system lines aside)."""
        rows = self.db.execute(
            "SELECT DISTINCT sender FROM messages WHERE chat_id = ? AND sender IS NOT NULL "
            "AND kind != 'system'",
            (chat_id,),
        )
        return {r[0] for r in rows}

    def chats(self) -> list[ChatSummary]:
        rows = self.db.execute(
            "SELECT c.id, c.name, c.source, COUNT(m.id), MIN(m.ts), MAX(m.ts) FROM chats c "
            "LEFT JOIN messages m ON m.chat_id = c.id GROUP BY c.id ORDER BY c.name, c.id"
        )
        return [ChatSummary(*row) for row in rows]

    def iter_messages(self, chat: str | None = None) -> Iterator[Message]:
        """Messages in time order (file order within the same timestamp); `chat` is a chat's
        name or id."""
        sql = (
            f"SELECT {_COLUMNS} FROM messages m JOIN chats c ON c.id = m.chat_id "
            "JOIN imports i ON i.id = m.import_id"
        )
        params: list[str] = []
        if chat is not None:
            # Resolve the chat first so the query filters on the indexed chat_id: filtering on
            # "name or id" through the join scans every message, once per chat read.
            params = self.chat_ids(chat)
            if not params:
                return
            sql += f" WHERE m.chat_id IN ({', '.join('?' * len(params))})"
        sql += " ORDER BY m.ts, m.id"
        kinds = KIND_OF
        for row in self.db.execute(sql, params):  # (`_COLUMNS` is in `Message`'s order)
            yield Message(
                row[0], row[1], row[2], row[3], row[4], kinds[row[5]], row[6], bool(row[7]),
                row[8], row[9], row[10], row[11], row[12], row[13],
            )  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
