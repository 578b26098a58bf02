"""Run: .venv/bin/python benchmarks/memory_recall.py [--messages 100000] [--queries 200]

Memory at scale, on this machine: a generated export shaped like real chat (`build_dataset.py`'s
generator, Sam in every conversation) is ingested, then the memory index is built with the real
embedding model (documents per second, texts embedded per second), then `--queries` queries are
timed one by one as a chat turn would run them (query embedding, full text, vectors, fusion):
p50 and p95 in milliseconds. The baseline beside them: the embedding of the query alone, which
every retrieval pays, and the search alone (the queries' vectors computed ahead). Then the same queries at once through `recall_many`, as a dataset build asks
them (one embedding batch, one matrix product per 64 queries): milliseconds per query. `--hash-vectors` builds the index with vectors derived from each text's hash
instead of the model (the search costs the same; its results mean nothing): to time retrieval at a
size whose real embedding would take long; the queries are still embedded by the real model.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from build_dataset import ME, generate_conversations  # noqa: E402
from chatclone.embeddings import DefaultEmbedder, Embedder, HashEmbedder  # noqa: E402
from chatclone.ingest import ingest  # noqa: E402
from chatclone.me import set_me  # noqa: E402
from chatclone.memory.index import MemoryIndex, documents, my_names  # noqa: E402
from chatclone.memory.recall import recall, recall_many  # noqa: E402
from chatclone.workspace import Workspace  # noqa: E402

QUERIES = [
    "where are you flying from",
    "how is the cat",
    "what did the doctor say",
    "are you free on saturday",
    "what are you doing for your birthday",
    "how was the concert",
    "did you finish the report",
    "do you want to get dinner",
]


class _Known:
    """The queries' vectors embedded ahead: what recall costs beyond the model."""

    def __init__(self, model: Embedder, queries: list[str]) -> None:
        unique = list(dict.fromkeys(queries))
        self.vectors = dict(zip(unique, model.encode(unique), strict=True))

    def encode(self, texts: list[str]) -> object:
        import numpy as np

        return np.array([self.vectors[t] for t in texts])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--hash-vectors", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "WhatsApp Chat with Friends.txt"
        generate_conversations(export, args.messages, seed=7)
        ws = Workspace(Path(tmp) / "ws")
        ingest(ws, [export])
        set_me(ws, ME, [], unset=False)
        started = time.perf_counter()
        docs = sum(1 for _ in documents(ws, my_names(ws)))
        cut = time.perf_counter() - started
        with MemoryIndex(ws, HashEmbedder() if args.hash_vectors else None) as index:
            started = time.perf_counter()
            embedded = index.refresh()
            build = time.perf_counter() - started
            index._embedder = DefaultEmbedder()  # queries: always the real model
            index.embedder.encode(["warm up"])
            rng = random.Random(1)
            queries = [rng.choice(QUERIES) + f" {rng.randint(1, 99)}" for _ in range(args.queries)]
            recall(index, "warm up")  # loads the vectors once, as a chat's first turn does
            took, embed_only = [], []
            for q in queries:
                started = time.perf_counter()
                index.embedder.encode([q])
                embed_only.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                recall(index, q, k=5)
                took.append((time.perf_counter() - started) * 1000)
            model = index.embedder
            index._embedder = _Known(model, queries)  # the search alone, model left out
            search = []
            for q in queries:
                started = time.perf_counter()
                recall(index, q, k=5)
                search.append((time.perf_counter() - started) * 1000)
            index._embedder = model
            started = time.perf_counter()
            recall_many(index, queries, 5, [None] * len(queries))
            batched = (time.perf_counter() - started) * 1000 / len(queries)
            messages = sum(1 for d in documents(ws, my_names(ws)) if d.kind == "message")
    print(
        f"{args.messages} messages ({messages} of them {ME}'s) → {docs} documents "
        f"(cut in {cut:.1f} s)"
    )
    how = " with hash vectors (not the model's time)" if args.hash_vectors else ""
    print(
        f"index build{how}: {build:.1f} s, {args.messages / build:.0f} messages/s, "
        f"{docs / build:.0f} documents/s, {embedded} texts embedded ({embedded / build:.0f}/s)"
    )
    print(
        f"recall per query: p50 {statistics.median(took):.1f} ms, p95 {percentile(took, 95):.1f} ms"
    )
    print(
        f"query embedding alone: p50 {statistics.median(embed_only):.1f} ms "
        f"(recall / embedding: {statistics.median(took) / statistics.median(embed_only):.2f}×)"
    )
    print(
        f"search alone (query vectors known): p50 {statistics.median(search):.1f} ms, "
        f"p95 {percentile(search, 95):.1f} ms"
    )
    print(f"recall_many ({args.queries} queries at once): {batched:.1f} ms per query")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
