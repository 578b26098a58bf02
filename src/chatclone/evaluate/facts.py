"""Fact metrics over judged probes, with bootstrap intervals, and the judge's agreement with labels.

Each metric has its own denominator (accuracy and abstention over the probes with a value to give,
hallucination over those with none), so each interval resamples only those probes. The bootstrap
is seeded and pure Python: a rerun gives the same intervals.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from chatclone.evaluate.probes import KINDS, VERDICTS, Probe

# metric -> (the verdict counted, the kinds in its denominator)
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "accuracy": ("correct", ("answerable", "changed")),
    "hallucination_rate": ("hallucinated", ("unanswerable", "false_premise")),
    "abstention_rate": ("abstain", ("answerable", "changed")),
    "update_accuracy": ("correct", ("changed",)),
}


def fact_metrics(
    probes: Sequence[Probe], verdicts: Sequence[str], seed: int = 0, resamples: int = 1000
) -> dict[str, Any]:
    """The four fact metrics (None where no probe is in the denominator), their 95 % bootstrap
    intervals, their counts `[hits, of]`, and the verdicts counted by kind. JSON-ready."""
    if len(probes) != len(verdicts):
        raise ValueError(f"{len(probes)} probes but {len(verdicts)} verdicts")
    out: dict[str, Any] = {"n": len(probes), "intervals": {}, "counts": {}}
    rng = random.Random(seed)  # one stream, metrics in a fixed order: a rerun is identical
    for name, (verdict, kinds) in METRICS.items():
        hits = [v == verdict for p, v in zip(probes, verdicts, strict=True) if p.kind in kinds]
        out[name] = sum(hits) / len(hits) if hits else None
        out["counts"][name] = [sum(hits), len(hits)]
        out["intervals"][name] = bootstrap(hits, rng, resamples)
    out["by_kind"] = {
        kind: {
            v: sum(1 for p, w in zip(probes, verdicts, strict=True) if p.kind == kind and w == v)
            for v in VERDICTS
        }
        for kind in KINDS
    }
    return out


def bootstrap(hits: Sequence[bool], rng: random.Random, resamples: int) -> list[float] | None:
    """Percentile 95 % interval of the share of hits, resampling with replacement."""
    if not hits:
        return None
    n = len(hits)
    shares = sorted(sum(rng.choices(hits, k=n)) / n for _ in range(max(1, resamples)))
    low = shares[int(0.025 * (len(shares) - 1))]
    high = shares[round(0.975 * (len(shares) - 1))]
    return [low, high]


def confusion_matrix(expected: Sequence[str], got: Sequence[str]) -> dict[str, dict[str, int]]:
    """Counts of (expected, got) verdicts: rows are the labels, columns the judge's verdicts."""
    matrix = {e: dict.fromkeys(VERDICTS, 0) for e in VERDICTS}
    for e, g in zip(expected, got, strict=True):
        matrix.setdefault(e, dict.fromkeys(VERDICTS, 0))
        matrix[e][g] = matrix[e].get(g, 0) + 1
    return matrix


def agreement(expected: Sequence[str], got: Sequence[str]) -> float:
    """Share of verdicts equal to the labels (1.0 for no labels at all)."""
    pairs = list(zip(expected, got, strict=True))
    return sum(e == g for e, g in pairs) / len(pairs) if pairs else 1.0
