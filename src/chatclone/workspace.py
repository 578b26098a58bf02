"""A workspace is one directory holding one clone. Every on-disk path of a clone is named here:

```
chatclone.toml            settings, with a comment on every field (`config.py`)
chatclone.db              the SQLite store of every message (`store.py`)
persona.md                facts and backstory for the system prompt (`prompt.py`)
privacy/mapping.json      original → pseudonym; never copied into a dataset (`privacy/`)
datasets/NAME/            what `chatclone build` writes: train/valid.jsonl, report.json (`dataset/`)
runs/NAME/                what `chatclone train` writes: run.json, adapter/, … (`train/runs.py`)
evals/NAME/               what `chatclone eval` writes
memory/                   the memory index and fact sheet
```
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from chatclone.config import Settings, load_settings, render_settings, save_settings
from chatclone.errors import WorkspaceError
from chatclone.store import Store

SETTINGS_FILE = "chatclone.toml"
STORE_FILE = "chatclone.db"
PERSONA_FILE = "persona.md"
PRIVACY_MAPPING = "privacy/mapping.json"
DATASETS_DIR = "datasets"
RUNS_DIR = "runs"
EVALS_DIR = "evals"
MEMORY_DIR = "memory"
ENV_VAR = "CHATCLONE_WORKSPACE"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_name(name: str, what: str) -> str:
    """A dataset, run or eval name: one folder name under the workspace, never a path."""
    if not _NAME.match(name):
        raise WorkspaceError(
            f"'{name}' is not a usable {what} name: use letters, digits, '.', '_' and '-' "
            "(at most 100, starting with a letter or digit)"
        )
    return name


@dataclass
class Workspace:
    root: Path

    @classmethod
    def resolve(cls, given: Path | None) -> Workspace:
        """`--workspace`, else `$CHATCLONE_WORKSPACE`, else the current directory."""
        if given is None and os.environ.get(ENV_VAR):
            given = Path(os.environ[ENV_VAR])
        return cls((given or Path.cwd()).expanduser())

    @property
    def settings_path(self) -> Path:
        return self.root / SETTINGS_FILE

    @property
    def store_path(self) -> Path:
        return self.root / STORE_FILE

    @property
    def datasets_dir(self) -> Path:
        """Where `chatclone build` writes datasets/NAME/ and `chatclone train` reads them."""
        return self.root / DATASETS_DIR

    @property
    def runs_dir(self) -> Path:
        """Where `chatclone train` writes runs/NAME/ and chat and export read them."""
        return self.root / RUNS_DIR

    @property
    def persona_path(self) -> Path:
        return self.root / PERSONA_FILE

    @property
    def privacy_mapping_path(self) -> Path:
        """The pseudonymisation key: the very data that was removed, so it stays here."""
        return self.root / PRIVACY_MAPPING

    @property
    def evals_dir(self) -> Path:
        return self.root / EVALS_DIR

    @property
    def memory_dir(self) -> Path:
        return self.root / MEMORY_DIR

    def exists(self) -> bool:
        return self.store_path.exists()

    def settings(self) -> Settings:
        return load_settings(self.settings_path)

    def save(self, settings: Settings) -> None:
        save_settings(self.settings_path, settings)

    def create(self) -> None:
        """Make the directory and a commented settings file if they are missing."""
        if self.root.exists() and not self.root.is_dir():
            raise WorkspaceError(f"{self.root}: exists and is not a directory")
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.settings_path.exists():
            self.settings_path.write_text(render_settings(Settings()), "utf-8")

    def open_store(self) -> Store:
        """The existing store; a clear error if there is none yet."""
        if not self.exists():
            raise WorkspaceError(
                f"no chatclone store in {self.root} (no {STORE_FILE}); run "
                "`chatclone ingest EXPORT` first, or pass --workspace DIR"
            )
        return Store(self.store_path)
