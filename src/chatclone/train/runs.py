"""Run folders: `runs/NAME/` in the workspace, one per `chatclone train`, whatever the backend.

Every run folder has `run.json`, the record that `chatclone chat` and `chatclone export` read:

- `name`, `backend` ("local" or "openai"), `created` (ISO time), `status`: "running",
  "interrupted", "failed", "finished" (local) or, for OpenAI, "uploading" until the job exists
  ("interrupted" or "failed" if it never does), then the job's status ("validating_files",
  "queued", "running", "succeeded", "failed", "cancelled");
- `base`: the base model as given ("default", a Hugging Face id or folder, an OpenAI model name);
- `dataset`, `dataset_sha256`: which dataset it was trained on (name under `datasets/`, and a
  hash of its train.jsonl + valid.jsonl);
- `model`: what to chat with: for an OpenAI run the fine-tuned model id once the job succeeded
  (`ft:…`), for a local run `null` (the adapter is in `adapter/` beside run.json);
- `me`, `source`, `persona`: whom the clone plays, on which messenger, and the persona text exactly
  as the dataset's system prompts have it (pseudonymised if the dataset was): a chat rebuilds the
  training system prompt from them (`RunRecord.identity`) with `chatclone.prompt.PromptBuilder`;
- `context_tokens`: the dataset's `max_context_tokens`, the history a chat keeps (absent in runs
  recorded before it was kept: the dataset's report, else 1024);
- `extra`: backend-specific details (OpenAI: `job_id`, `training_file`, `validation_file`,
  `suffix`, `epochs`, `cost_usd`, `trained_tokens`, `error`; `started_elsewhere` for a job first
  recorded by `--follow`). An OpenAI run also keeps `events.jsonl`: the job's events, oldest first.

A local run also holds `adapter/`, `tokenizer/`, `config.json` (the resolved settings),
`metrics.jsonl`, `loss.png`, `README.md` (model card) and `checkpoints/`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from chatclone import models, workspace
from chatclone.dataset.report import REPORT_FILE, TRAIN_FILE, VALID_FILE, BuildReport
from chatclone.errors import ChatcloneError
from chatclone.prompt import DEFAULT_SOURCE, Identity
from chatclone.workspace import Workspace

RECORD = "run.json"
ADAPTER_DIR = "adapter"
TOKENIZER_DIR = "tokenizer"


@dataclass
class RunRecord:
    name: str
    backend: str
    base: str
    dataset: str
    dataset_sha256: str
    me: str
    source: str
    persona: str = ""
    status: str = "running"
    context_tokens: int | None = None
    created: str = field(default_factory=lambda: datetime.now().isoformat(timespec="seconds"))
    model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The dataset's memory: {"enabled", "settings"} ([memory] as its prompts were built), so a
    # chat builds every turn's memory block the way the training prompts had it.
    memory: dict[str, Any] = field(default_factory=dict)

    @property
    def identity(self) -> Identity:
        return Identity(self.me, self.source or DEFAULT_SOURCE, self.persona)


def check_name(name: str, what: str = "run") -> str:
    return workspace.check_name(name, what)


def new_run_name(ws: Workspace) -> str:
    """A timestamp; a suffix keeps two runs started in the same second apart."""
    base = datetime.now().strftime("%Y%m%d-%H%M%S")
    name, n = base, 1
    while (ws.runs_dir / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def save_record(run_dir: Path, record: RunRecord) -> None:
    """Write run.json through a temporary file and a rename, so it is never half-written."""
    tmp = run_dir / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(asdict(record), ensure_ascii=False, indent=2) + "\n", "utf-8")
    os.replace(tmp, run_dir / RECORD)


def load_record(run_dir: Path) -> RunRecord:
    path = run_dir / RECORD
    try:
        data = json.loads(path.read_text("utf-8"))
        return RunRecord(**data)
    except FileNotFoundError:
        raise ChatcloneError(f"{run_dir} is not a chatclone run (no {RECORD})") from None
    except (ValueError, TypeError) as e:
        raise ChatcloneError(f"{path}: damaged run record ({e})") from None


def list_runs(ws: Workspace) -> list[tuple[Path, RunRecord]]:
    """Every run in the workspace, oldest first."""
    root = ws.runs_dir
    if not root.is_dir():
        return []
    runs = [(d, load_record(d)) for d in root.iterdir() if (d / RECORD).is_file()]
    return sorted(runs, key=lambda r: (r[1].created, r[1].name))


def is_usable(run_dir: Path, record: RunRecord) -> bool:
    """Whether there is something to chat with: an adapter, or a fine-tuned OpenAI model id."""
    if record.backend == "openai":
        return bool(record.model)
    return (run_dir / ADAPTER_DIR / "adapter_config.json").is_file()


def find_run(ws: Workspace, name: str | None) -> tuple[Path, RunRecord]:
    """The named run, else the latest *local* run that has a model to chat with: an OpenAI run
    is used only when named, so nothing is sent to OpenAI unless the user asks for it."""
    if name:
        run_dir = ws.runs_dir / check_name(name)
        if not run_dir.is_dir():
            known = ", ".join(r.name for _, r in list_runs(ws)) or "none yet"
            raise ChatcloneError(f"no run '{name}' in {ws.runs_dir} (runs: {known})")
        return run_dir, load_record(run_dir)
    found = list_runs(ws)
    usable = [(d, r) for d, r in found if r.backend == "local" and is_usable(d, r)]
    if not usable:
        remote = [r.name for d, r in found if r.backend != "local" and is_usable(d, r)]
        hint = f" (OpenAI runs, used only by name: --run {remote[-1]})" if remote else ""
        raise ChatcloneError(
            f"no locally trained model in {ws.root} yet: run `chatclone train` first{hint}"
        )
    return usable[-1]


def find_dataset(ws: Workspace, name: str | None) -> Path:
    """`datasets/NAME/`, else the most recently built dataset."""
    root = ws.datasets_dir
    if name:
        path = root / check_name(name, "dataset")
        if not (path / TRAIN_FILE).is_file():
            raise ChatcloneError(
                f"no dataset '{name}' in {root} (run `chatclone build --name {name}`)"
            )
        return path
    built = [d for d in root.iterdir() if (d / TRAIN_FILE).is_file()] if root.is_dir() else []
    if not built:
        raise ChatcloneError(f"no dataset in {ws.root} yet: run `chatclone build` first")
    return max(built, key=lambda d: ((d / TRAIN_FILE).stat().st_mtime, d.name))


def load_adapter_model(run_dir: Path, base: str, dtype: Any) -> Any:
    """A local run's model: its base in `dtype` with the run's LoRA adapter on top (peft)."""
    from peft import PeftModel

    with models.quiet_loading():
        model = models.load_causal_lm(base, dtype=dtype)
        return PeftModel.from_pretrained(model, str(run_dir / ADAPTER_DIR))


def run_tokenizer_dir(run_dir: Path, base: str) -> Path | None:
    """The folder `load_run_tokenizer` reads: the run's saved tokenizer, else the base's folder
    (`models.tokenizer_dir`); None for a Hugging Face id or a default not yet converted."""
    saved = _saved_tokenizer_dir(run_dir)
    return saved if saved is not None else models.tokenizer_dir(base)


def load_run_tokenizer(run_dir: Path, base: str) -> Any:
    """The tokenizer saved with the run (its chat template is the one trained on), else the base's."""
    saved = _saved_tokenizer_dir(run_dir)
    if saved is not None:
        return models.load_tokenizer(str(saved), reuse=False)
    return models.load_tokenizer(base)


def _saved_tokenizer_dir(run_dir: Path) -> Path | None:
    saved = run_dir / TOKENIZER_DIR
    return saved if (saved / "tokenizer_config.json").is_file() else None


def dataset_sha256(dataset_dir: Path) -> str:
    """One hash over train.jsonl and valid.jsonl: the model card names exactly what was learnt."""
    digest = hashlib.sha256()
    for part in (TRAIN_FILE, VALID_FILE):
        path = dataset_dir / part
        digest.update(part.encode() + b"\0")
        if path.is_file():
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def dataset_report(dataset_dir: Path) -> BuildReport | None:
    """The dataset's report.json, or None for a dataset built without one."""
    if not (dataset_dir / REPORT_FILE).is_file():
        return None
    return BuildReport.load(dataset_dir)


def new_record(name: str, backend: str, base: str, dataset_dir: Path, **more: Any) -> RunRecord:
    """A run's first record: what it trains on, whom it clones and the history a chat keeps,
    from the dataset's report."""
    report = dataset_report(dataset_dir)
    identity = report.identity if report else Identity("")
    return RunRecord(
        name=name,
        backend=backend,
        base=base,
        dataset=dataset_dir.name,
        dataset_sha256=dataset_sha256(dataset_dir),
        me=identity.me,
        source=identity.source,
        persona=identity.persona,
        context_tokens=report.context_tokens if report else None,
        memory=_memory_record(report),
        **more,
    )


def _memory_record(report: BuildReport | None) -> dict[str, Any]:
    if report is None or not report.memory.get("enabled"):
        return {"enabled": False}
    return {"enabled": True, "settings": report.memory.get("settings", {})}
