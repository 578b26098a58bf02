"""`chatclone train --backend local`: LoRA fine-tuning with transformers + peft, on CPU or GPU.

This module starts or reopens the run folder (described in `runs.py`), once, on the first process
when several GPUs train together, and hands it to the training loop in `trainer.py`.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chatclone.config import TrainSettings
from chatclone.errors import ChatcloneError
from chatclone.train import guard, hardware, runs
from chatclone.train.base import TrainRequest
from chatclone.train.trainer import CONFIG, Trainer
from chatclone.workspace import Workspace


class LocalBackend:
    def train(self, ws: Workspace, request: TrainRequest) -> dict[str, Any]:
        if request.follow or request.cancel or request.dry_run:
            raise ChatcloneError(
                "--follow, --cancel and --dry-run are for OpenAI jobs: add --backend openai"
            )
        hw = hardware.detect(request.settings)
        opened = None
        if hw.main:  # the others wait for its name: one run folder, created once
            opened = _reopen(ws, request.resume) if request.resume else _create(ws, request)
        name = hardware.share(hw, opened[1].name if opened else None)
        if opened is None:
            opened = _reopen(ws, name, fresh=not request.resume)
        run_dir, record, settings = opened
        hardware.check_settings(hw, settings)
        dataset_dir = ws.datasets_dir / record.dataset
        trainer = Trainer(
            run_dir, record, settings, dataset_dir, hw, request.display, request.notify
        )
        with guard.run_lock(run_dir) if hw.main else contextlib.nullcontext():
            return trainer.run()


def _create(ws: Workspace, request: TrainRequest) -> tuple[Path, runs.RunRecord, TrainSettings]:
    settings = request.settings
    settings.check()
    dataset_dir = runs.find_dataset(ws, request.dataset)
    name = runs.check_name(request.name) if request.name is not None else runs.new_run_name(ws)
    run_dir = ws.runs_dir / name
    if run_dir.exists():
        raise ChatcloneError(f"{run_dir} already exists; choose another --name or --resume {name}")
    record = runs.new_record(name, "local", settings.base, dataset_dir)
    run_dir.mkdir(parents=True)
    runs.save_record(run_dir, record)
    config = {"run": name, "settings": asdict(settings), "dataset_path": str(dataset_dir)}
    (run_dir / CONFIG).write_text(json.dumps(config, indent=2) + "\n", "utf-8")
    return run_dir, record, settings


def _reopen(
    ws: Workspace, name: str, fresh: bool = False
) -> tuple[Path, runs.RunRecord, TrainSettings]:
    """A run to continue (`fresh`: one the first process has just created, for the others)."""
    run_dir, record = runs.find_run(ws, name)
    if record.backend != "local":
        raise ChatcloneError(f"run '{name}' is an OpenAI run: use --backend openai --follow JOB_ID")
    if record.status == "finished" and not fresh:
        raise ChatcloneError(f"run '{name}' has already finished; start a new run to train more")
    try:
        config = json.loads((run_dir / CONFIG).read_text("utf-8"))
        settings = TrainSettings(**config["settings"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ChatcloneError(f"{run_dir / CONFIG}: cannot read the run's settings ({e})") from None
    return run_dir, record, settings
