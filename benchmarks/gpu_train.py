"""Run: .venv/bin/python benchmarks/gpu_train.py --out DIR   (about 3 to 5 minutes on one H200)

GPU training speed and memory of chatclone's local backend beside TRL's `SFTTrainer`, in bf16, for
models built from a configuration (random weights: speed and memory do not depend on them, and
nothing is downloaded) in the shape of Qwen2-0.5B (494 M parameters) and Llama-2-7B (6.7 B), with
gradient checkpointing off and on. Both sides train the same LoRA (r 16, alpha 32, dropout 0.05,
every linear layer), AdamW at the same learning rate, one pass over the same pre-tokenised demo
samples (`benchmarks/data/demo_batches.json`, the demo dataset's token ids and reply spans, made
here with `--make-batches`; ids beyond a model's vocabulary are folded into it), with the loss on
the replies only. chatclone is the real `LocalBackend().train` (CUDA detection, bf16 autocast,
gradient checkpointing, its micro-batches and loss); only the model loading and the tokenizer are
replaced by the model built from the configuration and the pre-tokenised samples. TRL gets the same
ids and reply masks as a processed dataset (`input_ids` + `assistant_masks`).

Figures per run: reply tokens per second and the median step time, both over the steps after the
first (CUDA start-up and kernel selection excluded), and the peak GPU memory
(`torch.cuda.max_memory_allocated`, reset before each run). DIR gets `gpu_train.json` and
`gpu_train.md` (a markdown table). `--tiny --device cpu` runs the whole script on a tiny Llama
configuration in float32 on the CPU in well under a minute (tests/test_gpu_train_script.py).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trl_side import require_trl, sft_trainer

HERE = Path(__file__).resolve().parent
BATCHES = HERE / "data" / "demo_batches.json"
# Model shapes: (transformers model type, configuration); vocabularies as the real models have.
SHAPES: dict[str, tuple[str, dict[str, Any]]] = {
    "qwen2-0.5b": (
        "qwen2",
        {
            "hidden_size": 896,
            "intermediate_size": 4864,
            "num_hidden_layers": 24,
            "num_attention_heads": 14,
            "num_key_value_heads": 2,
            "vocab_size": 151936,
            "max_position_embeddings": 32768,
            "rope_theta": 1_000_000.0,
            "tie_word_embeddings": True,
        },
    ),
    "llama-7b": (
        "llama",
        {
            "hidden_size": 4096,
            "intermediate_size": 11008,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "num_key_value_heads": 32,
            "vocab_size": 32000,
            "max_position_embeddings": 4096,
        },
    ),
    "tiny": (
        "llama",
        {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": 512,
            "max_position_embeddings": 2048,
        },
    ),
}


# --- the pre-tokenised samples ------------------------------------------------------------


def make_batches(path: Path) -> None:
    """The demo dataset's training samples as chatclone encodes them for the default model: token
    ids and the [start, end) spans of the reply tokens (what the loss is on)."""
    sys.path.insert(0, str(HERE))
    from chatclone import models
    from chatclone.train.data import IGNORE, encode_file
    from train_throughput import build_dataset

    tokenizer = models.load_tokenizer("default")
    with tempfile.TemporaryDirectory() as tmp:
        dataset = build_dataset(Path(tmp), 0)
        encoded, _ = encode_file(tokenizer, dataset / "train.jsonl", 1 << 30)
    samples: list[dict[str, Any]] = []
    for sample in encoded:
        trained = [label != IGNORE for label in sample.labels]
        starts = [i for i, t in enumerate(trained) if t and (i == 0 or not trained[i - 1])]
        ends = [
            i + 1
            for i, t in enumerate(trained)
            if t and (i + 1 == len(trained) or not trained[i + 1])
        ]
        samples.append(
            {"ids": sample.ids, "replies": [list(p) for p in zip(starts, ends, strict=True)]}
        )
    data = {"source": "chatclone demo dataset, SmolLM2-135M-Instruct tokens", "samples": samples}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n", "utf-8")
    tokens = sum(len(s["ids"]) for s in samples)
    print(f"{path}: {len(samples)} samples, {tokens:,} tokens")


def load_samples(path: Path, count: int, vocab_size: int) -> list[tuple[list[int], list[int]]]:
    """The first `count` samples as (ids, reply mask), ids folded into `vocab_size`."""
    if not path.is_file():
        raise SystemExit(f"{path} is missing: make it with `{sys.argv[0]} --make-batches`")
    rows = json.loads(path.read_text("utf-8"))["samples"][:count]
    out = []
    for row in rows:
        ids = [i % vocab_size for i in row["ids"]]
        mask = [0] * len(ids)
        for start, end in row["replies"]:
            mask[start:end] = [1] * (end - start)
        out.append((ids, mask))
    return out


# --- the model ----------------------------------------------------------------------------


def build_model(shape: str, device: str) -> Any:
    """A causal LM of `shape` with random weights, created on `device` (a 7 B model is not
    initialised on the CPU first), bf16 on CUDA, float32 on the CPU."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    kind, options = SHAPES[shape]
    config = AutoConfig.for_model(kind, **options)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    torch.manual_seed(0)
    with torch.device(device):
        return AutoModelForCausalLM.from_config(config, dtype=dtype)


def parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


# --- chatclone ----------------------------------------------------------------------------


class _Tokenizer:
    """What the trainer asks of a tokenizer once its samples are encoded."""

    pad_token_id = 0
    eos_token_id = 0

    def save_pretrained(self, path: str) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)


def chatclone_run(
    model: Any, samples: list[tuple[list[int], list[int]]], checkpointing: bool, tokens: int
) -> dict[str, Any]:
    """One pass of `LocalBackend().train` over `samples`, one optimizer step per micro-batch."""
    from chatclone import models
    from chatclone.config import TrainSettings
    from chatclone.train import local
    from chatclone.train.base import TrainRequest
    from chatclone.train.data import IGNORE, Encoded, length_grouped_batches
    from chatclone.workspace import Workspace

    encoded = [
        Encoded(ids, [i if m else IGNORE for i, m in zip(ids, mask, strict=True)])
        for ids, mask in samples
    ]

    class Samples(local.Trainer):
        def _encode(
            self, file: str, limit: int, required: bool = True
        ) -> tuple[list[Encoded], int]:
            return (encoded, 0) if file == "train.jsonl" else ([], 0)

    settings = replace(
        TrainSettings(),
        epochs=1,
        grad_accum=1,
        eval_every=0,
        save_every=0,
        batch_tokens=tokens,
        gradient_checkpointing=checkpointing,
    )
    steps = StepClock()
    saved = models.load_causal_lm, models.load_tokenizer, local.Trainer
    models.load_causal_lm = lambda base, **kwargs: model
    models.load_tokenizer = lambda base, **kwargs: _Tokenizer()
    local.Trainer = Samples
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ws = Workspace(Path(tmp))
            (ws.datasets_dir / "demo").mkdir(parents=True)
            (ws.datasets_dir / "demo" / "train.jsonl").write_text("{}\n", "utf-8")  # not read
            request = TrainRequest(settings, dataset="demo", name="gpu", display=steps.display)
            summary = local.LocalBackend().train(ws, request)
    finally:
        models.load_causal_lm, models.load_tokenizer, local.Trainer = saved
    lengths = [len(e.ids) for e in encoded]
    batches = length_grouped_batches(lengths, tokens, settings.seed, 0)
    trained = [sum(encoded[i].trained for i in b) for b in batches]
    if summary["steps"] != len(batches):
        raise SystemExit(f"chatclone ran {summary['steps']} steps, not {len(batches)}")
    return steps.figures(trained)


class StepClock:
    """The time at the end of every optimizer step, from either side's progress hook."""

    def __init__(self) -> None:
        self.ends: list[float] = []

    def display(self, total: int, done: int) -> Any:
        from chatclone.train.base import QuietDisplay

        clock = self

        class Display(QuietDisplay):
            def __enter__(self) -> Display:
                clock.ends = [_now()]
                return self

            def update(self, step: int, loss: float, tokens_per_s: float) -> None:
                clock.ends.append(_now())

        return Display()

    def figures(self, trained: list[int]) -> dict[str, Any]:
        """Reply tokens/s and median step time over the steps after the first."""
        if len(self.ends) != len(trained) + 1:
            raise SystemExit(f"timed {len(self.ends) - 1} steps of {len(trained)}")
        times = [b - a for a, b in zip(self.ends, self.ends[1:], strict=False)]
        later = times[1:] or times
        replies = sum(trained[1:]) if len(times) > 1 else sum(trained)
        return {
            "steps": len(times),
            "reply_tokens": sum(trained),
            "reply_tokens_per_s": round(replies / sum(later), 1),
            "step_s": round(statistics.median(later), 4),
            "first_step_s": round(times[0], 3),
        }


def _now() -> float:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter()


# --- TRL ----------------------------------------------------------------------------------


def trl_run(
    model: Any, samples: list[tuple[list[int], list[int]]], checkpointing: bool, tokens: int
) -> dict[str, Any]:
    """One pass of TRL's `SFTTrainer` over the same samples: processed rows (ids and reply
    masks), batches of about `tokens` tokens of similar length, the same LoRA and optimizer."""
    require_trl("TRL is missing: .venv/bin/pip install 'trl>=1.16'")
    import torch
    from transformers import TrainerCallback

    cuda = next(model.parameters()).is_cuda
    mean = statistics.mean(len(ids) for ids, _ in samples)
    clock = StepClock()

    class Clock(TrainerCallback):
        def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
            clock.ends = [_now()]

        def on_step_end(self, *args: Any, **kwargs: Any) -> None:
            clock.ends.append(_now())

    with tempfile.TemporaryDirectory() as tmp:
        trainer, counted = sft_trainer(
            model,
            [{"input_ids": ids, "assistant_masks": mask} for ids, mask in samples],
            _trl_tokenizer(),
            callbacks=[Clock()],
            output_dir=tmp,
            per_device_train_batch_size=max(1, round(tokens / mean)),
            train_sampling_strategy="group_by_length",
            max_length=None,
            use_cpu=not cuda,
            bf16=cuda,
            gradient_checkpointing=checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
        trainer.train()
        del trainer
    expected = sum(sum(mask[1:]) for _, mask in samples)
    if sum(counted.trained) != expected:
        raise SystemExit(f"TRL trained on {sum(counted.trained)} reply tokens, not {expected}")
    torch.manual_seed(0)
    return clock.figures(counted.trained)


def _trl_tokenizer() -> Any:
    """A small word-level tokenizer with a pad token: TRL only reads its pad token from it (the
    rows are already tokenised), and the default model's tokenizer may not be on this machine."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )


# --- the runs -----------------------------------------------------------------------------


SIDES = {"chatclone": chatclone_run, "trl": trl_run}


def run_all(
    shapes: list[str], device: str, count: int, tokens: int, log: bool
) -> list[dict[str, Any]]:
    import torch

    results = []
    for shape in shapes:
        samples = load_samples(BATCHES, count, SHAPES[shape][1]["vocab_size"])
        for checkpointing in (False, True):
            for side, train in SIDES.items():
                started = time.perf_counter()
                model = build_model(shape, device)
                size = parameters(model)
                if device == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                figures = train(model, samples, checkpointing, tokens)
                peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None
                del model
                gc.collect()
                if device == "cuda":
                    torch.cuda.empty_cache()
                row = {
                    "model": shape,
                    "parameters": size,
                    "side": side,
                    "gradient_checkpointing": checkpointing,
                    "samples": len(samples),
                    "tokens": sum(len(ids) for ids, _ in samples),
                    **figures,
                    "peak_gpu_mib": None if peak is None else round(peak),
                    "wall_s": round(time.perf_counter() - started, 1),
                }
                results.append(row)
                if log:
                    print(json.dumps(row), file=sys.stderr)
    return results


def markdown(results: list[dict[str, Any]], device: str, when: str) -> str:
    lines = [
        f"{device}, {when}; reply tokens/s and median step time over the steps after the first",
        "",
        "| model | gradient checkpointing | side | steps | reply tokens/s | step s | peak GPU MiB | chatclone / TRL |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in results:
        other = next(
            r
            for r in results
            if r["model"] == row["model"]
            and r["gradient_checkpointing"] == row["gradient_checkpointing"]
            and r["side"] != row["side"]
        )
        ratio = (
            f"{row['reply_tokens_per_s'] / other['reply_tokens_per_s']:.2f}×"
            if row["side"] == "chatclone"
            else ""
        )
        peak = "—" if row["peak_gpu_mib"] is None else f"{row['peak_gpu_mib']:,}"
        lines.append(
            f"| {row['model']} ({row['parameters'] / 1e9:.2f} B) | "
            f"{'on' if row['gradient_checkpointing'] else 'off'} | {row['side']} | {row['steps']} | "
            f"{row['reply_tokens_per_s']:,.1f} | {row['step_s']:.3f} | {peak} | {ratio} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu-train-results"))
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--tiny", action="store_true", help="only the tiny configuration")
    parser.add_argument("--models", default="qwen2-0.5b,llama-7b", help=f"of {', '.join(SHAPES)}")
    parser.add_argument("--samples", type=int, help="first N pre-tokenised samples (24; --tiny 3)")
    parser.add_argument(
        "--batch-tokens", type=int, help="tokens per step on both sides (4096; --tiny 1024)"
    )
    parser.add_argument("--make-batches", action="store_true", help=f"write {BATCHES} and stop")
    args = parser.parse_args()
    if args.make_batches:
        make_batches(BATCHES)
        return 0
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # chatclone picks CUDA whenever it sees a GPU
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU here: use --tiny --device cpu to try the script", file=sys.stderr)
        return 2
    shapes = ["tiny"] if args.tiny else args.models.split(",")
    if not set(shapes) <= set(SHAPES):
        parser.error(f"--models: of {', '.join(SHAPES)}")
    count = args.samples or (3 if args.tiny else 24)
    tokens = args.batch_tokens or (1024 if args.tiny else 4096)
    started = time.perf_counter()
    results = run_all(shapes, args.device, count, tokens, log=True)
    name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"device": name, "date": when, "wall_s": round(time.perf_counter() - started, 1)}
    (args.out / "gpu_train.json").write_text(
        json.dumps({**report, "runs": results}, indent=2) + "\n", "utf-8"
    )
    table = markdown(results, name, when)
    (args.out / "gpu_train.md").write_text(table, "utf-8")
    print(table + f"\n{report['wall_s']:.0f} s in all; written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
