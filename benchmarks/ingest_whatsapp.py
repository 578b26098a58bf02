"""Run: python benchmarks/ingest_whatsapp.py [--messages 200000] [--repeat 3] [--baseline REV] [--json]

Times `chatclone ingest` (parse and store, whole process) against whatstk (told the header
format, and auto-detecting it with `WhatsAppChat.from_source`) and chat-miner on the same
generated Android WhatsApp export; with --baseline REV also chatclone at that git revision (today's
reference for a speed-up), and always the re-ingest of the same file into the same store (adds 0).
Prints median wall time, peak RSS and the ratios, then the floors: what reading and decoding the
file, one regular expression over it, and bare inserts of the already parsed rows take in the
same CPython and SQLite, so the distance to the limit stays visible.
Targets (issue 14): at most 2 s at 200,000 messages, ≥ 3× the baseline revision, ≥ 4× whatstk's
`from_source`, re-ingest no slower than ingest.

whatstk and chat-miner live in their own environment, benchmarks/.venv-bench, created and filled on
the first run. Every run is a fresh process, so interpreter start-up and imports are counted too.
About 3 minutes at the defaults on 2 cores (the baselines are the slow part); 1,000,000 messages
with --repeat 1 about 4 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CHATCLONE = REPO / ".venv" / "bin" / "chatclone"
BENCH_VENV = REPO / "benchmarks" / ".venv-bench"
BENCH_PYTHON = BENCH_VENV / "bin" / "python"
# Exact pins so numbers are comparable between runs; none of these pulls torch or CUDA wheels.
PINS = ("whatstk==0.9.1", "chat-miner==0.6.0", "pandas==3.1.1", "numpy==2.4.6", "polars==2.1.0")
EXPORT_NAME = "WhatsApp Chat with Benchmark.txt"
# whatstk is told the header format, so it neither pays for nor can miss auto-detection.
HFORMAT = "%d/%m/%Y, %H:%M - %name:"

WHATSTK_SNIPPET = f"""
import sys
from whatstk import df_from_whatsapp
df = df_from_whatsapp(sys.argv[1], auto_header=False, hformat={HFORMAT!r}, max_size=None)
print(len(df))
"""
WHATSTK_AUTO_SNIPPET = """
import sys
from whatstk import WhatsAppChat
print(len(WhatsAppChat.from_source(filepath=sys.argv[1], max_size=None).df))
"""
CHATMINER_SNIPPET = """
import sys
from chatminer.chatparsers import WhatsAppParser
parser = WhatsAppParser(sys.argv[1])
parser.parse_file()
print(len(parser.parsed_messages.get_df()))
"""

SENDERS = (
    *("Ana María Pérez", "José Álvarez", "Zoë Müller", "François Dubois", "Björn Ødegaard"),
    *("Łukasz Wiśniewski", "Chloé Nguyễn", "Søren 🌻 Kähler"),
)
VOCABULARY = (
    "hola qué tal ça va très bien danke schön naïve café jalapeño smörgåsbord zażółć gęślą jaźń "
    "see you tomorrow at the station ok lol yes no maybe later tonight dinner cinema train late "
    "sorry on my way almost there did you see this photo from yesterday haha exactly right "
    "https://example.com/a?b=1 12:30 3€ 😂 👍 ❤️ 🎉 🙈 🍕 🇪🇸 👨‍👩‍👧 "
    "note: also, — “quoted” ¿por qué? ¡vale!"
)
WORDS = tuple(VOCABULARY.split())
SYSTEM_TEMPLATES = (
    *("{a} added {b}", "{a} removed {b}", "{a} left", "{a} changed this group's icon"),
    *("{a} changed the group description", "{b} joined using this group's invite link"),
)
START = datetime(2022, 3, 14, 8, 0)
SPAN_MINUTES = 2 * 365 * 24 * 60
SAME_MINUTE = 0.3  # share of messages sent in the same minute as the previous one
KIND_SHARES = (("system", 0.002), ("media", 0.02), ("deleted", 0.01), ("multiline", 0.05))


@dataclass
class Run:
    seconds: float
    peak_rss_kib: int
    stdout: str


@dataclass
class ToolResult:
    name: str
    runs: list[Run] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def peak_rss_kib(self) -> int:
        return max(r.peak_rss_kib for r in self.runs)


def _sentence(rng: random.Random, most: int = 14) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(1, most)))


def _pick_kind(rng: random.Random) -> str:
    roll = rng.random()
    for kind, share in KIND_SHARES:
        if roll < share:
            return kind
        roll -= share
    return "text"


def _user_body(rng: random.Random, kind: str) -> list[str]:
    if kind == "media":
        return ["<Media omitted>"]
    if kind == "deleted":
        return ["This message was deleted"]
    lines = [_sentence(rng)]
    if kind == "multiline":  # continuation lines have no header; some are blank, as in real exports
        lines += ["" if rng.random() < 0.1 else _sentence(rng, 8) for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.02:
        lines[-1] += " <This message was edited>"
    return lines


def generate_export(path: Path, messages: int, seed: int) -> Counter[str]:
    """Write a deterministic Android export (day-first, 24h); return the count of each kind."""
    rng = random.Random(seed)
    widest_gap = max(1, round(2 * SPAN_MINUTES / messages / (1 - SAME_MINUTE)) - 1)
    stamp = START
    kinds: Counter[str] = Counter()
    out: list[str] = [
        f"{stamp:%d/%m/%Y, %H:%M} - Messages and calls are end-to-end encrypted. No one outside "
        "of this chat, not even WhatsApp, can read or listen to them. Tap to learn more.",
        f"{stamp:%d/%m/%Y, %H:%M} - {SENDERS[0]} created group “Benchmark”",
    ]
    kinds["system"] = 2
    for _ in range(messages - 2):
        if rng.random() >= SAME_MINUTE:
            stamp += timedelta(minutes=rng.randint(1, widest_gap))
        head = f"{stamp:%d/%m/%Y, %H:%M} - "
        kind = _pick_kind(rng)
        kinds[kind] += 1
        if kind == "system":
            a, b = rng.sample(SENDERS, 2)
            out.append(head + rng.choice(SYSTEM_TEMPLATES).format(a=a, b=b))
            continue
        body = _user_body(rng, kind)
        out.append(f"{head}{rng.choice(SENDERS)}: {body[0]}")
        out.extend(body[1:])
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return kinds


def ensure_bench_env() -> None:
    """Create benchmarks/.venv-bench and install the pinned baselines unless they already import."""
    check = "import importlib.metadata as m, whatstk, chatminer.chatparsers; " + "; ".join(
        f"assert m.version({name!r}) == {version!r}"
        for name, version in (p.split("==") for p in PINS)
    )
    if BENCH_PYTHON.exists() and _quiet([str(BENCH_PYTHON), "-c", check]):
        return
    print(f"setting up {BENCH_VENV.relative_to(REPO)} ({', '.join(PINS)}) ...", file=sys.stderr)
    if not BENCH_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    pip = [str(BENCH_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *PINS], check=True)
    if not _quiet([str(BENCH_PYTHON), "-c", check]):
        sys.exit(f"error: {BENCH_VENV} still cannot import the pinned baselines")


def _quiet(cmd: list[str]) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


def measure(cmd: list[str], scratch: Path) -> Run:
    """Run cmd as a fresh process; wall time around the whole process, peak RSS from wait4.

    Linux counts the launcher's own high-water RSS into the child's ru_maxrss (the child starts
    on the launcher's memory until exec), which is why this process stays small and generates the
    export in a worker; `floor_rss_mib` in the results is that floor, measured with `true`.
    """
    out_path, err_path = scratch / "stdout", scratch / "stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so tell Popen
    if proc.returncode != 0:
        tail = err_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        sys.exit(f"error: {cmd[0]} exited {proc.returncode}\n{tail}")
    return Run(seconds, usage.ru_maxrss, out_path.read_text(encoding="utf-8", errors="replace"))


def chatclone_rows(stdout: str) -> int | None:
    """The `added` count in chatclone's JSON: top level, else summed at the shallowest level."""
    try:
        level: list[object] = [json.loads(stdout)]
    except json.JSONDecodeError:
        return None
    while level:
        found = [
            n["added"] for n in level if isinstance(n, dict) and isinstance(n.get("added"), int)
        ]
        if found:
            return int(sum(found))
        level = [
            c
            for n in level
            if isinstance(n, (dict, list))
            for c in (n.values() if isinstance(n, dict) else n)
        ]
    return None


def rows_reported(tool: ToolResult) -> int | None:
    """Rows or messages the tool says it produced, from its last run's stdout."""
    stdout = tool.runs[-1].stdout
    if tool.name.startswith("chatclone"):
        return chatclone_rows(stdout)
    last = stdout.strip().splitlines()[-1:] or [""]
    return int(last[0]) if last[0].isdigit() else None


def run_all(export: Path, tmp: Path, repeat: int, baseline: Path | None) -> list[ToolResult]:
    names = ["chatclone", "chatclone re-ingest", "whatstk", "whatstk from_source", "chat-miner"]
    if baseline is not None:
        names.insert(2, "chatclone baseline")
    tools = [ToolResult(name) for name in names]
    for i in range(1, repeat + 1):  # interleaved, so drift in the machine hits every tool alike
        workspace = tmp / f"workspace-{i}"
        workspace.mkdir()
        ingest = [str(CHATCLONE), "ingest", str(export), "--workspace", str(workspace), "--json"]
        commands = {
            "chatclone": ingest,
            "chatclone re-ingest": ingest,  # the same store again: every message already there
            "whatstk": [str(BENCH_PYTHON), "-c", WHATSTK_SNIPPET, str(export)],
            "whatstk from_source": [str(BENCH_PYTHON), "-c", WHATSTK_AUTO_SNIPPET, str(export)],
            "chat-miner": [str(BENCH_PYTHON), "-c", CHATMINER_SNIPPET, str(export)],
        }
        if baseline is not None:
            other = tmp / f"baseline-{i}"
            other.mkdir()
            commands["chatclone baseline"] = [
                *(str(PYTHON), "-c", _BASELINE_SNIPPET.format(src=str(baseline))),
                *("ingest", str(export), "--workspace", str(other), "--json"),
            ]
        for tool in tools:
            tool.runs.append(measure(commands[tool.name], tmp))
            seconds = tool.runs[-1].seconds
            print(f"  run {i}/{repeat} {tool.name:<20} {seconds:7.2f} s", file=sys.stderr)
    return tools


# The baseline revision's chatclone from its own source tree, with this venv's packages.
_BASELINE_SNIPPET = (
    "import sys; sys.path.insert(0, {src!r}); sys.argv[0] = 'chatclone'; "
    "from chatclone.cli import main; sys.exit(main())"
)
PYTHON = REPO / ".venv" / "bin" / "python"

FLOORS_SNIPPET = """
import json, re, sqlite3, sys, tempfile, time
from pathlib import Path
from chatclone.parsers.sources import discover
from chatclone.parsers.base import ParseReport
from chatclone.rows import keyed, message_rows
from chatclone.store import Store

path = Path(sys.argv[1])
out = {}
started = time.perf_counter()
text = path.read_bytes().decode("utf-8")
out["read + decode"] = time.perf_counter() - started
header = re.compile(r"\\n(\\d{1,2}/\\d{1,2}/\\d{2,4}), (\\d{1,2}:\\d{2}) - ")
started = time.perf_counter()
parts = header.split("\\n" + text)
out["one regex split"] = time.perf_counter() - started
started = time.perf_counter()
n = 0
for i in range(1, len(parts), 3):
    n += len(parts[i + 2])
out["bare loop per message"] = time.perf_counter() - started
del parts, text
(found,) = discover(path)
rows = [r for _, batch in message_rows(found.parser.parse(found.source, ParseReport())) for r in batch]
rows = keyed(rows, {})  # (key, the full row layout): the work of parsing and keying done already
with tempfile.TemporaryDirectory() as tmp:
    with Store(Path(tmp) / "c.db") as store, store.transaction():
        store.db.execute("INSERT INTO chats VALUES (?, ?, ?)", (rows[0][1], "Benchmark", "whatsapp"))
        store.start_import(str(path), "whatsapp")
        started = time.perf_counter()
        store.db.executemany(
            "INSERT OR IGNORE INTO messages (key, chat_id, ts, sender, kind, text, edited, "
            "reply_to, source_id, attachment, origin_line, sender_id, import_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)", rows)
        out["bare inserts with the store's index"] = time.perf_counter() - started
started = time.perf_counter()
import chatclone.cli
out["start-up and imports (cli)"] = time.perf_counter() - started
print(json.dumps(out))
"""


def floors(export: Path) -> dict[str, float]:
    """The floors, in one process (the import time is measured last, in the same process, so it
    is only what the CLI adds)."""
    run = subprocess.run(
        [str(PYTHON), "-c", FLOORS_SNIPPET, str(export)], capture_output=True, text=True, check=True
    )
    return {k: round(v, 3) for k, v in json.loads(run.stdout).items()}


def summarise(
    tools: list[ToolResult], kinds: Counter[str], export: Path, floor_kib: int
) -> dict[str, Any]:
    base = tools[0]
    results: dict[str, dict[str, Any]] = {
        t.name: {
            "seconds": [round(r.seconds, 4) for r in t.runs],
            "median_s": round(t.median_s, 4),
            "peak_rss_mib": round(t.peak_rss_kib / 1024, 1),
            "rows": rows_reported(t),
            "stdout_bytes": len(t.runs[-1].stdout.encode()),
            "time_ratio": round(t.median_s / base.median_s, 2),
            "memory_ratio": round(t.peak_rss_kib / base.peak_rss_kib, 2),
        }
        for t in tools
    }
    by_name = {t.name: t for t in tools}
    speedup = round(by_name["whatstk from_source"].median_s / base.median_s, 2)
    baseline = by_name.get("chatclone baseline")
    vs_baseline = round(baseline.median_s / base.median_s, 2) if baseline else None
    reingest = by_name["chatclone re-ingest"]
    others = [t for t in tools if not t.name.startswith("chatclone")]
    leaner = all(t.peak_rss_kib > base.peak_rss_kib for t in others)
    met = (
        base.median_s <= 2.0
        and speedup >= 4
        and (vs_baseline is None or vs_baseline >= 3)
        and reingest.median_s <= base.median_s * 1.05
    )
    return {
        "export": {
            "path": str(export),
            "bytes": export.stat().st_size,
            "entries": sum(kinds.values()),
            "user_messages": sum(kinds.values()) - kinds["system"],
            **{kind: kinds[kind] for kind, _ in KIND_SHARES},
        },
        "tools": results,
        "floor_rss_mib": round(floor_kib / 1024, 1),
        "target_met": bool(met),
        "speedup_vs_whatstk_from_source": speedup,
        "speedup_vs_baseline": vs_baseline,
        "less_memory_than_others": leaner,
    }


def render(summary: dict[str, Any]) -> str:
    export, tools = summary["export"], summary["tools"]
    lines = [
        f"export: {export['entries']:,} entries ({export['user_messages']:,} user messages, "
        f"{export['system']:,} system, {export['multiline']:,} multi-line), "
        f"{export['bytes'] / 2**20:.1f} MiB",
        f"{'tool':<21}{'median s':>10}{'peak MiB':>10}{'rows':>11}{'time ×':>9}{'memory ×':>10}",
    ]
    for name, r in tools.items():
        rows = f"{r['rows']:,}" if r["rows"] is not None else f"?({r['stdout_bytes']} B)"
        lines.append(
            f"{name:<21}{r['median_s']:>10.2f}{r['peak_rss_mib']:>10.1f}{rows:>11}"
            f"{r['time_ratio']:>9.2f}{r['memory_ratio']:>10.2f}"
        )
    lines.append(
        f"(peak RSS of an empty process started the same way: {summary['floor_rss_mib']} MiB)"
    )
    verdict = "MET" if summary["target_met"] else "NOT MET"
    leaner = "yes" if summary["less_memory_than_others"] else "no"
    vs = summary["speedup_vs_baseline"]
    lines.append(
        f"target {verdict}: chatclone {tools['chatclone']['median_s']:.2f} s (need ≤ 2 s at "
        f"200,000), {summary['speedup_vs_whatstk_from_source']:.1f}× whatstk from_source "
        f"(need ≥ 4×)"
        + (f", {vs:.1f}× the baseline revision (need ≥ 3×)" if vs else "")
        + f"; less peak memory than the others: {leaner}"
    )
    if summary.get("floors"):
        lines.append("floors (one process, this CPython and SQLite):")
        for name, seconds in summary["floors"].items():
            lines.append(f"  {name:<40}{seconds:>8.2f} s")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=200_000, help="entries in the generated export")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved runs of each tool")
    ap.add_argument("--seed", type=int, default=7, help="seed for the generated export")
    ap.add_argument("--json", action="store_true", help="JSON on stdout, the table on stderr")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--baseline", help="also time chatclone at this git revision (e.g. dfad5ac)")
    args = ap.parse_args()
    if not CHATCLONE.exists():
        print(f"error: {CHATCLONE} not found; install chatclone in .venv first", file=sys.stderr)
        return 2
    ensure_bench_env()
    tmp = Path(tempfile.mkdtemp(prefix="chatclone-bench-"))
    try:
        export = tmp / EXPORT_NAME
        with ProcessPoolExecutor(max_workers=1) as worker:  # keeps this process's RSS small
            kinds = worker.submit(
                generate_export, export, max(args.messages, 2), args.seed
            ).result()
        print(f"generated {export} ({export.stat().st_size / 2**20:.1f} MiB)", file=sys.stderr)
        floor = measure([shutil.which("true") or "/bin/true"], tmp).peak_rss_kib
        baseline = None
        if args.baseline:
            baseline = tmp / "baseline-src"
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", args.baseline, "src"],
                check=True,
                capture_output=True,
            ).stdout
            baseline.mkdir()
            subprocess.run(["tar", "-x", "-C", str(baseline)], input=archive, check=True)
            baseline = baseline / "src"
        summary = summarise(run_all(export, tmp, args.repeat, baseline), kinds, export, floor)
        summary["floors"] = floors(export)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(render(summary), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
