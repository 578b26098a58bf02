"""Run: .venv/bin/python benchmarks/build_dataset.py [--messages 200000 1000000] [--baseline-src DIR] [--embed 0]

Times `chatclone build` without embeddings (`--no-low-info-filter --no-memory`: both stages embed
every reply) against `chatclone ingest` of the same generated export, both as whole processes in
the same run, with each one's peak RSS (target: build ≤ 2× ingest, and a build's peak memory that
does not grow with the corpus). `--baseline-src DIR` also builds with another revision's sources
(e.g. `git archive HEAD src | tar -x -C DIR`; DIR/src is put first on PYTHONPATH) on the same
workspace, side by side. Then one more build in this process under cProfile splits its time by
stage (privacy, tokens, store reading, …), and the embedding filter's throughput is measured
(replies scored per second, model load excluded; `--embed 0` skips it).

Takes about 4 minutes for the default sizes (200,000 and 1,000,000 messages) on a quiet 2-core
machine, about twice that with a baseline.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
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


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (user + system: steadier than wall time on a shared machine),
    peak RSS in MiB and stdout of a whole process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{err.read()}")
        cpu = usage.ru_utime + usage.ru_stime
        return elapsed, cpu, usage.ru_maxrss // 1024, out.read()


def embedding_throughput(n: int) -> float:
    from chatclone.dataset.lowinfo import score_replies
    from chatclone.embeddings import DefaultEmbedder

    embedder = DefaultEmbedder()
    replies = [f"i think we should go to the lake on day {i} if it does not rain" for i in range(n)]
    contexts = ["where should we go this weekend?"] * n
    start = time.perf_counter()
    score_replies(replies, contexts, [], embedder)
    return n / (time.perf_counter() - start)


BUILD_FLAGS = ["--no-low-info-filter", "--no-memory", "--json"]
# Where a build's time goes: the functions whose cumulative time makes each stage (measured in
# this process under cProfile, so a little slower than the timed runs).
STAGES = {
    "privacy (find_pii)": ("privacy/detect.py", "find_pii"),
    "token counts": ("dataset/fast_tokens.py", "count_each"),
    "store reading (iter_messages)": ("chatclone/store.py", "iter_messages"),
    "session split": ("dataset/sessions.py", "split_sessions"),
    "turns (filters + privacy)": ("dataset/turns.py", "build_turns"),
    "windows": ("dataset/samples.py", "windowed_samples"),
    "de-duplication": ("dataset/samples.py", "keep"),
    "spool + validation": ("dataset/spool.py", "add"),
    "writing the split": ("dataset/spool.py", "write_split"),
    "loading the tokenizer": ("dataset/tokens.py", "counter_for"),
}


def profile_split(ws: Path) -> dict[str, float]:
    """Each stage's share of one build's time (shares overlap where stages nest: turns include
    privacy; session split includes store reading)."""
    from chatclone.dataset.build import BuildOptions, build_dataset
    from chatclone.workspace import Workspace

    profiler = cProfile.Profile()
    options = BuildOptions(name="profiled", overrides={"low_info_filter": False, "memory": False})
    start = time.perf_counter()
    profiler.runcall(build_dataset, Workspace(ws), options)
    total = time.perf_counter() - start
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    split = {"total s (under cProfile)": round(total, 2)}
    for stage, (file, function) in STAGES.items():
        cumulative = sum(
            row[3]
            for (path, _, name), row in stats.items()
            if name == function and path.endswith(file)
        )
        split[stage] = round(100 * cumulative / total, 1)
    return split


def run(messages: int, baseline: Path | None, profile: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="chatclone-build-bench-") as tmp:
        export = Path(tmp) / "WhatsApp Chat with Benchmark.txt"
        generate_conversations(export, messages, seed=7)
        ws = Path(tmp) / "ws"
        ingest_s, ingest_cpu, ingest_mib, _ = timed(
            [str(CHATCLONE), "ingest", str(export), "-w", str(ws), "--json"]
        )
        subprocess.run([str(CHATCLONE), "me", ME, "-w", str(ws)], check=True, capture_output=True)
        build_cmd = [str(CHATCLONE), "build", "-w", str(ws), *BUILD_FLAGS]
        build_s, build_cpu, build_mib, out = timed([*build_cmd, "--name", "bench"])
        report = json.loads(out)
        result: dict[str, Any] = {
            "messages": messages,
            "ingest_s": round(ingest_s, 2),
            "ingest_cpu_s": round(ingest_cpu, 2),
            "ingest_peak_mib": ingest_mib,
            "build_s": round(build_s, 2),
            "build_cpu_s": round(build_cpu, 2),
            "build_peak_mib": build_mib,
            "build_over_ingest": round(build_s / ingest_s, 2),
            "build_over_ingest_cpu": round(build_cpu / ingest_cpu, 2),
            "samples": report["samples"],
            "sessions": report["sessions"],
        }
        if baseline is not None:
            env = {**os.environ, "PYTHONPATH": str(baseline / "src")}
            cmd = [sys.executable, "-m", "chatclone", "build", "-w", str(ws), *BUILD_FLAGS]
            base_s, base_cpu, base_mib, base_out = timed([*cmd, "--name", "baseline"], env)
            same_files = all(
                (ws / "datasets" / "bench" / f).read_bytes()
                == (ws / "datasets" / "baseline" / f).read_bytes()
                for f in ("train.jsonl", "valid.jsonl", "valid.meta.jsonl")
            )
            base_report = json.loads(base_out)
            keys = ("samples", "sessions", "sessions_kept", "turns", "tokens", "drops", "pii")
            differ = [k for k in keys if base_report[k] != report[k]]
            same = same_files and not differ
            if differ:  # say how, so a renamed drop reason is told from a real change
                print(f"  report keys that differ from the baseline's: {differ}", file=sys.stderr)
                for k in differ:
                    print(f"    {k}: baseline {base_report[k]} / now {report[k]}", file=sys.stderr)
            result |= {
                "baseline_build_s": round(base_s, 2),
                "baseline_build_cpu_s": round(base_cpu, 2),
                "baseline_build_peak_mib": base_mib,
                "baseline_over_ingest": round(base_s / ingest_s, 2),
                "speedup": round(base_s / build_s, 2),
                "speedup_cpu": round(base_cpu / build_cpu, 2),
                "same_output_as_baseline": same,
                "same_files_as_baseline": same_files,
            }
        if profile:
            result["profile_pct"] = profile_split(ws)
    return result


def show(result: dict[str, Any]) -> None:
    verdict = "met" if result["build_over_ingest"] <= 2 else "NOT met"
    print(f"{result['messages']:,} messages                wall s    CPU s   peak MiB")
    for label, key in (("ingest", "ingest"), ("build (no embeddings)", "build")):
        print(
            f"{label:<24} {result[key + '_s']:>8.2f} {result[key + '_cpu_s']:>8.2f} "
            f"{result[key + '_peak_mib']:>9}"
        )
    if "baseline_build_s" in result:
        print(
            f"{'build, baseline':<24} {result['baseline_build_s']:>8.2f} "
            f"{result['baseline_build_cpu_s']:>8.2f} {result['baseline_build_peak_mib']:>9}"
        )
    print(
        f"build / ingest = {result['build_over_ingest']} wall, "
        f"{result['build_over_ingest_cpu']} CPU (target ≤ 2: {verdict})"
    )
    if "baseline_build_s" in result:
        print(
            f"baseline / this build = {result['speedup']} wall, {result['speedup_cpu']} CPU; "
            f"same files: {result['same_files_as_baseline']}, "
            f"same files and counts: {result['same_output_as_baseline']}"
        )
    for stage, share in result.get("profile_pct", {}).items():
        unit = "" if stage.startswith("total") else " %"
        print(f"  {stage:<32} {share:>6}{unit}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--baseline-src", type=Path, help="another revision's checkout (DIR/src)")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile split")
    parser.add_argument("--embed", type=int, default=2000, help="replies to score (0: skip)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not CHATCLONE.exists():
        print(f"{CHATCLONE} not found: run `make test` or `make demo` first", file=sys.stderr)
        return 2
    results = [run(n, args.baseline_src, not args.no_profile) for n in args.messages]
    embed = round(embedding_throughput(args.embed)) if args.embed else None
    if args.json:
        print(json.dumps({"runs": results, "embedding_replies_per_s": embed}, indent=2))
        return 0
    for result in results:
        show(result)
    if len(results) > 1:
        small, large = results[0], results[-1]
        print(
            f"peak RSS of build: {small['build_peak_mib']} MiB at {small['messages']:,} messages, "
            f"{large['build_peak_mib']} MiB at {large['messages']:,}"
        )
    if embed:
        print(f"embedding filter: {embed} replies/s on this CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
