"""The bundled demo sample: three synthetic WhatsApp chats of "Sam Rivera" (see data/sample/FACTS.md).

`chatclone demo` (and `make demo`) ingests it into a workspace and shows what was stored.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE_PACKAGE = "chatclone.data.sample"


def sample_dir() -> Path:
    """The folder holding the sample exports (inside the installed package)."""
    path = Path(str(resources.files("chatclone") / "data" / "sample"))
    if not path.is_dir():
        raise FileNotFoundError(f"the bundled sample is missing from {path}")
    return path


def sample_exports() -> list[Path]:
    return sorted(p for p in sample_dir().iterdir() if p.suffix in (".txt", ".zip"))
