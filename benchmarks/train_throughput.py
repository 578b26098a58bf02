"""Run: .venv/bin/python benchmarks/train_throughput.py [--samples N] [--repeats 2] [--ablation] [--json]

Assistant tokens trained per second by chatclone's local LoRA trainer against a naive baseline on
the same data, model and LoRA (target: at least 2× the baseline), with each side's peak memory.

- chatclone: the real `chatclone.train.local.Trainer` (assistant-only loss, length-grouped
  micro-batches of at most 2048 tokens, output head only where there are labels), one optimizer
  step per micro-batch so that one pass covers every sample exactly once;
- naive: a plain `transformers.Trainer`, batches of 4, every batch right-padded to the longest
  sample of the dataset, loss on every real token;
- ablation (with --ablation): chatclone with the output head over every position.

Both sides train one pass over the demo dataset's train.jsonl (64 samples, built from the bundled
sample with `chatclone ingest` and `chatclone build --no-low-info-filter`), or its first N: all 64
with 2 repeats take 14 to 17 minutes on 2 cores, --samples 32 about half (the first 32 include the
longest sample; naive padding 38% against 41% for all 64), --ablation adds a quarter. The model
is SmolLM2-135M-Instruct in float32 on the CPU with LoRA r 16, alpha 32 on every linear layer,
dropout 0.05, AdamW at the same learning rate and torch's default thread count on both sides. The
metric counts on both sides the tokens chatclone trains on (the assistant's replies) per second of
the training steps, model loading excluded. Each side runs in its own process, interleaved
(chatclone, naive, …) R times, and the table shows medians; another process on the CPU can slow a
run several times over, so each run's load average is printed too. "peak MiB" is the process's
peak RSS (model included), "train + MiB" the peak during training over the RSS just before it.
"""

from __future__ import annotations

import argparse
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

HERE = Path(__file__).resolve().parent
CHATCLONE = HERE.parent / ".venv" / "bin" / "chatclone"
SIDES = {
    "chatclone": "chatclone",
    "full-logits": "chatclone, full logits",
    "naive": "naive Trainer",
}
NAIVE_BATCH = 4  # about the real tokens of one chatclone micro-batch on the demo data


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


# --- the two sides, each in its own process ---------------------------------------------


def chatclone_side(dataset: Path, selective: bool) -> dict[str, Any]:
    """One pass of `chatclone train --backend local` (`LocalBackend().train`), one optimizer step
    per micro-batch."""
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

    settings = replace(TrainSettings(), epochs=1, grad_accum=1, eval_every=0, save_every=0)
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


def naive_side(dataset: Path) -> dict[str, Any]:
    """One pass with a plain `transformers.Trainer`: the conversations rendered with the chat
    template and tokenized, batches right-padded to the longest sample, loss on every token."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from chatclone import models
    from chatclone.config import TrainSettings
    from chatclone.train.data import encode_conversation, read_conversations

    s = TrainSettings()
    torch.manual_seed(s.seed)
    tokenizer = models.load_tokenizer(s.base)
    model = models.load_causal_lm(s.base)
    rows, assistant = [], 0
    for messages in read_conversations(dataset / "train.jsonl"):
        chat = [{"role": m["role"], "content": m["content"]} for m in messages]
        text = tokenizer.apply_chat_template(chat, tokenize=False)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        # The metric's numerator: the tokens the chatclone side trains on in the same sample
        # (chatclone skips a sample with none, so this side does too).
        encoded = encode_conversation(tokenizer, messages)
        if encoded.ids != ids:
            raise SystemExit("the naive tokenization differs from chatclone's")
        if encoded.trained:
            rows.append(ids)
            assistant += encoded.trained
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

    class Timer(TrainerCallback):
        def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
            self.start = time.perf_counter()

        def on_train_end(self, *args: Any, **kwargs: Any) -> None:
            self.seconds = time.perf_counter() - self.start

    lora = LoraConfig(
        r=s.lora_r,
        lora_alpha=s.lora_alpha,
        lora_dropout=s.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    args = TrainingArguments(
        output_dir=str(dataset.parent.parent / f"naive-{os.getpid()}"),
        per_device_train_batch_size=NAIVE_BATCH,
        num_train_epochs=1,
        learning_rate=s.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=s.warmup_ratio,  # below 1: a share of the steps
        optim="adamw_torch",  # torch.optim.AdamW, as chatclone uses
        weight_decay=0.0,
        max_grad_norm=1.0,
        seed=s.seed,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_pin_memory=False,
    )
    timer = Timer()
    trainer = Trainer(
        model=get_peft_model(model, lora),
        args=args,
        train_dataset=[{"input_ids": r} for r in rows],
        data_collator=collate,
        callbacks=[timer],
    )
    memory = Memory()
    memory.before_training()
    trainer.train()
    memory.after_training()
    return {
        "samples": len(rows),
        "tokens": sum(len(r) for r in rows),
        "assistant_tokens": assistant,
        "padded_tokens": len(rows) * longest,
        "steps": trainer.state.global_step,
        "seconds": timer.seconds,
        "threads": torch.get_num_threads(),
        **memory.figures(),
    }


def run_side(side: str, dataset: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--side", side, str(dataset)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the {side} side failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["side"] = side
    result["assistant_tokens_per_s"] = result["assistant_tokens"] / result["seconds"]
    result["tokens_per_s"] = result["tokens"] / result["seconds"]
    result["padding"] = 1 - result["tokens"] / result["padded_tokens"]
    return result


# --- the comparison ---------------------------------------------------------------------


def run(samples: int, repeats: int, ablation: bool, log: bool) -> dict[str, Any]:
    started, load_start = time.perf_counter(), os.getloadavg()
    cores = os.cpu_count() or 1
    if log and load_start[0] > cores / 2:
        print(
            f"warning: load average {load_start[0]:.2f} on {cores} cores before starting: "
            "something else is using the CPU, so the figures will be noisy",
            file=sys.stderr,
        )
    sides = ["chatclone", "naive", *(["full-logits"] if ablation else [])]
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="chatclone-train-bench-") as tmp:
        dataset = build_dataset(Path(tmp), samples)
        for repeat in range(repeats):
            for side in sides:
                result = run_side(side, dataset)
                load = [round(x, 2) for x in os.getloadavg()]
                runs.append({"repeat": repeat + 1, **result, "loadavg_after": load})
                if log:
                    print(
                        f"  run {repeat + 1} {side:<11} {result['seconds']:7.1f} s  "
                        f"{result['assistant_tokens_per_s']:7.1f} assistant tok/s  "
                        f"peak {result['peak_rss_mib']} MiB  load after {load}",
                        file=sys.stderr,
                    )
    _check_same(runs)
    medians = {side: _medians([r for r in runs if r["side"] == side]) for side in sides}
    cc, naive = medians["chatclone"], medians["naive"]
    first = runs[0]
    return {
        "samples": first["samples"],
        "tokens": first["tokens"],
        "assistant_tokens": first["assistant_tokens"],
        "threads": first["threads"],
        "repeats": repeats,
        "medians": medians,
        "ratios": {
            "assistant_tokens_per_s": _ratio(cc, naive, "assistant_tokens_per_s"),
            "tokens_per_s": _ratio(cc, naive, "tokens_per_s"),
            "peak_rss": _ratio(cc, naive, "peak_rss_mib"),
            "train_extra": _ratio(cc, naive, "train_extra_mib"),
        },
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
        f"assistant tokens ({share:.1%}); one pass per run, median of {result['repeats']}, "
        f"{result['threads']} torch threads"
    )
    print(
        f"{'':<24}{'steps':>6}{'seconds':>9}{'assistant tok/s':>17}{'all tok/s':>11}"
        f"{'padding':>9}{'peak MiB':>10}{'train + MiB':>13}"
    )
    for side, label in SIDES.items():
        if side in m:
            s = m[side]
            print(
                f"{label:<24}{s['steps']:>6}{s['seconds']:>9.1f}{s['assistant_tokens_per_s']:>17.1f}"
                f"{s['tokens_per_s']:>11.1f}{s['padding']:>9.1%}{s['peak_rss_mib']:>10.0f}"
                f"{s['train_extra_mib']:>13.0f}"
            )
    print(
        f"{'chatclone / naive':<24}{'':>6}{'':>9}{r['assistant_tokens_per_s']:>16.2f}×"
        f"{r['tokens_per_s']:>10.2f}×{'':>9}{r['peak_rss']:>9.2f}×{r['train_extra']:>12.2f}×"
    )
    verdict = "met" if r["assistant_tokens_per_s"] >= 2 else "NOT met"
    print(
        f"assistant tokens/s, chatclone / naive = {r['assistant_tokens_per_s']:.2f}× (target ≥ 2×: {verdict})"
    )
    if "full-logits" in m:
        head = _ratio(m["chatclone"], m["full-logits"], "assistant_tokens_per_s")
        rest = _ratio(m["full-logits"], m["naive"], "assistant_tokens_per_s")
        print(
            f"of which: output head only where labelled {head:.2f}×; "
            f"full logits vs naive (length-grouped batches, loss on replies only) {rest:.2f}×"
        )
    print(
        f"load average (1, 5, 15 min): start {result['loadavg_start']}, end {result['loadavg_end']}; "
        f"{result['wall_s']:.0f} s in all"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=0, help="first N of train.jsonl (0: all)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each side, interleaved")
    parser.add_argument("--ablation", action="store_true", help="also run chatclone, full logits")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--side", choices=sorted(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("dataset", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # a child process: one side, its figures as one JSON line
        if args.side == "naive":
            figures = naive_side(args.dataset)
        else:
            figures = chatclone_side(args.dataset, selective=args.side == "chatclone")
        print(json.dumps(figures))
        return 0
    if not CHATCLONE.exists():
        print(f"{CHATCLONE} not found: run `make test` or `make demo` first", file=sys.stderr)
        return 2
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    result = run(args.samples, args.repeats, args.ablation, log=not args.json)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
