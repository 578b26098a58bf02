"""The table `chatclone eval` prints: the systems side by side, one row per metric, from
report.json's data. Apart from report.py so that printing it (`render`) imports nothing of eval.
"""

from __future__ import annotations

from typing import Any

COLUMNS = (
    ("style distance ↓", ("style", "distance")),
    ("authorship", ("style", "authorship")),
    ("authorship norm. ↑", ("style", "authorship_normalised")),
    ("copy rate ↓", ("style", "copy_rate")),
    ("distinct-2", ("style", "distinct_2")),
    ("held-out NLL ↓", ("loss", "valid_nll")),
    ("accuracy ↑", ("facts", "accuracy")),
    ("hallucination ↓", ("facts", "hallucination_rate")),
    ("abstention", ("facts", "abstention_rate")),
    ("update acc. ↑", ("facts", "update_accuracy")),
)


def table_rows(data: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(metric, one cell per system) rows: systems side by side, as `chatclone eval` prints."""
    rows = []
    for label, (part, key) in COLUMNS:
        cells = [_cell(entry, part, key) for entry in data["systems"]]
        if any(c != "—" for c in cells):
            rows.append((label, cells))
    seconds = [_seconds(entry) for entry in data["systems"]]
    rows.append(("seconds", seconds))
    return rows


def _cell(entry: dict[str, Any], part: str, key: str) -> str:
    section = entry.get(part) or {}
    value = section.get(key)
    if value is None:
        return "—"
    text = f"{value:.3f}" if key == "valid_nll" else f"{value:.2f}"
    interval = (section.get("intervals") or {}).get(key)
    counts = (section.get("counts") or {}).get(key)
    if interval:
        text += f" [{interval[0]:.2f}, {interval[1]:.2f}]"
    if counts:
        text += f" {counts[0]}/{counts[1]}"
    return text


def _seconds(entry: dict[str, Any]) -> str:
    total = sum((entry.get("seconds") or {}).values())
    return f"{total:.1f}" if entry.get("kind") != "real" else "—"
