"""Checkpoints of a local run: `runs/NAME/checkpoints/step-000040/`, enough to continue exactly.

A checkpoint holds the adapter weights (`adapter/`, peft's own format), the optimizer and
learning-rate schedule (`trainer.pt`) and the random state, and `state.json` (the step reached).
It is written into a temporary folder and renamed, so a crash while saving leaves the previous
checkpoint as the latest; only the newest `keep` are kept.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chatclone.errors import ChatcloneError

CHECKPOINTS_DIR = "checkpoints"
PREFIX = "step-"


@dataclass
class Progress:
    """Where a run stands: optimizer steps done, micro-batches consumed, tokens seen."""

    step: int = 0
    micro_batches: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    seconds: float = 0.0


def save(
    run_dir: Path, model: Any, optimizer: Any, scheduler: Any, progress: Progress, keep: int
) -> Path:
    import torch

    root = run_dir / CHECKPOINTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"{PREFIX}{progress.step:06d}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        model.save_pretrained(str(tmp / "adapter"))
        torch.save(
            {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            },
            tmp / "trainer.pt",
        )
        (tmp / "state.json").write_text(json.dumps(asdict(progress), indent=2) + "\n", "utf-8")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in all_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return target


def all_checkpoints(run_dir: Path) -> list[Path]:
    root = run_dir / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    found = [
        p for p in root.iterdir() if p.name.startswith(PREFIX) and (p / "state.json").is_file()
    ]
    return sorted(found, key=lambda p: p.name)


def latest(run_dir: Path) -> Path | None:
    found = all_checkpoints(run_dir)
    return found[-1] if found else None


def load(checkpoint: Path, model: Any, optimizer: Any, scheduler: Any) -> Progress:
    """Put the adapter, optimizer, schedule and random state back; the progress to continue from."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    try:
        progress = Progress(**json.loads((checkpoint / "state.json").read_text("utf-8")))
        weights = load_file(str(checkpoint / "adapter" / "adapter_model.safetensors"))
        saved = torch.load(checkpoint / "trainer.pt", map_location="cpu", weights_only=False)
    except (OSError, ValueError, TypeError, RuntimeError) as e:
        raise ChatcloneError(
            f"{checkpoint}: damaged checkpoint ({e}); delete it to resume from the one before"
        ) from None
    set_peft_model_state_dict(model, weights)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["rng"])
    if saved.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["cuda_rng"])
    return progress
