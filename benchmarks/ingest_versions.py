"""Run: python benchmarks/ingest_versions.py --baseline REV [--messages 200000] [--repeat 5]

`chatclone ingest` of this working tree against the same command at git revision REV, on the
generated Android export of `ingest_whatsapp.py`, alternating the two (fresh processes, fresh
stores) so that a busy machine slows both alike. Prints each side's median wall time and the
ratio: how much a change to the parsers cost or saved.

REV is checked out into a temporary git worktree and run from its `src/` with this venv's Python
(PYTHONPATH comes before the editable install's path), so both sides use the same packages.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ingest_whatsapp import EXPORT_NAME, generate_export

REPO = Path(__file__).resolve().parent.parent
PYTHON = REPO / ".venv" / "bin" / "python"


def timed(src: Path, export: Path, scratch: Path) -> float:
    store = Path(tempfile.mkdtemp(dir=scratch))
    env = {**os.environ, "PYTHONPATH": str(src)}
    started = time.perf_counter()
    subprocess.run(
        [str(PYTHON), "-m", "chatclone", "ingest", str(export), "-w", str(store), "--json"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="a git revision, e.g. HEAD~5")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        worktree = scratch / "baseline"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(worktree), args.baseline],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            export = scratch / EXPORT_NAME
            generate_export(export, args.messages, seed=7)
            sides = {"this tree": REPO / "src", args.baseline: worktree / "src"}
            times: dict[str, list[float]] = {name: [] for name in sides}
            for _ in range(args.repeat):
                for name, src in sides.items():
                    times[name].append(timed(src, export, scratch))
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(worktree)],
                check=False,
            )
    base = statistics.median(times[args.baseline])
    print(f"{args.messages:,} messages, {args.repeat} alternating runs each (median wall time)")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<12} {median:6.2f} s   {median / base:.2f}× the baseline")


if __name__ == "__main__":
    main()
