"""python benchmarks/eval_generation.py [--probes N] [--max-new-tokens N] [--batch N] [--repeats N]

How fast `chatclone eval` writes replies with the default model on this machine: the sample's fact
probes (each a fresh conversation with Sam's system prompt) answered three ways in the same process,
interleaved, median of `--repeats`:

- one by one: `LocalGenerator.stream`, what a chat does (the baseline);
- batched: `generate_batch` with the shared beginning of the prompts computed for every row (the
  shared-prefix cache switched off);
- batched + shared prefix: `generate_batch` as eval runs it (the system prompt once per batch).

Greedy decoding, so all three write the same replies (checked). Prints seconds and the ratios
against the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from chatclone.chat import local
from chatclone.chat.generation import GenerationSettings
from chatclone.chat.local import LocalGenerator
from chatclone.demo import sample_dir
from chatclone.evaluate.probes import load_probes
from chatclone.prompt import ChatContext, ChatMessage, Identity, PromptBuilder, persona_text


def prompts(n: int) -> list[list[ChatMessage]]:
    identity = Identity("Sam Rivera", "whatsapp", persona_text(sample_dir() / "persona.md"))
    builder = PromptBuilder(identity)
    probes = load_probes(Path(sample_dir() / "probes.jsonl"))[:n]
    return [
        builder.build(ChatContext("a friend"), [{"role": "user", "content": p.question}])
        for p in probes
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    generator = LocalGenerator.load_base("default")
    asked = prompts(args.probes)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, temperature=0.0)

    def one_by_one() -> list[str]:
        return ["".join(generator.stream(p, settings)) for p in asked]

    def batched(shared: int) -> Callable[[], list[str]]:
        def run() -> list[str]:
            local.MIN_SHARED_TOKENS = shared
            out: list[str] = []
            for i in range(0, len(asked), args.batch):
                out += generator.generate_batch(asked[i : i + args.batch], settings)
            return out

        return run

    ways = {
        "one by one (stream)": one_by_one,
        "batched": batched(10**9),
        "batched + shared prefix": batched(16),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    replies: dict[str, list[str]] = {}
    for _ in range(args.repeats):
        for name, way in ways.items():
            started = time.perf_counter()
            replies[name] = way()
            times[name].append(time.perf_counter() - started)
    same = len({tuple(r.strip() for r in rs) for rs in replies.values()}) == 1
    base = statistics.median(times["one by one (stream)"])
    print(f"{len(asked)} probes, {args.max_new_tokens} new tokens, batch {args.batch}, greedy")
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"{name:26} {t:7.1f} s  {base / t:5.2f}× the baseline")
    print("same replies on every path:", same)


if __name__ == "__main__":
    main()
