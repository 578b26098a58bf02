"""Run: .venv/bin/python benchmarks/train_throughput.py --samples 12 --repeats 2   (about 11 min on a quiet 2-core CPU)

Reply tokens trained per second by chatclone's local LoRA trainer against the baseline a
practitioner would pick, TRL's `SFTTrainer` (target: at least 1.5×), and a naive
`transformers.Trainer` (target: at least 2×), on the same data, model and LoRA, with each side's
peak memory; and what the 8 GB default micro-batch costs against the old one.

- chatclone: the real `chatclone.train.local.Trainer` with the default settings (assistant-only
  loss, length-grouped micro-batches of at most `batch_tokens` = 1024 tokens, output head only
  where there are labels), one optimizer step per micro-batch so that one pass covers every sample
  exactly once;
- chatclone, 2048 tokens (side `chatclone-2048`): the same with the old default micro-batch of
  2048 tokens: the speed and memory the 8 GB default trades;
- TRL (`trl`): `SFTTrainer` + `SFTConfig` on the conversations as a conversational dataset with
  `assistant_only_loss=True` (SmolLM2's template with `{% generation %}` markers, checked to mask
  exactly the tokens chatclone trains on in every sample, and counted again in every batch), the
  same LoRA through `peft_config`, gradient checkpointing off and float32 like the other sides, and
  `--trl-length` as its length handling: `single` (the default: batches of 1, so no padding and
  no attention mask, and PyTorch's fused CPU attention), `padding-free` (batches of 2 flattened
  into one row), `packing` (best-fit-decreasing into rows of 2048 tokens, padding-free too) or
  `grouped` (batches of 2 of similar length, padded). The flattening modes are correct here
  (transformers reads the sequence starts from the position ids and masks attention
  block-diagonally) but that mask takes the attention off the fused kernel onto one that keeps the
  whole attention matrix: on 2 demo samples TRL peaked at 7,324 MiB padding-free and 8,469 MiB
  grouped, against 3,483 MiB for chatclone; compare them with `--sides chatclone,trl
  --trl-length MODE`;
- naive: a plain `transformers.Trainer`, batches of 4, every batch right-padded to the longest
  sample of the dataset, loss on every real token;
- full logits (`full-logits`): chatclone with the output head over every position.

Every side trains one pass over the demo dataset's train.jsonl (74 samples, 53,989 tokens of which
2,899 are replies, built from the bundled sample with `chatclone ingest` and `chatclone build
--no-low-info-filter`), or its first N (12 by default; 0: all). The default four sides with 2
repeats take about 11 minutes on a quiet 2-core CPU with 12 samples, and about an hour with all 74.
Other options: --sides (comma-separated, chatclone first), --trl-length, --json. The model
is SmolLM2-135M-Instruct in float32 on the CPU with LoRA r 16, alpha 32 on every linear layer,
dropout 0.05, AdamW at the same learning rate and torch's default thread count on all sides. The
metric counts on every side the tokens chatclone trains on (the replies) per second of the
training steps, model loading excluded. Each side runs in its own process, interleaved R times,
and the table shows medians; another process on the CPU can slow a run several times over, so
each run's load average is printed too. "peak MiB" is the process's peak RSS (model included),
"train + MiB" the peak during training over the RSS just before it. Install TRL with
`.venv/bin/pip install 'trl>=1.16'` (the `bench` extra).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from trl_side import (
    check_trl_masks,
    lora_config,
    one_pass_arguments,
    require_trl,
    sft_trainer,
    trl_training_template,
)

HERE = Path(__file__).resolve().parent
CHATCLONE = HERE.parent / ".venv" / "bin" / "chatclone"
SIDES = {
    "chatclone": "chatclone (defaults)",
    "chatclone-2048": "chatclone, 2048 tokens",
    "full-logits": "chatclone, full logits",
    "trl": "TRL SFTTrainer",
    "naive": "naive Trainer",
}
NAIVE_BATCH = 4
OLD_BATCH_TOKENS = 2048  # the micro-batch size before the 8 GB default


# --- the dataset ------------------------------------------------------------------------


def build_dataset(tmp: Path, samples: int) -> Path:
    """datasets/bench/ of a fresh workspace, its train.jsonl cut to the first `samples` lines
    (0: all)."""
    from chatclone.demo import prepare_demo, sample_exports

    ws = tmp / "ws"
    exports = [str(p) for p in sample_exports()]
    _cli("ingest", *exports, "-w", str(ws), "--json")
    prepare_demo(ws)
    _cli("build", "-w", str(ws), "--no-low-info-filter", "--name", "bench", "--json")
    dataset = ws / "datasets" / "bench"
    lines = (dataset / "train.jsonl").read_text("utf-8").splitlines(keepends=True)
    if not 0 <= samples <= len(lines):
        raise SystemExit(f"--samples must be between 1 and {len(lines)} (0: all)")
    (dataset / "train.jsonl").write_text("".join(lines[: samples or None]), "utf-8")
    # Validation is not what is measured; without the file the trainer skips it.
    (dataset / "valid.jsonl").unlink(missing_ok=True)
    return dataset


def _cli(*args: str) -> None:
    proc = subprocess.run([str(CHATCLONE), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"chatclone {args[0]} failed:\n{proc.stderr}")


# --- memory -----------------------------------------------------------------------------


def _rss_mib() -> float:
    """This process's resident set size now."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class Memory:
    """RSS just before training, and the peaks before and during it. Linux resets the peak RSS
    when "5" is written to /proc/self/clear_refs, so the training peak is its own; where that is
    refused, the training peak is the whole process's."""

    def __init__(self) -> None:
        self.loaded_mib = self.load_peak_mib = self.train_peak_mib = 0.0
        self.reset = False

    def before_training(self) -> None:
        self.loaded_mib, self.load_peak_mib = _rss_mib(), _peak_mib()
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.reset = True
        except OSError:
            pass

    def after_training(self) -> None:
        self.train_peak_mib = _peak_mib()

    def figures(self) -> dict[str, Any]:
        return {
            "peak_rss_mib": round(max(self.load_peak_mib, self.train_peak_mib)),
            "rss_before_training_mib": round(self.loaded_mib),
            "train_peak_rss_mib": round(self.train_peak_mib),
            "train_extra_mib": round(self.train_peak_mib - self.loaded_mib),
            "peak_reset": self.reset,
        }


# --- the sides, each in its own process ------------------------------------------------


def chatclone_side(dataset: Path, selective: bool, batch_tokens: int) -> dict[str, Any]:
    """One pass of `chatclone train --backend local` (`LocalBackend().train`) with the default
    settings but `batch_tokens`, one optimizer step per micro-batch."""
    from dataclasses import replace

    import torch

    from chatclone.config import TrainSettings
    from chatclone.train import local
    from chatclone.train.base import TrainRequest
    from chatclone.train.data import length_grouped_batches
    from chatclone.workspace import Workspace

    memory = Memory()
    seen: dict[str, Any] = {}

    class BenchTrainer(local.Trainer):
        """The real trainer; it only reads the memory and time around the training loop."""

        def _load(self) -> None:
            super()._load()
            self.selective = selective  # off: the full forward a GPU run under DDP uses
            seen["train_set"] = self.train_set
            memory.before_training()

        def _finish(self, progress: Any) -> dict[str, Any]:
            memory.after_training()
            seen["seconds"] = progress.seconds  # the training steps only, as metrics.jsonl has it
            return super()._finish(progress)

    settings = replace(
        TrainSettings(),
        epochs=1,
        grad_accum=1,
        eval_every=0,
        save_every=0,
        batch_tokens=batch_tokens,
    )
    request = TrainRequest(
        settings, dataset=dataset.name, name=f"bench-{os.getpid()}", interactive=False
    )
    local.Trainer = BenchTrainer  # the class LocalBackend.train builds its trainer from
    summary = local.LocalBackend().train(Workspace(dataset.parent.parent), request)
    lengths = [len(s.ids) for s in seen["train_set"]]
    batches = length_grouped_batches(lengths, settings.batch_tokens, settings.seed, 0)
    if summary["steps"] != len(batches):
        raise SystemExit(f"expected one pass of {len(batches)} steps, ran {summary['steps']}")
    return {
        "samples": len(lengths),
        "tokens": sum(lengths),
        "assistant_tokens": summary["trained_tokens"],
        "padded_tokens": sum(max(lengths[i] for i in b) * len(b) for b in batches),
        "steps": summary["steps"],
        "seconds": seen["seconds"],
        "threads": torch.get_num_threads(),
        **memory.figures(),
    }


def reference_rows(dataset: Path, tokenizer: Any) -> tuple[list[list[dict[str, Any]]], list[Any]]:
    """The conversations chatclone trains on (those with a reply to learn from) and chatclone's
    own encoding of each (token ids and reply-only labels): what the baselines must match."""
    from chatclone.train.data import encode_conversation, read_conversations

    conversations, encoded = [], []
    for messages in read_conversations(dataset / "train.jsonl"):
        sample = encode_conversation(tokenizer, messages)
        if sample.trained:  # chatclone skips a sample with none, so the baselines do too
            conversations.append(messages)
            encoded.append(sample)
    return conversations, encoded


TRL_MISSING = (
    "the TRL side needs TRL: .venv/bin/pip install 'trl>=1.16' (or pip install -e '.[bench]'); "
    "it must not replace torch or transformers"
)
# TRL's length handling, each its own documented option (SFTConfig):
TRL_LENGTH: dict[str, dict[str, Any]] = {
    # best-fit-decreasing packing into rows of 2048 tokens (chatclone's old micro-batch size),
    # padding-free: on this CPU transformers reads the sequence starts from position_ids and
    # masks attention block-diagonally, so no sample sees another
    "packing": {"packing": True, "packing_strategy": "bfd", "max_length": 2048},
    # batches of 2 flattened into one row without padding (the same block-diagonal masking)
    "padding-free": {"padding_free": True, "max_length": None, "per_device_train_batch_size": 2},
    # batches of 2 of similar length, right-padded to the longer one
    "grouped": {"train_sampling_strategy": "group_by_length", "max_length": None},
    # one sample per step: no padding and no attention mask at all
    "single": {"max_length": None, "per_device_train_batch_size": 1},
}


def trl_side(dataset: Path, length: str) -> dict[str, Any]:
    """One pass with TRL's `SFTTrainer`: the conversations as a conversational dataset, loss on
    the replies only (`assistant_only_loss=True` with a generation-marked template), the same LoRA
    through `peft_config`, and `length` as its length handling."""
    require_trl(TRL_MISSING)
    import torch

    from chatclone import models
    from chatclone.config import TrainSettings

    s = TrainSettings()
    torch.manual_seed(s.seed)
    tokenizer = models.load_tokenizer(s.base)
    conversations, encoded = reference_rows(dataset, tokenizer)
    tokenizer.chat_template = trl_training_template(tokenizer.chat_template)
    chats = [
        [{"role": m["role"], "content": m["content"], "weight": m.get("weight", 1)} for m in c]
        for c in conversations
    ]
    check_trl_masks(tokenizer, chats, encoded)
    model = models.load_causal_lm(s.base, dtype=torch.float32)
    options: dict[str, Any] = {"per_device_train_batch_size": 1 if length == "packing" else 2}
    options |= TRL_LENGTH[length]
    trainer, counted = sft_trainer(
        model,
        [{"messages": c} for c in chats],
        tokenizer,
        output_dir=str(dataset.parent.parent / f"trl-{os.getpid()}"),
        assistant_only_loss=True,
        use_cpu=True,
        bf16=False,  # SFTConfig's default; float32 like the other sides on this CPU
        gradient_checkpointing=False,  # SFTConfig's default is on; off like the other sides
        **options,
    )
    timer = Timer()
    trainer.add_callback(timer)
    memory = Memory()
    memory.before_training()
    trainer.train()
    memory.after_training()
    assistant = sum(e.trained for e in encoded)
    if sum(counted.trained) != assistant:
        raise SystemExit(f"TRL trained on {sum(counted.trained)} tokens, chatclone on {assistant}")
    return {
        "samples": len(encoded),
        "tokens": sum(len(e.ids) for e in encoded),
        "assistant_tokens": assistant,
        "padded_tokens": counted.padded,
        "steps": trainer.state.global_step,
        "seconds": timer.seconds,
        "threads": torch.get_num_threads(),
        **memory.figures(),
    }


class Timer:
    """A `TrainerCallback` (duck-typed, so this module imports no transformers) timing
    `train()`."""

    seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)

    def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
        self.start = time.perf_counter()

    def on_train_end(self, *args: Any, **kwargs: Any) -> None:
        self.seconds = time.perf_counter() - self.start


def naive_side(dataset: Path) -> dict[str, Any]:
    """One pass with a plain `transformers.Trainer`: the conversations rendered with the chat
    template and tokenized, batches right-padded to the longest sample, loss on every token."""
    import torch
    from peft import get_peft_model
    from transformers import Trainer, TrainingArguments

    from chatclone import models
    from chatclone.config import TrainSettings

    s = TrainSettings()
    torch.manual_seed(s.seed)
    tokenizer = models.load_tokenizer(s.base)
    model = models.load_causal_lm(s.base, dtype=torch.float32)
    conversations, encoded = reference_rows(dataset, tokenizer)
    rows = []
    for messages, sample in zip(conversations, encoded, strict=True):
        chat = [{"role": m["role"], "content": m["content"]} for m in messages]
        text = tokenizer.apply_chat_template(chat, tokenize=False)
        rows.append(tokenizer(text, add_special_tokens=False)["input_ids"])
        if rows[-1] != sample.ids:
            raise SystemExit("the naive tokenization differs from chatclone's")
    longest = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def collate(features: list[dict[str, list[int]]]) -> dict[str, Any]:
        ids = torch.full((len(features), longest), pad, dtype=torch.long)
        mask = torch.zeros((len(features), longest), dtype=torch.long)
        for row, feature in enumerate(features):
            n = len(feature["input_ids"])
            ids[row, :n] = torch.tensor(feature["input_ids"])
            mask[row, :n] = 1
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": ids.masked_fill(mask == 0, -100),
        }

    args = TrainingArguments(
        output_dir=str(dataset.parent.parent / f"naive-{os.getpid()}"),
        per_device_train_batch_size=NAIVE_BATCH,
        use_cpu=True,
        remove_unused_columns=False,
        **one_pass_arguments(s),
    )
    timer = Timer()
    trainer = Trainer(
        model=get_peft_model(model, lora_config(s)),
        args=args,
        train_dataset=[{"input_ids": r} for r in rows],
        data_collator=collate,
        callbacks=[timer],  # type: ignore[list-item]
    )
    memory = Memory()
    memory.before_training()
    trainer.train()
    memory.after_training()
    return {
        "samples": len(rows),
        "tokens": sum(len(r) for r in rows),
        "assistant_tokens": sum(e.trained for e in encoded),
        "padded_tokens": len(rows) * longest,
        "steps": trainer.state.global_step,
        "seconds": timer.seconds,
        "threads": torch.get_num_threads(),
        **memory.figures(),
    }


def run_side(side: str, dataset: Path, trl_length: str) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--side", side, str(dataset)]
    proc = subprocess.run([*cmd, "--trl-length", trl_length], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the {side} side failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["side"] = side
    result["assistant_tokens_per_s"] = result["assistant_tokens"] / result["seconds"]
    result["tokens_per_s"] = result["tokens"] / result["seconds"]
    result["padding"] = 1 - result["tokens"] / result["padded_tokens"]
    return result


def one_side(side: str, dataset: Path, trl_length: str) -> dict[str, Any]:
    """In a child process: one side's figures."""
    from chatclone.config import TrainSettings

    if side == "naive":
        return naive_side(dataset)
    if side == "trl":
        return trl_side(dataset, trl_length)
    tokens = OLD_BATCH_TOKENS if side == "chatclone-2048" else TrainSettings().batch_tokens
    return chatclone_side(dataset, selective=side != "full-logits", batch_tokens=tokens)


# --- the comparison ---------------------------------------------------------------------


def run(samples: int, repeats: int, sides: list[str], trl_length: str, log: bool) -> dict[str, Any]:
    started, load_start = time.perf_counter(), os.getloadavg()
    cores = os.cpu_count() or 1
    if log and load_start[0] > cores / 2:
        print(
            f"warning: load average {load_start[0]:.2f} on {cores} cores before starting: "
            "something else is using the CPU, so the figures will be noisy",
            file=sys.stderr,
        )
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="chatclone-train-bench-") as tmp:
        dataset = build_dataset(Path(tmp), samples)
        for repeat in range(repeats):
            for side in sides:
                result = run_side(side, dataset, trl_length)
                load = [round(x, 2) for x in os.getloadavg()]
                runs.append({"repeat": repeat + 1, **result, "loadavg_after": load})
                if log:
                    print(
                        f"  run {repeat + 1} {side:<14} {result['seconds']:7.1f} s  "
                        f"{result['assistant_tokens_per_s']:7.1f} reply tok/s  "
                        f"peak {result['peak_rss_mib']} MiB  load after {load}",
                        file=sys.stderr,
                    )
    _check_same(runs)
    medians = {side: _medians([r for r in runs if r["side"] == side]) for side in sides}
    cc = medians["chatclone"]
    ratios = {
        f"chatclone / {other}": {
            "assistant_tokens_per_s": _ratio(cc, medians[other], "assistant_tokens_per_s"),
            "peak_rss": _ratio(cc, medians[other], "peak_rss_mib"),
        }
        for other in sides
        if other != "chatclone"
    }
    first = runs[0]
    return {
        "samples": first["samples"],
        "tokens": first["tokens"],
        "assistant_tokens": first["assistant_tokens"],
        "threads": first["threads"],
        "repeats": repeats,
        "trl_length": trl_length,
        "medians": medians,
        "ratios": ratios,
        "runs": runs,
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "wall_s": round(time.perf_counter() - started, 1),
    }


def _ratio(a: dict[str, float], b: dict[str, float], key: str) -> float:
    return round(a[key] / b[key], 3)


def _check_same(runs: list[dict[str, Any]]) -> None:
    """Every run saw the same samples and tokens with the same torch thread count."""
    for key in ("samples", "tokens", "assistant_tokens", "threads"):
        if len({r[key] for r in runs}) != 1:
            raise SystemExit(f"the sides differ in {key}: {sorted({r[key] for r in runs})}")


def _medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    keys = (
        "seconds",
        "assistant_tokens_per_s",
        "tokens_per_s",
        "padding",
        "peak_rss_mib",
        "train_extra_mib",
    )
    medians = {k: round(statistics.median(r[k] for r in runs), 3) for k in keys}
    return medians | {"steps": runs[0]["steps"]}


def print_table(result: dict[str, Any]) -> None:
    m, r = result["medians"], result["ratios"]
    share = result["assistant_tokens"] / result["tokens"]
    print(
        f"{result['samples']} samples, {result['tokens']:,} tokens, {result['assistant_tokens']:,} "
        f"reply tokens ({share:.1%}); one pass per run, median of {result['repeats']}, "
        f"{result['threads']} torch threads; TRL with {result['trl_length']}"
    )
    print(
        f"{'':<24}{'steps':>6}{'seconds':>9}{'reply tok/s':>13}{'all tok/s':>11}"
        f"{'padding':>9}{'peak MiB':>10}{'train + MiB':>13}{'chatclone ×':>13}"
    )
    for side, label in SIDES.items():
        if side in m:
            s = m[side]
            ratio = r.get(f"chatclone / {side}", {}).get("assistant_tokens_per_s")
            print(
                f"{label:<24}{s['steps']:>6}{s['seconds']:>9.1f}{s['assistant_tokens_per_s']:>13.1f}"
                f"{s['tokens_per_s']:>11.1f}{s['padding']:>9.1%}{s['peak_rss_mib']:>10.0f}"
                f"{s['train_extra_mib']:>13.0f}{'' if ratio is None else f'{ratio:.2f}×':>13}"
            )
    for other, target in (("trl", 1.5), ("naive", 2.0)):
        if f"chatclone / {other}" in r:
            x = r[f"chatclone / {other}"]["assistant_tokens_per_s"]
            verdict = "met" if x >= target else "NOT met"
            print(f"reply tokens/s, chatclone / {other} = {x:.2f}× (target ≥ {target}×: {verdict})")
    if "chatclone-2048" in m:
        cost = _ratio(m["chatclone"], m["chatclone-2048"], "assistant_tokens_per_s")
        memory = _ratio(m["chatclone"], m["chatclone-2048"], "peak_rss_mib")
        print(
            f"default micro-batch ({_default_batch_tokens()} tokens) vs {OLD_BATCH_TOKENS}: "
            f"{cost:.2f}× the speed, {memory:.2f}× the peak memory"
        )
    if "full-logits" in m:
        head = _ratio(m["chatclone"], m["full-logits"], "assistant_tokens_per_s")
        print(f"output head only where labelled: {head:.2f}× against the full logits")
    print(
        f"load average (1, 5, 15 min): start {result['loadavg_start']}, end {result['loadavg_end']}; "
        f"{result['wall_s']:.0f} s in all"
    )


def _default_batch_tokens() -> int:
    from chatclone.config import TrainSettings

    return TrainSettings().batch_tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=12, help="first N of train.jsonl (0: all)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each side, interleaved")
    parser.add_argument(
        "--sides",
        default="chatclone,trl,naive,chatclone-2048",
        help=f"comma-separated, chatclone first; of {', '.join(SIDES)}",
    )
    parser.add_argument(
        "--trl-length",
        choices=sorted(TRL_LENGTH),
        default="single",
        help="TRL's length handling",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--side", choices=sorted(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("dataset", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # a child process: one side, its figures as one JSON line
        print(json.dumps(one_side(args.side, args.dataset, args.trl_length)))
        return 0
    if not CHATCLONE.exists():
        print(f"{CHATCLONE} not found: run `make test` or `make demo` first", file=sys.stderr)
        return 2
    sides = args.sides.split(",")
    if sides[0] != "chatclone" or not set(sides) <= set(SIDES) or len(set(sides)) != len(sides):
        parser.error(f"--sides: chatclone first, then any of {', '.join(SIDES)}, each once")
    if "trl" in sides and importlib.util.find_spec("trl") is None:
        print(TRL_MISSING, file=sys.stderr)
        return 2
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    result = run(args.samples, args.repeats, sides, args.trl_length, log=not args.json)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
