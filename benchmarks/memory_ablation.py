"""python benchmarks/memory_ablation.py [--workspace DIR] [--steps N] [--heldout-turns N]

The four-way ablation of memory and grounding on the demo sample, with the commands a user runs:

1. ingest the sample (with Sam's persona.md and fact probes, as `make demo` does);
2. `chatclone build --no-memory --name plain` and `chatclone build --name grounded` (memory on:
   blocks in every prompt, unsupported facts not trained on, abstention samples);
3. `chatclone train` on each, the same steps and learning rate;
4. `chatclone eval --base --run plain --run grounded --memory both`: every system with and without
   memory in one report, so the four ablations sit side by side — fine-tuned only (`plain`), base
   + memory (`base+memory`), fine-tuned + memory at inference only (`plain+memory`), grounded
   training + memory (`grounded+memory`) — plus the base model and `grounded` without memory.

Prints the eval's table (every fact metric with its 95 % bootstrap interval and counts) as
Markdown for the README. Steps already done in `--workspace` (a dataset or run of that name) are
reused, so a rerun only repeats what is missing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from chatclone.demo import prepare_demo, sample_exports
from chatclone.evaluate.table import table_rows


def chatclone(*args: str) -> dict[str, Any]:
    """Run the CLI as a user would; its --json output."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "chatclone", *args, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"chatclone {' '.join(args)} failed:\n{done.stderr}")
    print(f"chatclone {' '.join(args)}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    data: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {}
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("ablation-ws"))
    parser.add_argument("--steps", type=int, default=48)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--heldout-turns", type=int, default=40)
    parser.add_argument("--name", default="ablation")
    args = parser.parse_args()
    ws = str(args.workspace)
    if not (args.workspace / "chatclone.db").exists():
        chatclone("ingest", *map(str, sample_exports()), "-w", ws)
    prepare_demo(args.workspace)
    for name, flag in (("plain", "--no-memory"), ("grounded", "--memory")):
        if not (args.workspace / "datasets" / name).is_dir():
            built = chatclone("build", "-w", ws, "--name", name, flag)
            print(f"{name}: {json.dumps(built['samples'])} memory {json.dumps(built['memory'])}")
        if not (args.workspace / "runs" / name).is_dir():
            chatclone(
                "train", "-w", ws, "--dataset", name, "--name", name,
                "--max-steps", str(args.steps), "--lr", str(args.lr),
            )  # fmt: skip
    report = chatclone(
        "eval", "-w", ws, "--base", "--run", "plain", "--run", "grounded",
        "--memory", "both", "--heldout-turns", str(args.heldout_turns), "--name", args.name,
    )  # fmt: skip
    names = [entry["name"] for entry in report["systems"]]
    print("| metric | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for label, cells in table_rows(report):
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
