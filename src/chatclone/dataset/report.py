"""`report.json`: what `chatclone build` wrote and how, the one contract later stages read.

`build` writes a `BuildReport`; `train`, `chat`, the renderer (and later memory, eval and the
server) load it with `BuildReport.load(dataset_dir)` and read its fields, never raw JSON keys. The
JSON form (`to_json`, also what `build --json` prints) keeps the documented keys: `samples`,
`sessions`, `turns`, `tokens`, `drops`, `pii`, `path`, `cost`, `lengths`, `validation`,
`settings`, …

`sessions` counts every conversation read that still has a turn once messages and turns are
filtered, and `turns` those conversations' turns; sessions dropped whole afterwards are in both
and each is counted once in `drops` (`own_messages_only_session`, `no_reply_session`), so
`sessions_kept` (the ones at least one sample came from) plus the dropped ones never exceed
`sessions`, and `sources` adds up to `sessions`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from chatclone.config import DatasetSettings, MemorySettings
from chatclone.errors import ChatcloneError
from chatclone.prompt import DEFAULT_SOURCE, Identity

REPORT_FILE = "report.json"
TRAIN_FILE = "train.jsonl"
VALID_FILE = "valid.jsonl"
VALID_META_FILE = "valid.meta.jsonl"  # each held-out sample's chat and conversation start


@dataclass
class TokenTotals:
    """Tokens per split, counted with `counter` (`exact` False: an approximation, `note` says
    why)."""

    train: int = 0
    valid: int = 0
    counter: str = ""
    exact: bool = True
    note: str = ""


@dataclass
class BuildReport:
    name: str
    path: str
    created: str
    samples: dict[str, int]  # {"train": n, "valid": n}
    sessions: int  # read, including those dropped whole (see the module's docstring)
    sessions_kept: int  # at least one sample came from it
    turns: int  # of the `sessions`
    tokens: TokenTotals
    drops: dict[str, int]  # reason → count
    pii: dict[str, int]  # type → replacements made
    lengths: dict[str, list[dict[str, int]]]  # "tokens", "turns" → bins {"from", "to", "count"}
    validation: dict[str, list[str]]  # format → problems
    cost: dict[str, Any]  # the OpenAI cost estimate (`CostEstimate` as JSON)
    me: str
    persona: str  # exactly as the system prompts have it (pseudonymised if the dataset was)
    sources: dict[str, int]  # messenger → sessions, most first
    settings: DatasetSettings
    files: list[str] = field(default_factory=list)
    # Grounded training (`dataset.grounding`): whether prompts carry memory blocks, the [memory]
    # settings they were built with, and the counts of what grounding did.
    memory: dict[str, Any] = field(default_factory=lambda: {"enabled": False})

    @property
    def memory_settings(self) -> MemorySettings | None:
        """The [memory] settings the training prompts were built with; None: no memory."""
        if not self.memory.get("enabled"):
            return None
        known = {f.name for f in fields(MemorySettings)}
        given = self.memory.get("settings") or {}
        return MemorySettings(**{k: v for k, v in given.items() if k in known})

    @property
    def identity(self) -> Identity:
        """Whom the dataset clones, on the messenger most of it comes from, with its persona."""
        source = max(self.sources, key=self.sources.__getitem__) if self.sources else DEFAULT_SOURCE
        return Identity(self.me, source, self.persona)

    @property
    def context_tokens(self) -> int:
        """The longest sample the model was trained on: a chat keeps this much history."""
        return self.settings.max_context_tokens

    @property
    def model(self) -> str:
        """The model whose tokenizer measured the samples."""
        return self.settings.model

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, folder: Path) -> None:
        text = json.dumps(self.to_json(), ensure_ascii=False, indent=2)
        (folder / REPORT_FILE).write_text(text, "utf-8")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BuildReport:
        """A report as written by any version so far: missing keys take their empty values."""
        known = {f.name for f in fields(DatasetSettings)}
        settings = {k: v for k, v in (data.get("settings") or {}).items() if k in known}
        settings.setdefault("memory", False)  # written before memory existed: built without
        tokens = {f.name for f in fields(TokenTotals)}
        return cls(
            name=str(data.get("name") or ""),
            path=str(data.get("path") or ""),
            created=str(data.get("created") or ""),
            samples=dict(data.get("samples") or {"train": 0, "valid": 0}),
            sessions=int(data.get("sessions") or 0),
            sessions_kept=int(data.get("sessions_kept") or 0),
            turns=int(data.get("turns") or 0),
            tokens=TokenTotals(
                **{k: v for k, v in (data.get("tokens") or {}).items() if k in tokens}
            ),
            drops=dict(data.get("drops") or {}),
            pii=dict(data.get("pii") or {}),
            lengths=dict(data.get("lengths") or {"tokens": [], "turns": []}),
            validation=dict(data.get("validation") or {"openai": []}),
            cost=dict(data.get("cost") or {}),
            me=str(data.get("me") or ""),
            persona=str(data.get("persona") or ""),
            sources={str(k): int(v) for k, v in (data.get("sources") or {}).items()},
            settings=DatasetSettings(**settings),
            files=list(data.get("files") or []),
            memory=dict(data.get("memory") or {"enabled": False}),
        )

    @classmethod
    def load(cls, dataset_dir: Path) -> BuildReport:
        """The report of `datasets/NAME/`; a clear error when it is missing or damaged."""
        path = dataset_dir / REPORT_FILE
        try:
            data = json.loads(path.read_text("utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return cls.from_json(data)
        except FileNotFoundError:
            raise ChatcloneError(
                f"{path} is missing: rebuild the dataset with `chatclone build`"
            ) from None
        except (OSError, ValueError, TypeError, AttributeError) as e:
            raise ChatcloneError(f"{path}: damaged build report ({e})") from None
