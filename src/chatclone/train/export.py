"""`chatclone export --merged`: a local run's LoRA adapter merged into its base model's weights.

The result is an ordinary transformers model folder (config.json, model.safetensors, the
tokenizer and its chat template) that `AutoModelForCausalLM.from_pretrained` and vLLM load with
no peft installed. It is written to a temporary folder and renamed, so it is whole or absent.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from chatclone import models
from chatclone.errors import ChatcloneError
from chatclone.train import runs
from chatclone.workspace import Workspace


def export_merged(ws: Workspace, run: str | None, out: Path | None) -> dict[str, Any]:
    run_dir, record = runs.find_run(ws, run)
    if record.backend != "local":
        raise ChatcloneError(
            f"run '{record.name}' was trained by OpenAI: its model ({record.model or 'none yet'}) "
            "lives on OpenAI's side and cannot be exported"
        )
    if not runs.is_usable(run_dir, record):
        raise ChatcloneError(
            f"run '{record.name}' has no finished adapter yet; finish it with "
            f"`chatclone train --resume {record.name}`"
        )
    target = (out or run_dir / "merged").expanduser()
    if target.exists() and any(target.iterdir()):
        raise ChatcloneError(f"{target} already exists and is not empty; choose another --out")
    merged = _merge(run_dir, record)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        merged.save_pretrained(str(tmp))
        runs.load_run_tokenizer(run_dir, record.base).save_pretrained(str(tmp))
        if target.exists():
            target.rmdir()
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    return {
        "run": record.name,
        "base": record.base,
        "path": str(target),
        "size_mb": round(size / 2**20, 1),
    }


def _merge(run_dir: Path, record: runs.RunRecord) -> Any:
    """The base in the precision it was trained in (a QLoRA run's base unquantized, in bf16),
    with the adapter's low-rank updates added into its weights."""
    import torch

    dtype = torch.bfloat16 if _precision(run_dir) == "bfloat16" else torch.float32
    model = runs.load_adapter_model(run_dir, record.base, dtype)
    with models.quiet_loading():
        return model.merge_and_unload()


def _precision(run_dir: Path) -> str:
    try:
        config = json.loads((run_dir / "config.json").read_text("utf-8"))
        return str(config["hardware"]["precision"])
    except (OSError, ValueError, KeyError, TypeError):
        return "float32"
