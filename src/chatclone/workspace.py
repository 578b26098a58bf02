"""A workspace is one directory holding one clone: `chatclone.toml` and `chatclone.db`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from chatclone.config import Settings, load_settings, render_settings, save_settings
from chatclone.errors import WorkspaceError
from chatclone.store import Store

SETTINGS_FILE = "chatclone.toml"
STORE_FILE = "chatclone.db"
DATASETS_DIR = "datasets"
ENV_VAR = "CHATCLONE_WORKSPACE"


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
