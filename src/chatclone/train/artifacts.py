"""What a finished local run leaves beside its adapter: `metrics.jsonl`, `loss.png`, `README.md`.

`metrics.jsonl` has one JSON object per line: training rows (`step`, `epoch`, `loss`, `lr`,
`tokens_per_s`, `trained_tokens_per_s`, `elapsed_s`) and validation rows (`step`, `valid_loss`).
A resumed run appends to it, dropping rows past the checkpoint it resumed from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

METRICS = "metrics.jsonl"
LOSS_PNG = "loss.png"
CARD = "README.md"


def append_metric(run_dir: Path, row: dict[str, Any]) -> None:
    with (run_dir / METRICS).open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / METRICS
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text("utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a crash
    return rows


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Keep the rows up to `step`: a resumed run redoes the steps after its checkpoint."""
    rows = [r for r in read_metrics(run_dir) if r.get("step", 0) <= step]
    (run_dir / METRICS).write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")


def plot_losses(run_dir: Path) -> Path | None:
    """The training and validation loss against the step, as a PNG (None without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = read_metrics(run_dir)
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    valid = [(r["step"], r["valid_loss"]) for r in rows if "valid_loss" in r]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        ax.plot(*zip(*train, strict=True), label="training loss", linewidth=1)
    if valid:
        ax.plot(*zip(*valid, strict=True), "o-", label="validation loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (assistant tokens)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    target = run_dir / LOSS_PNG
    fig.savefig(target)
    plt.close(fig)
    return target


def final_losses(run_dir: Path) -> dict[str, float | None]:
    rows = read_metrics(run_dir)
    train = [r["loss"] for r in rows if "loss" in r]
    valid = [r["valid_loss"] for r in rows if "valid_loss" in r]
    return {
        "train_loss": train[-1] if train else None,
        "valid_loss_start": valid[0] if valid else None,
        "valid_loss": valid[-1] if valid else None,
    }


def write_card(run_dir: Path, config: dict[str, Any]) -> Path:
    """A model card: what was fine-tuned on what, how, and how well."""
    losses = final_losses(run_dir)
    hp = config["hyperparameters"]
    lines = [
        f"# {config['run']}: a chatclone LoRA adapter",
        "",
        f"A LoRA adapter that makes **{config['base']}** text like {config['me'] or 'the person'}, "
        "made with chatclone from their own chat history.",
        "",
        "**Private:** it was trained on personal messages; do not publish it.",
        "",
        "| | |",
        "|---|---|",
        f"| base model | `{config['base']}` (loaded from `{config['base_path']}`) |",
        f"| dataset | `{config['dataset']}`, sha256 `{config['dataset_sha256']}` |",
        f"| samples | {config['samples']['train']} train, {config['samples']['valid']} valid |",
        f"| steps | {config['steps']} optimizer steps ({config['epochs_done']:.2f} epochs) |",
        f"| device | {config['hardware']['device']}, {config['hardware']['precision']} |",
        f"| final training loss | {losses['train_loss']} |",
        f"| validation loss | {losses['valid_loss_start']} before → {losses['valid_loss']} after |",
        "",
        "## Hyperparameters",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in hp.items()],
        "",
        "## Use",
        "",
        f"`chatclone chat --run {config['run']}` talks to it; `chatclone export --merged --run "
        f"{config['run']}` writes a full model folder for transformers or vLLM.",
        "",
    ]
    path = run_dir / CARD
    path.write_text("\n".join(lines), "utf-8")
    return path
