"""python benchmarks/serve_load.py [-w chatclone-demo] [--run NAME] [--clients 1,4,16] [--rounds N]

A bounded load run of `chatclone serve` on this machine, against 127.0.0.1 only: the server is a
real `chatclone serve` process on a free loopback port (the default model's run, memory on), the
clients are threads using the openai SDK with streaming, each sending `--rounds` requests in a
row (fresh one-message conversations from a fixed list, greedy, `--max-tokens` at most).

Baseline, in the same run and before the load: the same run loaded in this process, answering the
same prompts one by one through `Conversation` and the generator directly (what `chat --once`
does after loading), so the ratios show what HTTP, the queue and the separate process cost.

Prints, for one client: time to first token (median) and tokens per second after it (median);
for 1, 4 and 16 concurrent clients: throughput (completion tokens/s and requests/s over the
whole run) and latency per request (p50, p95), each with its ratio to the baseline.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import openai

from chatclone.chat.engine import Conversation, open_engine
from chatclone.chat.generation import GenerationSettings
from chatclone.workspace import Workspace

MESSAGES = [
    "hey, you around?",
    "what are you up to this weekend?",
    "did you see the match last night",
    "how's work going",
    "want to grab dinner on friday?",
    "where do you live again?",
    "lol that's wild",
    "are you coming to the party?",
    "what's your cat called",
    "ugh mondays",
    "can you send me that recipe",
    "happy birthday!!",
]


@dataclass
class Sample:
    first: float  # seconds to the first content
    total: float  # seconds for the whole reply
    tokens: int  # completion tokens (usage)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(workspace: Path, run: str | None, port: int) -> subprocess.Popen[bytes]:
    chatclone = Path(sys.executable).with_name("chatclone")
    args = [str(chatclone), "serve", "-w", str(workspace), "--port", str(port), "--max-queue", "64"]
    if run:
        args += ["--run", run]
    server = subprocess.Popen(
        args, stderr=subprocess.PIPE, env={**os.environ, "CHATCLONE_API_KEY": ""}
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(
                f"the server stopped: {server.stderr.read().decode() if server.stderr else ''}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.5)
    raise SystemExit("the server did not start within 10 minutes")


def ask(sdk: openai.OpenAI, model: str, text: str, max_tokens: int) -> Sample:
    started = time.perf_counter()
    first = None
    tokens = 0
    stream = sdk.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": text}],
        max_tokens=max_tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content and first is None:
            first = time.perf_counter() - started
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    total = time.perf_counter() - started
    return Sample(first if first is not None else total, total, tokens)


def load(
    sdk: openai.OpenAI, model: str, clients: int, rounds: int, max_tokens: int
) -> tuple[float, list[Sample]]:
    samples: list[Sample] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        for r in range(rounds):
            sample = ask(sdk, model, MESSAGES[(c * rounds + r) % len(MESSAGES)], max_tokens)
            with lock:
                samples.append(sample)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, samples


def baseline(
    workspace: Path, run: str | None, rounds: int, max_tokens: int
) -> tuple[float, list[Sample]]:
    """The same run and prompts, in this process, one by one, no HTTP."""
    engine = open_engine(Workspace(workspace), run)
    settings = GenerationSettings(max_new_tokens=max_tokens, temperature=0)
    samples = []
    started_all = time.perf_counter()
    for i in range(rounds):
        started = time.perf_counter()
        first = None
        pieces = []
        for piece in Conversation(engine).reply(MESSAGES[i % len(MESSAGES)], settings):
            if first is None and piece:
                first = time.perf_counter() - started
            pieces.append(piece)
        total = time.perf_counter() - started
        counts = engine.generator.last_counts  # type: ignore[attr-defined]
        samples.append(Sample(first or total, total, counts.completion_tokens))
    return time.perf_counter() - started_all, samples


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def rate(s: Sample) -> float:
    after = s.total - s.first
    return (s.tokens - 1) / after if after > 0 and s.tokens > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-w", "--workspace", type=Path, default=Path("chatclone-demo"))
    parser.add_argument("--run", default=None)
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--rounds", type=int, default=4, help="requests per client")
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()

    base_wall, base = baseline(args.workspace, args.run, max(8, args.rounds), args.max_tokens)
    base_first = statistics.median(s.first for s in base)
    base_rate = statistics.median(rate(s) for s in base)
    base_tps = sum(s.tokens for s in base) / base_wall
    base_p50 = statistics.median(s.total for s in base)
    print(
        f"baseline (in process, one by one, {len(base)} replies): first token {base_first:.3f} s, "
        f"{base_rate:.1f} tok/s after it, {base_tps:.1f} tok/s overall, p50 {base_p50:.2f} s"
    )

    port = free_port()
    server = start_server(args.workspace, args.run, port)
    try:
        url = f"http://127.0.0.1:{port}"
        sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=600)
        model = sdk.models.list().data[0].id
        ask(sdk, model, MESSAGES[0], 4)  # warm: the first request builds caches
        _, single = load(sdk, model, 1, max(8, args.rounds), args.max_tokens)
        first = statistics.median(s.first for s in single)
        tok_rate = statistics.median(rate(s) for s in single)
        print("\n| one client | served | in process | ratio |\n|---|---:|---:|---:|")
        print(
            f"| time to first token (median) | {first:.3f} s | {base_first:.3f} s | {first / base_first:.2f}× |"
        )
        print(
            f"| tokens/s after the first (median) | {tok_rate:.1f} | {base_rate:.1f} | {tok_rate / base_rate:.2f}× |"
        )
        print(
            "\n| clients | requests | tokens/s | requests/s | p50 latency | p95 latency | tokens/s vs baseline |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for clients in (int(c) for c in args.clients.split(",")):
            wall, samples = load(sdk, model, clients, args.rounds, args.max_tokens)
            tokens = sum(s.tokens for s in samples)
            totals = [s.total for s in samples]
            print(
                f"| {clients} | {len(samples)} | {tokens / wall:.1f} | {len(samples) / wall:.2f} | "
                f"{statistics.median(totals):.2f} s | {p95(totals):.2f} s | {tokens / wall / base_tps:.2f}× |"
            )
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
