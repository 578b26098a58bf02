"""Hybrid retrieval over the memory index: embeddings, with full text as a bounded bonus.

What is ranked is a burst of the person's messages (see `index.py`). Embeddings find the paraphrase
("how heavy is biscuit these days?" → "vet says he's 4 and a half kilos"): a burst scores the mean
of two cosines, the query against the whole exchange (topic) and against its best single message
(the specific line). Full text (FTS5, trigram) finds the rare exact word ("alfama", a name, a
place, a word in a script without spaces) and adds at most `FULL_TEXT_BONUS` to a burst's cosine
(see `_fuse` for why not reciprocal-rank fusion). `before` keeps only what was said before a time (an ISO date or date-time,
compared as the store's local wall-clock times): a burst that runs past it is cut there.

What was measured and left out (tests/fixtures/memory, both question sets, README "Memory"):
expanding query words to their nearest corpus words by embedding ("portugal" → "lisbon"),
pseudo-relevance feedback, rewriting "you" to "I", a wider window of the chat, recency and
neighbour boosts, centring the vectors, full text only for rare words: none found more, most
found less.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from chatclone.errors import ChatcloneError
from chatclone.memory.index import MemoryIndex, Vectors

CANDIDATES = 50
# Measured on the paraphrase questions (tests/fixtures/memory): a word in common there is rare and
# more often misleading than not (the right topic, not the answering line), so full text only
# nudges; it still decides where cosines are alike (a name, a script the model cannot read).
FULL_TEXT_BONUS = 0.05
QUERY_CHUNK = 64  # queries scored per matrix product in `recall_many`
_WORDS = re.compile(r"\w+")
# Han, kana, Hangul and Thai: written without spaces between words.
_SPACELESS = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
# Words too common to search for in chat text; everything else of three letters or more is.
STOPWORDS = frozenset(
    [
        "the",
        "and",
        "you",
        "your",
        "are",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "how",
        "did",
        "does",
        "doing",
        "have",
        "has",
        "had",
        "for",
        "with",
        "that",
        "this",
        "there",
        "they",
        "them",
        "then",
        "than",
        "from",
        "about",
        "into",
        "just",
        "like",
        "yeah",
        "not",
        "but",
        "its",
        "our",
        "out",
        "get",
        "got",
        "can",
        "could",
        "would",
        "should",
        "will",
        "been",
        "being",
        "any",
        "some",
        "all",
    ]
)


@dataclass(frozen=True)
class Hit:
    """One remembered burst of the person's messages, with where and when it was said."""

    chat: str
    ts: str  # its first message
    sender: str
    text: str  # the person's messages, one a line (only those before `before`)
    score: float
    context: str  # what the others wrote just before ('' for none)
    kind: str  # which view found it best: 'exchange' (with its context) or 'message' (alone)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_before(before: str | None) -> str | None:
    """An ISO date or date-time, as the store writes times; a clear error otherwise."""
    if before is None:
        return None
    try:
        datetime.fromisoformat(before)
    except ValueError:
        raise ChatcloneError(
            f"--before '{before}': give a date or date-time like 2024-05-01 or 2024-05-01T18:00"
        ) from None
    return before


def recall(index: MemoryIndex, query: str, k: int = 5, before: str | None = None) -> list[Hit]:
    """The `k` bursts most worth reminding the clone of for `query`, best first."""
    return recall_many(index, [query], k, [before])[0]


def recall_many(
    index: MemoryIndex, queries: list[str], k: int = 5, befores: list[str | None] | None = None
) -> list[list[Hit]]:
    """`recall` for many queries at once (a dataset build asks thousands): the queries are
    embedded in one batch and scored a chunk at a time by one matrix product."""
    if k < 1:
        raise ChatcloneError("--k must be at least 1")
    befores = befores if befores is not None else [None] * len(queries)
    if len(befores) != len(queries):
        raise ChatcloneError("recall_many needs one `before` per query")
    befores = [check_before(b) for b in befores]
    if not queries:
        return []
    semantic = _semantic(index, queries, befores)
    results = []
    for query, before, ranked in zip(queries, befores, semantic, strict=True):
        fused = _fuse(ranked, _full_text(index, query, before))
        hits = [_hit(index, b, s, ranked.view(b), before) for b, s in fused[: k * 2]]
        results.append([h for h in hits if h is not None][:k])
    return results


def _fuse(ranked: _Ranked, full_text: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Bursts by semantic score plus a full-text bonus of at most `FULL_TEXT_BONUS` (the match's
    bm25 relative to the best one). Scores rather than ranks (RRF): a bonus this small reorders
    bursts whose meaning is about as close, not ones far apart (RRF moved them by whole ranks and
    found fewer answers); in a script the model cannot read, where every cosine is alike, full
    text decides."""
    fused = {b: ranked.score(b) for b in ranked.bursts}
    strongest = min((bm25 for _, bm25 in full_text), default=0.0)
    for burst, bm25 in full_text:
        bonus = FULL_TEXT_BONUS * (bm25 / strongest if strongest < 0 else 1.0)
        fused[burst] = ranked.score(burst) + bonus
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def _hit(index: MemoryIndex, burst: int, score: float, kind: str, before: str | None) -> Hit | None:
    """The burst as a hit: its exchange's provenance, and its messages said before `before`."""
    head = index.db.execute(
        "SELECT chat, ts, sender, context FROM docs WHERE burst = ? AND kind = 'exchange'",
        (burst,),
    ).fetchone()
    time = " AND end_ts < ?" if before else ""
    lines = index.db.execute(
        f"SELECT text FROM docs WHERE burst = ? AND kind = 'message'{time} ORDER BY id",
        (burst, *([before] if before else [])),
    ).fetchall()
    if head is None or not lines:
        return None
    text = "\n".join(r[0] for r in lines)
    return Hit(head[0], head[1], head[2], text, round(score, 5), head[3], kind)


@dataclass(frozen=True)
class _Ranked:
    """One query's semantic scores: every burst's (a row per burst of `Vectors.bursts`), the
    `CANDIDATES` best, and which view scored each higher."""

    vectors: Vectors
    scores: Any  # per burst: mean of the exchange's cosine and the best message's
    exchange: Any  # per burst: the exchange's cosine
    bursts: list[int]  # the best, best first

    def score(self, burst: int) -> float:
        import numpy as np

        if not len(self.scores):
            return -1.0
        value = float(self.scores[int(np.searchsorted(self.vectors.bursts, burst))])
        return value if value > -1e9 else -1.0  # a burst all after `before` (full text excludes it)

    def view(self, burst: int) -> str:
        import numpy as np

        row = int(np.searchsorted(self.vectors.bursts, burst))
        return "exchange" if self.exchange[row] >= self.scores[row] else "message"


def _semantic(index: MemoryIndex, queries: list[str], befores: list[str | None]) -> list[_Ranked]:
    """Per query, every burst scored by the mean of the exchange's cosine and its best
    message's; the queries embedded in one batch, scored a chunk at a time."""
    import numpy as np

    v = index.vectors()
    if not v.ids:
        empty = np.zeros(0, dtype=np.float32)
        return [_Ranked(v, empty, empty, []) for _ in queries]
    q = index.embed_queries(queries)
    out = []
    for start in range(0, len(queries), QUERY_CHUNK):
        scores = v.matrix @ q[start : start + QUERY_CHUNK].T  # rows × queries
        for j, before in enumerate(befores[start : start + QUERY_CHUNK]):
            out.append(_burst_scores(v, scores[:, j], before))
    return out


def _burst_scores(v: Vectors, scores: Any, before: str | None) -> _Ranked:
    import numpy as np

    if before:
        scores = np.where(v.end_ts < before, scores, -np.inf)
    n = len(v.bursts)
    exchange, best_message = scores[:n], np.maximum.reduceat(scores, v.starts)
    # A burst that runs past `before` has no exchange left: its earlier messages stand alone.
    mean = np.where(np.isfinite(exchange), (exchange + best_message) / 2, best_message)
    top = np.argpartition(-mean, min(CANDIDATES, n - 1))[:CANDIDATES]
    top = top[np.argsort(-mean[top], kind="stable")]
    top = top[np.isfinite(mean[top])]
    return _Ranked(v, mean, exchange, [int(v.bursts[i]) for i in top])


def _full_text(index: MemoryIndex, query: str, before: str | None) -> list[tuple[int, float]]:
    """Bursts by bm25 over trigrams: each word of three characters or more (in a script without
    spaces, each run of three characters); two-character words (西湖, 東京) by substring."""
    terms, short = _terms(query)
    found: dict[int, float] = {}  # burst: its best bm25 (negative, lower is better)
    time = " AND d.end_ts < ?" if before else ""
    if terms:
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        sql = (
            "SELECT d.burst, bm25(docs_fts, 1.0, 0.4) AS rank FROM docs_fts "
            f"JOIN docs d ON d.id = docs_fts.rowid WHERE docs_fts MATCH ?{time} "
            "ORDER BY rank LIMIT ?"
        )
        args = [match, *([before] if before else []), CANDIDATES * 2]
        for burst, bm25 in index.db.execute(sql, args):
            found.setdefault(burst, bm25)
    for word in short:
        sql = f"SELECT d.burst FROM docs d WHERE instr(d.text, ?) > 0{time} ORDER BY d.id LIMIT ?"
        args = [word, *([before] if before else []), CANDIDATES]
        for (burst,) in index.db.execute(sql, args):
            found.setdefault(burst, min(found.values(), default=-1.0))  # as strong as any
    return list(found.items())[:CANDIDATES]


def _terms(query: str) -> tuple[list[str], list[str]]:
    terms: list[str] = []
    short: list[str] = []
    for word in _WORDS.findall(query.casefold()):
        if _SPACELESS.search(word):
            if len(word) < 3:
                short.append(word)
            terms += [word[i : i + 3] for i in range(len(word) - 2)]
        elif len(word) >= 3 and word not in STOPWORDS:
            terms.append(word)
    return list(dict.fromkeys(terms)), short
