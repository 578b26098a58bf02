"""The store's schema, as numbered migrations: `Store` applies, in order, those a store has not
had yet, each in one transaction, and records it in `schema_migrations`. A migration, once
released, never changes (stores in the wild have run it): a change is a new migration.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    (
        "m001_initial",
        """
        CREATE TABLE chats (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            source TEXT NOT NULL
        );
        CREATE TABLE imports (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            path TEXT NOT NULL,
            parser TEXT NOT NULL,
            messages INTEGER NOT NULL,
            added INTEGER NOT NULL,
            unparsed INTEGER NOT NULL
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            key BLOB NOT NULL UNIQUE,
            chat_id TEXT NOT NULL REFERENCES chats(id),
            ts TEXT NOT NULL,
            sender TEXT,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            edited INTEGER NOT NULL DEFAULT 0,
            reply_to TEXT,
            source_id TEXT,
            attachment TEXT,
            origin_line INTEGER,
            import_id INTEGER NOT NULL REFERENCES imports(id)
        );
        CREATE INDEX messages_chat_ts ON messages (chat_id, ts);
        CREATE TABLE account_owners (
            source TEXT NOT NULL,
            user_id TEXT NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (source, user_id)
        );
        """,
    ),
    (
        # One index on (chat, time, key) both orders a chat's messages in time and refuses a
        # message stored twice; the key's own UNIQUE index, in random order, cost a third of
        # a big ingest. Messages with an id of their own stay unique by it (partial index).
        "m002_chat_ts_key",
        """
        CREATE TABLE messages_new (
            id INTEGER PRIMARY KEY,
            key BLOB NOT NULL,
            chat_id TEXT NOT NULL REFERENCES chats(id),
            ts TEXT NOT NULL,
            sender TEXT,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            edited INTEGER NOT NULL DEFAULT 0,
            reply_to TEXT,
            source_id TEXT,
            attachment TEXT,
            origin_line INTEGER,
            import_id INTEGER NOT NULL REFERENCES imports(id)
        );
        INSERT INTO messages_new SELECT id, key, chat_id, ts, sender, kind, text, edited,
            reply_to, source_id, attachment, origin_line, import_id FROM messages ORDER BY id;
        DROP TABLE messages;
        ALTER TABLE messages_new RENAME TO messages;
        CREATE UNIQUE INDEX messages_chat_ts_key ON messages (chat_id, ts, key);
        CREATE UNIQUE INDEX messages_chat_source_id ON messages (chat_id, source_id)
            WHERE source_id IS NOT NULL;
        """,
    ),
    (
        "m003_sender_id",
        "ALTER TABLE messages ADD COLUMN sender_id TEXT",
    ),
]
