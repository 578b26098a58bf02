"""Run: .venv/bin/python benchmarks/build_dataset.py [--messages 1000000] [--embed 2000] [--json]

Times `chatclone build` without the embedding filter against `chatclone ingest` of the same
generated export, both as whole processes in the same run (target: build ≤ 3× ingest), and the
embedding filter's throughput (replies scored per second on this CPU, model load excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
CHATCLONE = HERE.parent / ".venv" / "bin" / "chatclone"


ME = "Sam Rivera"
FRIENDS = ["Ana García", "Jordan", "Priya", "Marco", "Léa", "Tom", "Nadia"]


def generate_conversations(path: Path, messages: int, seed: int) -> None:
    """An Android group export shaped like real chat: conversations of 4–60 messages sent in
    bursts, 3.5 hours to 3 days apart (so the session split has work to do), me in each."""
    import random
    from datetime import datetime, timedelta

    from ingest_whatsapp import _pick_kind, _user_body

    rng = random.Random(seed)
    at = datetime(2022, 1, 1, 9, 0)
    written = 0
    with path.open("w", encoding="utf-8") as f:
        while written < messages:
            at += timedelta(hours=rng.uniform(3.5, 72))
            people = [ME, *rng.sample(FRIENDS, rng.randint(1, 4))]
            for _ in range(min(rng.randint(4, 60), messages - written)):
                at += timedelta(seconds=rng.randint(5, 900))
                sender = rng.choice(people)
                body = _user_body(rng, _pick_kind(rng))
                f.write(f"{at:%d/%m/%Y, %H:%M} - {sender}: " + "\n".join(body) + "\n")
                written += 1


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in MiB and stdout of a whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    return elapsed, usage.ru_maxrss // 1024, out


def embedding_throughput(n: int) -> float:
    from chatclone.dataset.lowinfo import score_replies
    from chatclone.embeddings import DefaultEmbedder

    embedder = DefaultEmbedder()
    replies = [f"i think we should go to the lake on day {i} if it does not rain" for i in range(n)]
    contexts = ["where should we go this weekend?"] * n
    start = time.perf_counter()
    score_replies(replies, contexts, [], embedder)
    return n / (time.perf_counter() - start)


def run(messages: int, embed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="chatclone-build-bench-") as tmp:
        export = Path(tmp) / "WhatsApp Chat with Benchmark.txt"
        generate_conversations(export, messages, seed=7)
        ws = Path(tmp) / "ws"
        ingest_s, ingest_mib, _ = timed(
            [str(CHATCLONE), "ingest", str(export), "-w", str(ws), "--json"]
        )
        subprocess.run([str(CHATCLONE), "me", ME, "-w", str(ws)], check=True, capture_output=True)
        build_cmd = [str(CHATCLONE), "build", "-w", str(ws), "--no-low-info-filter", "--json"]
        build_s, build_mib, out = timed([*build_cmd, "--name", "bench"])
        report = json.loads(out)
    return {
        "messages": messages,
        "ingest_s": round(ingest_s, 2),
        "ingest_peak_mib": ingest_mib,
        "build_s": round(build_s, 2),
        "build_peak_mib": build_mib,
        "build_over_ingest": round(build_s / ingest_s, 2),
        "samples": report["samples"],
        "sessions": report["sessions"],
        "embedding_replies_per_s": round(embedding_throughput(embed)) if embed else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--embed", type=int, default=2000, help="replies to score (0: skip)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not CHATCLONE.exists():
        print(f"{CHATCLONE} not found: run `make test` or `make demo` first", file=sys.stderr)
        return 2
    result = run(args.messages, args.embed)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    verdict = "met" if result["build_over_ingest"] <= 3 else "NOT met"
    print(f"{result['messages']:,} messages")
    print(f"ingest  {result['ingest_s']:>8.2f} s  peak {result['ingest_peak_mib']} MiB")
    print(
        f"build   {result['build_s']:>8.2f} s  peak {result['build_peak_mib']} MiB  (no embedding filter)"
    )
    print(f"build / ingest = {result['build_over_ingest']} (target ≤ 3: {verdict})")
    if result["embedding_replies_per_s"]:
        print(f"embedding filter: {result['embedding_replies_per_s']} replies/s on this CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
