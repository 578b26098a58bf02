"""`chatclone export --merged`: a local run's LoRA adapter merged into its base model's weights,
and the pieces every export format shares (which runs can be exported, merging, writing a folder
whole or not at all).

The merged result is an ordinary transformers model folder (config.json, model.safetensors, the
tokenizer and its chat template) that `AutoModelForCausalLM.from_pretrained` and vLLM load with
no peft installed. Every export is written to a temporary folder beside its target and renamed,
so it is whole or absent.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chatclone import models
from chatclone.errors import ChatcloneError
from chatclone.train import runs
from chatclone.workspace import Workspace


def local_run(ws: Workspace, run: str | None) -> tuple[Path, runs.RunRecord]:
    """The run to export: a local run with a finished adapter (an OpenAI model cannot leave
    OpenAI)."""
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
    return run_dir, record


def free_target(target: Path) -> Path:
    """`target`, expanded and made absolute (the commands an export writes must work from any
    folder), after checking that nothing would be overwritten."""
    target = Path(os.path.abspath(target.expanduser()))
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ChatcloneError(f"{target} already exists and is not empty; choose another --out")
    return target


@contextmanager
def written_atomically(target: Path) -> Iterator[Path]:
    """A temporary folder beside `target` to write into; renamed to `target` when the block ends
    without an error, removed otherwise."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp's folder is private; an export is for sharing
        if target.exists():
            target.rmdir()
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def folder_size_mb(folder: Path) -> float:
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return round(size / 2**20, 1)


def export_merged(ws: Workspace, run: str | None, out: Path | None) -> dict[str, Any]:
    run_dir, record = local_run(ws, run)
    target = free_target(out or run_dir / "merged")
    merged = merge(run_dir, record)
    with written_atomically(target) as tmp:
        save_merged(merged, run_dir, record, tmp)
    return {
        "format": "merged",
        "run": record.name,
        "base": record.base,
        "path": str(target),
        "size_mb": folder_size_mb(target),
    }


def save_merged(merged: Any, run_dir: Path, record: runs.RunRecord, folder: Path) -> None:
    """The merged model and the run's tokenizer (with the chat template it was trained on)."""
    merged.save_pretrained(str(folder))
    runs.load_run_tokenizer(run_dir, record.base).save_pretrained(str(folder))


def merge(run_dir: Path, record: runs.RunRecord) -> Any:
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
