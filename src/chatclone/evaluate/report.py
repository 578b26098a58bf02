"""The eval's files: `report.json` (the contract scripts read), `report.html` (for people) and the
raw generations, one JSONL per system in `generations/`.

report.json: `{"name", "created", "dataset", "seconds", "settings": {…}, "heldout": {…},
"authorship_model": {…}, "systems": [{"name", "kind", "backend", "model", "run", "style":
{"distance", "authorship", "authorship_normalised", "copy_rate", "distinct_1", "distinct_2",
"features", "emoji", "vocabulary_overlap"}, "loss": {"valid_nll", "tokens", "samples"} | null,
"facts": {"accuracy", "hallucination_rate", "abstention_rate", "update_accuracy", "n",
"intervals", "counts", "by_kind", "probes"} | null, "seconds": {…}}], "examples": [...]}`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chatclone.evaluate.heldout import HeldOutTurn
from chatclone.evaluate.html import render_html
from chatclone.evaluate.systems import System

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
GENERATIONS_DIR = "generations"
EXAMPLES = 12  # held-out turns shown side by side in the HTML report


def write(
    folder: Path, data: dict[str, Any], turns: Sequence[HeldOutTurn], heldout: dict[str, list[str]]
) -> None:
    """Write the report and the generations; the folder appears whole or not at all."""
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # what an interrupted eval left
    (partial / GENERATIONS_DIR).mkdir(parents=True)
    (partial / REPORT_JSON).write_text(json.dumps(data, ensure_ascii=False, indent=2), "utf-8")
    (partial / REPORT_HTML).write_text(render_html(data), "utf-8")
    for entry in data["systems"]:
        name = entry["name"]
        lines = _heldout_lines(turns, heldout.get(name))
        lines += (entry.get("facts") or {}).get("probes") or entry.get("probe_replies", [])
        rows = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)
        (partial / GENERATIONS_DIR / f"{name}.jsonl").write_text(rows, "utf-8")
    partial.rename(folder)


def _heldout_lines(turns: Sequence[HeldOutTurn], replies: list[str] | None) -> list[dict[str, Any]]:
    """One line per held-out turn; the "real" system's reply is the real one."""
    return [
        {
            "type": "heldout",
            "index": i,
            "message": t.last_message,
            "real": t.real,
            "reply": replies[i] if replies is not None else t.real,
        }
        for i, t in enumerate(turns)
    ]


def examples(
    turns: Sequence[HeldOutTurn], systems: Sequence[System], written: dict[str, Any]
) -> list[dict[str, Any]]:
    """A few held-out turns side by side, spread over the split."""
    step = max(1, len(turns) // EXAMPLES)
    return [
        {
            "context": turns[i].last_message,
            "real": turns[i].real,
            "replies": {s.name: written[s.name].heldout[i] for s in systems},
        }
        for i in range(0, len(turns), step)[:EXAMPLES]
    ]
