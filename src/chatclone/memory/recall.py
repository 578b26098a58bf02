"""Hybrid retrieval over the memory index: full text and embeddings, fused by rank.

Full text (FTS5, trigram) finds the rare exact word ("alfama", a name, a place); embeddings find the
paraphrase ("what did you hurt" → "landed badly on my left ankle"). Each ranks up to `CANDIDATES`
documents; reciprocal-rank fusion (Cormack et al. 2009: score = Σ 1 / (60 + rank)) merges them
without having to calibrate bm25 against cosine. A message found both alone and as an exchange
counts once, at its best. `before` keeps only what was said before a time (an ISO date or
date-time, compared as the store's local wall-clock times).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from chatclone.errors import ChatcloneError
from chatclone.memory.index import MemoryIndex

CANDIDATES = 50
RRF_K = 60
# Measured on the demo's paraphrase questions (tests/fixtures/memory): words in common are rare
# there, so full text weighs half; it still decides when a rare word (a name, a place) is shared.
FULL_TEXT_WEIGHT = 0.5
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
    """One remembered message, with where and when it was said."""

    chat: str
    ts: str
    sender: str
    text: str
    score: float
    context: str  # what the others wrote just before ('' when found alone)
    kind: str  # how it was found best: 'message' or 'exchange'

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
    """The `k` messages most worth reminding the clone of for `query`, best first."""
    if k < 1:
        raise ChatcloneError("--k must be at least 1")
    before = check_before(before)
    rankings = [
        (FULL_TEXT_WEIGHT, _full_text(index, query, before)),
        (1.0, _semantic(index, query, before)),
    ]
    fused: dict[int, float] = {}
    for weight, ranking in rankings:
        for rank, doc in enumerate(ranking):
            fused[doc] = fused.get(doc, 0.0) + weight / (RRF_K + rank + 1)
    hits: list[Hit] = []
    seen: set[str] = set()
    for doc, score in sorted(fused.items(), key=lambda item: (-item[1], item[0])):
        row = index.db.execute(
            "SELECT message, chat, ts, sender, text, context, kind FROM docs WHERE id = ?", (doc,)
        ).fetchone()
        if row is None or row[0] in seen or _inside(row[4], hits):
            continue
        seen.add(row[0])
        hits.append(Hit(row[1], row[2], row[3], row[4], round(score, 5), row[5], row[6]))
        if len(hits) == k:
            break
    return hits


def _inside(text: str, hits: list[Hit]) -> bool:
    """Already shown: a message inside a burst found before it."""
    return any(text in h.text for h in hits)


def _full_text(index: MemoryIndex, query: str, before: str | None) -> list[int]:
    """bm25 over trigrams: each word of three characters or more (in a script without spaces,
    each run of three characters); two-character words (西湖, 東京) by substring."""
    terms, short = _terms(query)
    ids: list[int] = []
    time = " AND d.ts < ?" if before else ""
    if terms:
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        sql = (
            "SELECT d.id FROM docs_fts JOIN docs d ON d.id = docs_fts.rowid "
            f"WHERE docs_fts MATCH ?{time} ORDER BY bm25(docs_fts, 1.0, 0.4) LIMIT ?"
        )
        ids += [
            r[0] for r in index.db.execute(sql, [match, *([before] if before else []), CANDIDATES])
        ]
    for word in short:
        sql = f"SELECT d.id FROM docs d WHERE instr(d.text, ?) > 0{time} ORDER BY d.id LIMIT ?"
        ids += [
            r[0] for r in index.db.execute(sql, [word, *([before] if before else []), CANDIDATES])
        ]
    return list(dict.fromkeys(ids))[:CANDIDATES]


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


def _semantic(index: MemoryIndex, query: str, before: str | None) -> list[int]:
    import numpy as np

    vectors, ids, times = index.matrix()
    if not ids:
        return []
    q = np.asarray(index.embedder.encode([query])[0], dtype=np.float32)
    scores = vectors @ q
    if before:
        scores = np.where(times < before, scores, -np.inf)
    top = np.argsort(-scores)[:CANDIDATES]
    return [ids[i] for i in top if np.isfinite(scores[i])]
