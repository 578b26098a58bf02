"""benchmarks/gpu_train.py, ready for a GPU: its `--tiny --device cpu` mode trains chatclone's local
backend and TRL's SFTTrainer on the pre-tokenised demo samples with gradient checkpointing off and
on, and writes the JSON and the markdown table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_train.py"
BATCHES = ROOT / "benchmarks" / "data" / "demo_batches.json"

pytestmark = pytest.mark.slow  # four short training runs: about a minute on a busy 2-core CPU


def test_the_pre_tokenised_demo_samples_mark_the_replies() -> None:
    data = json.loads(BATCHES.read_text("utf-8"))
    samples = data["samples"]
    assert len(samples) >= 24
    for sample in samples:
        assert sample["replies"], "every sample has a reply to learn from"
        for start, end in sample["replies"]:
            assert 0 < start < end <= len(sample["ids"])
        assert all(0 <= i < 49152 for i in sample["ids"])  # SmolLM2's vocabulary


def test_tiny_cpu_run_trains_both_sides_with_and_without_checkpointing(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    command = [sys.executable, str(SCRIPT), "--tiny", "--device", "cpu", "--samples", "2"]
    proc = subprocess.run(
        [*command, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_train.json").read_text("utf-8"))
    runs = report["runs"]
    seen = {(r["side"], r["gradient_checkpointing"]) for r in runs}
    assert seen == {(s, gc) for s in ("chatclone", "trl") for gc in (False, True)}
    replies = {r["reply_tokens"] for r in runs}
    assert len(replies) == 1 and replies.pop() > 0  # both sides trained on the same replies
    for r in runs:
        assert r["model"] == "tiny" and r["steps"] >= 1
        assert r["reply_tokens_per_s"] > 0 and r["step_s"] > 0
        assert r["peak_gpu_mib"] is None  # on the CPU
    table = (tmp_path / "gpu_train.md").read_text("utf-8")
    assert table.count("| tiny") == 4 and "chatclone / TRL" in table
