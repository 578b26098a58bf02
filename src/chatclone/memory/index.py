"""The memory index: what the clone can be reminded of, kept in step with the store.

The unit of memory is a *burst*: the person's consecutive messages in a chat (closer than
`BURST_GAP`), with what the others wrote just before it (within `CONTEXT_GAP`). Each burst is
stored as documents of two kinds, and each is embedded:

- `message`: each of the person's messages alone. It carries the specific line ("landed badly on
  my left ankle") and is what full text finds by an exact word;
- `exchange`: the others' context, then the whole burst. It carries the topic the line answers
  ("tonkotsu obviously" means nothing without "what do you want from the ramen place?").

Retrieval scores a burst by both views together (`recall.py`). Measured on two paraphrase
question sets (tests/fixtures/memory), exchange + messages finds what neither view finds alone;
the others' question embedded alone ("asked", an earlier design) made it worse.

Every document keeps its chat, time (its first message's), the time of its last message (so that
`before=` never lets a later line of a burst through) and sender. The index lives in
`memory/index.db` (SQLite, derived from the store and rebuilt from it at will): an FTS5 table with
the `trigram` tokenizer (substring matching that needs no word boundaries, so Chinese, Japanese or
Thai are searchable too) and the embeddings (the packaged all-MiniLM-L6-v2, float16). It is
refreshed on use whenever the store holds other messages than it was built from (after an
ingest); embeddings are cached by text, so a refresh embeds only what is new.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from chatclone.embeddings import DefaultEmbedder, Embedder
from chatclone.errors import ChatcloneError
from chatclone.me import show_me
from chatclone.messages import Kind
from chatclone.workspace import Workspace

INDEX_FILE = "index.db"
CONTEXT_GAP = timedelta(hours=2)  # older messages are not what a reply answers
CONTEXT_MESSAGES = 3
BURST_GAP = timedelta(minutes=30)  # my messages closer than this are one turn
EMBED_BATCH = 256
DOCS_VERSION = 6  # how documents are cut: a change rebuilds every index
SCHEMA_VERSION = 2  # the tables' layout: a change drops all but the vector cache
EMBED_CONTEXT_CHARS = 240
EMBED_TEXT_CHARS = 360
EMBEDDED_KINDS = ("exchange", "message")
SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,          -- 'message' or 'exchange'
    message TEXT NOT NULL,       -- key of the person's message (an exchange: its first)
    burst INTEGER NOT NULL,      -- which burst of the person's messages it belongs to
    chat TEXT NOT NULL,
    ts TEXT NOT NULL,            -- when it was said (an exchange: its first message)
    end_ts TEXT NOT NULL,        -- its last message: `before` compares this
    sender TEXT NOT NULL,
    text TEXT NOT NULL,          -- the person's message(s)
    context TEXT NOT NULL,       -- what the others wrote just before ('' for none)
    digest BLOB NOT NULL         -- of what is embedded
);
CREATE INDEX IF NOT EXISTS docs_burst ON docs (burst, kind);
CREATE VIRTUAL TABLE IF NOT EXISTS docs_fts USING fts5(
    text, context, content='docs', content_rowid='id', tokenize='trigram'
);
CREATE TABLE IF NOT EXISTS vectors (digest BLOB PRIMARY KEY, vec BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Doc:
    kind: str
    message: str  # a key of the person's message: chat, time, text
    burst: int
    chat: str
    ts: str
    end_ts: str
    sender: str
    text: str
    context: str

    @property
    def embedded(self) -> str:
        """What is embedded, cut to about what MiniLM was trained on (128 word pieces): the end
        of what was asked, the beginning of the reply."""
        context = self.context[-EMBED_CONTEXT_CHARS:]
        text = self.text[:EMBED_TEXT_CHARS]
        return f"{context}\n{text}" if context else text


@dataclass(frozen=True)
class Vectors:
    """The embedded documents, loaded once for search. Rows: one `exchange` per burst (row b is
    burst `bursts[b]`), then the `message` rows grouped by burst (`starts[b]` is where burst b's
    messages begin, so `np.maximum.reduceat` gives each burst its best message)."""

    matrix: Any  # float32, one unit row per document
    ids: list[int]  # document id of each row
    end_ts: Any  # str array: a row may be used for `before` only if this is earlier
    bursts: Any  # int array: the burst of each exchange row
    starts: Any  # int array: first message row of each burst (offset by len(bursts))


Progress = Callable[[str, int], Callable[[int], None] | None]
QUERIES_KEPT = 20_000  # query vectors kept (384 float32 each: about 30 MB at most)


class MemoryIndex:
    """`memory/index.db` of a workspace; `refresh()` brings it in step with the store."""

    def __init__(self, ws: Workspace, embedder: Embedder | None = None) -> None:
        self.ws = ws
        folder = ws.memory_dir
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / INDEX_FILE
        self.db = sqlite3.connect(self.path)
        try:
            if self.db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                # An older layout: drop what is derived, keep the vector cache (keyed by text).
                self.db.executescript(
                    "DROP TABLE IF EXISTS docs_fts; DROP TABLE IF EXISTS docs; "
                    f"DROP TABLE IF EXISTS state; PRAGMA user_version = {SCHEMA_VERSION};"
                )
            self.db.executescript(SCHEMA)
        except sqlite3.OperationalError as e:  # an SQLite built without FTS5
            raise ChatcloneError(f"memory needs SQLite with FTS5 ({e})") from None
        self._embedder = embedder
        self._vectors: Vectors | None = None
        self._queries: dict[str, Any] = {}  # query → vector, see `embed_queries`

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> MemoryIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = DefaultEmbedder()
        return self._embedder

    def embed_queries(self, queries: list[str]) -> Any:
        """The queries' vectors (float32, a row each). The latest are kept: a memory block
        retrieves messages and ranks facts for the same query, and a build embeds all its
        blocks' queries ahead in one batch."""
        import numpy as np

        todo = [q for q in dict.fromkeys(queries) if q not in self._queries]
        if todo:
            if len(self._queries) + len(todo) > QUERIES_KEPT:
                self._queries.clear()
            for query, vec in zip(todo, self.embedder.encode(todo), strict=True):
                self._queries[query] = np.asarray(vec, dtype=np.float32)
        return np.stack([self._queries[q] for q in queries])

    def refresh(self, progress: Progress | None = None) -> int:
        """Rebuild the documents if the store changed since the last build; returns how many
        texts had to be embedded (0 when the index was current)."""
        names = my_names(self.ws)
        stamp = _store_stamp(self.ws, names)
        if self._state("store") == stamp:
            return 0
        docs = list(documents(self.ws, names))
        new = self._embed_missing(docs, progress)
        with self.db:
            self.db.execute("DELETE FROM docs")
            self.db.executemany(
                "INSERT INTO docs (kind, message, burst, chat, ts, end_ts, sender, text, "
                "context, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        d.kind,
                        d.message,
                        d.burst,
                        d.chat,
                        d.ts,
                        d.end_ts,
                        d.sender,
                        d.text,
                        d.context,
                        _digest(d.embedded),
                    )
                    for d in docs
                ],
            )
            self.db.execute("INSERT INTO docs_fts(docs_fts) VALUES ('rebuild')")
            self._set_state("store", stamp)
        self._vectors = None
        return new

    def _embed_missing(self, docs: list[Doc], progress: Progress | None) -> int:
        have = {row[0] for row in self.db.execute("SELECT digest FROM vectors")}
        todo: dict[bytes, str] = {}
        for d in docs:
            key = _digest(d.embedded)
            if key not in have:
                todo[key] = d.embedded
        if not todo:
            return 0
        advance = progress("Indexing memory", len(todo)) if progress else None
        # Shortest first: batches of similar length pad less (MiniLM pads to the longest).
        keys = sorted(todo, key=lambda k: len(todo[k]))
        for start in range(0, len(keys), EMBED_BATCH):
            chunk = keys[start : start + EMBED_BATCH]
            vectors = self.embedder.encode([todo[k] for k in chunk])
            with self.db:
                self.db.executemany(
                    "INSERT OR REPLACE INTO vectors (digest, vec) VALUES (?, ?)",
                    [(k, _f16(v)) for k, v in zip(chunk, vectors, strict=True)],
                )
            if advance is not None:
                advance(len(chunk))
        return len(todo)

    def vectors(self) -> Vectors:
        """The embedded documents, loaded once (see `Vectors`)."""
        import numpy as np

        if self._vectors is None:
            rows = self.db.execute(
                "SELECT d.id, d.end_ts, d.burst, d.kind, v.vec FROM docs d "
                "JOIN vectors v ON v.digest = d.digest "
                "ORDER BY d.kind = 'message', d.burst, d.id"
            ).fetchall()
            flat = np.frombuffer(b"".join(r[4] for r in rows), dtype=np.float16)
            width = flat.size // max(len(rows), 1)
            exchanges = [r for r in rows if r[3] == "exchange"]
            message_bursts = np.array([r[2] for r in rows[len(exchanges) :]], dtype=np.int64)
            bursts = np.array([r[2] for r in exchanges], dtype=np.int64)
            starts = np.searchsorted(message_bursts, bursts) + len(exchanges)
            self._vectors = Vectors(
                flat.reshape(len(rows), width).astype(np.float32),
                [r[0] for r in rows],
                np.array([r[1] for r in rows]),
                bursts,
                starts,
            )
        return self._vectors

    def matrix(self) -> tuple[Any, list[int], Any]:
        """The embedded documents' vectors (rows), ids and times (of their last message)."""
        v = self.vectors()
        return v.matrix, v.ids, v.end_ts

    def _state(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_state(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))


def my_names(ws: Workspace) -> set[str]:
    """The sender names that are the person; a clear error when nobody can tell."""
    names = show_me(ws).names()
    if not names:
        raise ChatcloneError(
            f"cannot tell whose memory to index in {ws.root}: say who you are with "
            "`chatclone me NAME`"
        )
    return names


def documents(ws: Workspace, names: set[str]) -> Iterator[Doc]:
    """The person's text messages (sent under `names`) from the store, in time order: each
    message alone, and each burst (their consecutive messages) with what the others wrote just
    before it. Every burst has exactly one `exchange` and at least one `message`."""
    chats: dict[str, _Chat] = {}
    bursts = 0
    with ws.open_store() as store:
        for m in store.iter_messages():
            if m.kind != Kind.TEXT or not m.text.strip() or m.sender is None:
                continue
            chat = chats.setdefault(m.chat_id, _Chat())
            at = _parse(m.ts)
            if m.sender not in names:
                yield from chat.close_burst()
                chat.before.append((at, m.text))
                continue
            if chat.burst and at - chat.burst[-1][0] > BURST_GAP:
                yield from chat.close_burst()
            if not chat.burst:
                bursts += 1
                chat.number = bursts
            key = f"{m.chat_id}|{m.ts}|{m.text}"
            yield Doc("message", key, chat.number, m.chat, m.ts, m.ts, m.sender, m.text, "")
            chat.burst.append((at, key, m))
    for chat in chats.values():
        yield from chat.close_burst()


class _Chat:
    """One chat while documents are made: the others' latest messages and my open burst."""

    def __init__(self) -> None:
        self.before: deque[tuple[datetime, str]] = deque(maxlen=CONTEXT_MESSAGES)
        self.burst: list[tuple[datetime, str, Any]] = []
        self.number = 0

    def close_burst(self) -> Iterator[Doc]:
        if not self.burst:
            return
        start, key, first = self.burst[0]
        context = "\n".join(t for when, t in self.before if start - when <= CONTEXT_GAP)
        text = "\n".join(m.text for _, _, m in self.burst)
        last = self.burst[-1][2].ts
        yield Doc(
            "exchange", key, self.number, first.chat, first.ts, last, first.sender, text, context
        )
        self.burst = []


def _store_stamp(ws: Workspace, names: set[str]) -> str:
    """What the index was built from: the store's message count and who "me" is."""
    with ws.open_store() as store:
        count = store.count()
    return f"{DOCS_VERSION}|{count}|{sorted(names)}"


def _parse(ts: str) -> datetime:
    try:
        return datetime.fromisoformat(ts)
    except ValueError:
        return datetime.min


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _f16(vector: Any) -> bytes:
    import numpy as np

    return bytes(np.asarray(vector, dtype=np.float16).tobytes())


def index_path(ws: Workspace) -> Path:
    return ws.memory_dir / INDEX_FILE
