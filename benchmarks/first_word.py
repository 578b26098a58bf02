"""python benchmarks/first_word.py chatclone-demo --runs 3   (about 3 minutes on a quiet 2-core CPU)
python benchmarks/first_word.py chatclone-demo --against-transformers   (the native path's share)

Time to first word of the clone, before and after, side by side in the same run:

- cold: `chatclone chat --once TEXT` as a whole new process (memory on, greedy, the demo's run),
  from starting the process to the reply on stdout, with `--max-new-tokens 1` so the reply is
  the first token and nothing after it (the median of --runs, the two sides taking turns). The
  merged-model cache is made first (one untimed run): a new adapter pays its merge once;
- the import share: one more cold run per side under `python -X importtime`, the seconds spent
  importing (every top-level import, lazy ones inside functions included) over that run's time;
- warm: one process per side opens the engine once and sends --turns messages in one
  conversation; the time from sending a message to the first streamed piece of its reply, for
  the second and later turns (what a chat or the server pays for each message once loaded: the
  server streams from the same engine).

The baseline is the code before this work: the current `src` with the files this work changed
(`CHANGED`) as they were at --base-rev (default dfad5ac), taken with `git archive` into a
temporary folder and run with PYTHONPATH pointing at it, with the same virtual environment and
the same workspace (the rest comes from now because the store's schema moved on since and the
old store code refuses the demo's store, which would leave the baseline without memory). With
--against-transformers the baseline is the current code with `CHATCLONE_NATIVE=0` instead: the
local model on transformers rather than on the native path (`chat/native_model.py`).

Each cold round sends another message (a new process with a new text shares only the system
prompt's head with the last one, so the saved prompt cache is not flattered). With
CHATCLONE_TIMINGS=1 the current side also says where its cold time went
(`chatclone.chat.timings`). Wall times on a shared machine are noisy; the CPU seconds of the
current side's cold process are printed next to them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = [
    "are you free saturday?",
    "how is biscuit doing?",
    "what are you up to tonight?",
    "when is your lisbon trip again?",
    "fancy ramen later?",
]
WARMUP = "hey, you around?"  # the untimed first run's and the importtime runs' message
TIMINGS = "chatclone-timings "
NATIVE = "CHATCLONE_NATIVE"
Side = tuple[Path, dict[str, str]]  # the src folder a side runs, and its extra environment

WARM_SCRIPT = r"""
import json, sys, time
from pathlib import Path
from chatclone.chat.engine import Conversation, open_engine
from chatclone.chat.generation import GenerationSettings
from chatclone.workspace import Workspace

workspace, messages = sys.argv[1], json.loads(sys.argv[2])
engine = open_engine(Workspace.resolve(Path(workspace)))
if engine.memory is None:
    sys.exit("the engine opened without memory")
conversation = Conversation(engine)
settings = GenerationSettings(max_new_tokens=8, temperature=0.0)
firsts = []
for text in messages:
    start = time.perf_counter()
    first = None
    for _piece in conversation.reply(text, settings):
        if first is None:
            first = time.perf_counter() - start
    firsts.append(first if first is not None else time.perf_counter() - start)
print(json.dumps(firsts))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", nargs="?", default="chatclone-demo")
    parser.add_argument("--runs", type=int, default=3, help="cold runs per side")
    parser.add_argument("--turns", type=int, default=4, help="messages in the warm conversation")
    parser.add_argument("--base-rev", default="dfad5ac", help="the baseline revision")
    parser.add_argument(
        "--against-transformers",
        action="store_true",
        help="baseline: the current code with CHATCLONE_NATIVE=0 (no --base-rev checkout)",
    )
    args = parser.parse_args()
    workspace = Path(args.workspace).resolve()
    if not (workspace / "runs").is_dir():
        sys.exit(f"no trained workspace at {workspace} (make one with `chatclone demo`)")
    with tempfile.TemporaryDirectory(prefix="ttfw_base.") as tmp:
        after: Side = (ROOT / "src", {})
        if args.against_transformers:
            sides = {"transformers": (ROOT / "src", {NATIVE: "0"}), "native": after}
        else:
            sides = {f"before ({args.base_rev})": (checkout(args.base_rev, Path(tmp)), {})}
            sides["after"] = after
        print(f"workspace {workspace}, {args.runs} cold runs per side, {args.turns} warm turns")
        cold(workspace, after, WARMUP)  # makes the merged-model cache (untimed)
        colds: dict[str, list[float]] = {name: [] for name in sides}
        peaks: dict[str, float] = dict.fromkeys(sides, 0.0)
        steps: list[dict[str, float]] = []
        for i in range(args.runs):
            for name, side in sides.items():
                seconds, marks = cold(workspace, side, MESSAGES[i % len(MESSAGES)])
                colds[name].append(seconds)
                peaks[name] = max(peaks[name], marks.pop("peak_mib"))
                if marks and side is after:
                    steps.append(marks)
        imports = {name: import_share(workspace, side) for name, side in sides.items()}
        warms = {name: warm(workspace, side, args.turns) for name, side in sides.items()}
    report(sides, colds, imports, warms, steps, peaks)


# What this work changed: the baseline has these as they were at --base-rev, and everything else
# as it is now (the store's schema moved on since; the old store code cannot open the demo's).
CHANGED = [
    "src/chatclone/chat",
    "src/chatclone/memory",
    "src/chatclone/models.py",
    "src/chatclone/embeddings.py",
    "src/chatclone/prompt.py",
    "src/chatclone/cli.py",
    "src/chatclone/cli_common.py",
]


def checkout(rev: str, into: Path) -> Path:
    """The current `src` with the files this work changed as they were at `rev`, read from git
    without touching the working tree."""
    shutil.copytree(ROOT / "src", into / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for path in CHANGED:
        target = into / path
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, *CHANGED], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def chat_command(workspace: Path, text: str, *python_flags: str) -> list[str]:
    return [
        sys.executable, *python_flags, "-m", "chatclone", "chat", "-w", str(workspace),
        "--once", text, "--temperature", "0", "--max-new-tokens", "1",
    ]  # fmt: skip


def env_for(side: Side) -> dict[str, str]:
    src, extra = side
    return {**os.environ, "PYTHONPATH": str(src), "CHATCLONE_TIMINGS": "1", **extra}


def cold(workspace: Path, side: Side, text: str) -> tuple[float, dict[str, float]]:
    """Seconds from starting `chat --once` to its reply on stdout, and the steps it reported
    (the current side only), in seconds from the start, with its CPU seconds."""
    start = time.time()
    proc = subprocess.Popen(
        chat_command(workspace, text),
        env=env_for(side),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    seconds = time.time() - start
    proc.stdout.read()
    err = proc.stderr.read()  # (a few lines: no pipe fills while the other is read)
    # Waited for here, not by communicate(), to have the process's own peak RSS.
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    said = err.decode(errors="replace")
    if proc.returncode or "No memory" in said:  # both sides must answer with memory on
        sys.exit(f"chat --once failed or ran without memory ({side}):\n{said[-2000:]}")
    marks: dict[str, float] = {}
    for line in said.splitlines():
        if line.startswith(TIMINGS):
            raw = json.loads(line[len(TIMINGS) :])
            marks = {k: (v if k == "cpu_s" else v - start) for k, v in raw.items()}
    marks["peak_mib"] = usage.ru_maxrss / 1024  # (KiB on Linux)
    return seconds, marks


def import_share(workspace: Path, side: Side) -> tuple[float, float]:
    """(seconds importing, seconds to the reply) of one cold run under -X importtime."""
    start = time.time()
    proc = subprocess.run(
        chat_command(workspace, WARMUP, "-X", "importtime"),
        env=env_for(side),
        capture_output=True,
    )
    total = time.time() - start
    # Top-level imports only (one space after "|"): nested ones are inside their cumulative time.
    top = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| \S")
    micros = sum(int(m[1]) for line in proc.stderr.decode().splitlines() if (m := top.match(line)))
    return micros / 1e6, total


def warm(workspace: Path, side: Side, turns: int) -> list[float]:
    messages = (MESSAGES * turns)[:turns]
    out = subprocess.run(
        [sys.executable, "-c", WARM_SCRIPT, str(workspace), json.dumps(messages)],
        env=env_for(side),
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [float(x) for x in json.loads(out.strip().splitlines()[-1])]


def report(
    sides: dict[str, Side],
    colds: dict[str, list[float]],
    imports: dict[str, tuple[float, float]],
    warms: dict[str, list[float]],
    steps: list[dict[str, float]],
    peaks: dict[str, float],
) -> None:
    before, after = list(sides)
    print()
    print(f"| time to first word | {before} | {after} | ratio |")
    print("|---|---:|---:|---:|")
    cb, ca = statistics.median(colds[before]), statistics.median(colds[after])
    print(f"| cold `chat --once` (median of {len(colds[after])}) | {cb:.2f} s | {ca:.2f} s "
          f"| {cb / ca:.2f}× |")  # fmt: skip
    wb, wa = statistics.median(warms[before][1:]), statistics.median(warms[after][1:])
    print(f"| warm turn, 2nd and later (median) | {wb:.2f} s | {wa:.2f} s | {wb / wa:.2f}× |")
    (ib, tb), (ia, ta) = imports[before], imports[after]
    print(f"| importing, in a -X importtime run | {ib:.2f} s of {tb:.2f} s ({ib / tb:.0%}) "
          f"| {ia:.2f} s of {ta:.2f} s ({ia / ta:.0%}) | {ib / ia:.2f}× |")  # fmt: skip
    pb, pa = peaks[before], peaks[after]
    print(f"| peak memory of a cold process (largest run) | {pb:.0f} MiB | {pa:.0f} MiB "
          f"| {pb / pa:.2f}× |")  # fmt: skip
    print()
    print("cold runs:", {k: [round(x, 2) for x in v] for k, v in colds.items()})
    print("warm turns:", {k: [round(x, 2) for x in v] for k, v in warms.items()})
    if steps:
        keys = [k for k in steps[0] if k != "reported"]
        median = {k: round(statistics.median(s[k] for s in steps if k in s), 2) for k in keys}
        print(f"after, steps of a cold run (s from start, median; cpu_s = CPU seconds): {median}")


if __name__ == "__main__":
    main()
