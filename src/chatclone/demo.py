"""The bundled demo sample: three synthetic WhatsApp chats of "Sam Rivera" (see data/sample/FACTS.md).

`chatclone demo` (and `make demo`) ingests it into a workspace and shows what was stored.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def sample_dir() -> Path:
    """The folder holding the sample exports (inside the installed package)."""
    path = Path(str(resources.files("chatclone") / "data" / "sample"))
    if not path.is_dir():
        raise FileNotFoundError(f"the bundled sample is missing from {path}")
    return path


def sample_exports() -> list[Path]:
    return sorted(p for p in sample_dir().iterdir() if p.suffix in (".txt", ".zip"))


def prepare_demo(root: Path) -> None:
    """Give the demo workspace Sam's persona (unless the user already edited one there)."""
    from chatclone.dataset.persona import PERSONA_FILE

    target = root / PERSONA_FILE
    if not target.exists():
        target.write_text((sample_dir() / PERSONA_FILE).read_text("utf-8"), "utf-8")
