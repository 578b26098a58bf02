"""Run: .venv/bin/python benchmarks/privacy_eval.py [--json]

Precision, recall and F1 of `privacy.find_pii` per type and overall, on the labelled chat messages
in tests/fixtures/privacy/labelled.jsonl (en, es, de, fr, it, pt, nl; with hard negatives such as
dates, prices, versions and checksum-invalid card and IBAN numbers). A found span is correct when
its type matches a labelled one and its value equals the labelled value after stripping
whitespace; each label is matched at most once. The false positives and false negatives follow.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatclone.privacy.detect import PII_TYPES, find_pii

LABELLED = (
    Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "privacy" / "labelled.jsonl"
)


@dataclass
class Evaluation:
    tp: Counter[str] = field(default_factory=Counter)
    fp: list[tuple[str, str, str]] = field(default_factory=list)  # (type, value, text)
    fn: list[tuple[str, str, str]] = field(default_factory=list)

    def scores(self, kind: str | None = None) -> dict[str, float | int]:
        tp = sum(self.tp.values()) if kind is None else self.tp[kind]
        fp = sum(1 for f in self.fp if kind in (None, f[0]))
        fn = sum(1 for f in self.fn if kind in (None, f[0]))
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def load_labelled(path: Path = LABELLED) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def evaluate(records: list[dict[str, Any]]) -> Evaluation:
    result = Evaluation()
    for record in records:
        text = record["text"]
        expected = Counter((p["type"], p["value"].strip()) for p in record["pii"])
        for span in find_pii(text, record.get("names", ())):
            key = (span.type, span.value.strip())
            if expected[key] > 0:
                expected[key] -= 1
                result.tp[span.type] += 1
            else:
                result.fp.append((span.type, span.value, text))
        result.fn += [
            (kind, value, text) for (kind, value), n in expected.items() for _ in range(n)
        ]
    return result


def report(result: Evaluation) -> dict[str, Any]:
    return {
        "types": {kind: result.scores(kind) for kind in PII_TYPES},
        "overall": result.scores(),
        "false_positives": [{"type": t, "value": v, "text": x} for t, v, x in result.fp],
        "false_negatives": [{"type": t, "value": v, "text": x} for t, v, x in result.fn],
    }


def print_table(data: dict[str, Any], messages: int) -> None:
    print(f"{messages} labelled messages\n")
    print(f"{'type':<9} {'precision':>9} {'recall':>7} {'F1':>6} {'TP':>4} {'FP':>4} {'FN':>4}")
    rows = [*data["types"].items(), ("overall", data["overall"])]
    for kind, s in rows:
        print(
            f"{kind:<9} {s['precision']:>9.3f} {s['recall']:>7.3f} {s['f1']:>6.3f} "
            f"{s['tp']:>4} {s['fp']:>4} {s['fn']:>4}"
        )
    for title, key in (
        ("False positives", "false_positives"),
        ("False negatives", "false_negatives"),
    ):
        print(f"\n{title} ({len(data[key])}):")
        for item in data[key]:
            print(f"  {item['type']:<8} {item['value']!r:<40} in {item['text']!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    records = load_labelled()
    data = report(evaluate(records))
    if args.json:
        json.dump({"messages": len(records), **data}, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print_table(data, len(records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
