"""Settings: one set of dataclasses is the settings file, the CLI's defaults and the docs.

Each field carries its help text in `metadata["help"]`; `chatclone.toml` is written from them with
the help as comments, and read back with unknown keys rejected so that a typo never passes silently.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import tomli_w

from chatclone.errors import WorkspaceError


def _help(text: str, **kw: Any) -> Any:
    return field(metadata={"help": text}, **kw)


@dataclass
class MeSettings:
    """Who is being cloned."""

    name: str | None = _help(
        "The person being cloned, as their name appears in the chats. Unset: inferred (the owner "
        "of a Telegram account export, else the sender present in the most chats).",
        default=None,
    )
    aliases: list[str] = _help(
        "Other names the same person appears under (another phone's contact name, a nickname).",
        default_factory=list,
    )


@dataclass
class Settings:
    """Everything in `chatclone.toml`."""

    me: MeSettings = field(default_factory=MeSettings)


def load_settings(path: Path) -> Settings:
    if not path.exists():
        return Settings()
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise WorkspaceError(f"{path}: not valid TOML ({e})") from None
    settings: Settings = _from_dict(Settings, data, str(path))
    return settings


def save_settings(path: Path, settings: Settings) -> None:
    path.write_text(render_settings(settings), "utf-8")


def render_settings(settings: Settings) -> str:
    """TOML with every field's help as a comment; unset fields are shown commented out."""
    out = ["# chatclone settings for this workspace. `chatclone --help` explains each command.", ""]
    for section in fields(settings):
        value = getattr(settings, section.name)
        out.append(f"[{section.name}]")
        for f in fields(value):
            out.append(f"# {f.metadata['help']}")
            v = getattr(value, f.name)
            line = tomli_w.dumps({f.name: v}).strip() if v is not None else f"# {f.name} = "
            out.append(line)
        out.append("")
    return "\n".join(out)


def _from_dict(cls: Any, data: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    for key in data:
        if key not in known:
            raise WorkspaceError(f"{where}: unknown setting '{key}' (known: {', '.join(known)})")
    kwargs = {}
    for name, f in known.items():
        if name not in data:
            continue
        value = data[name]
        sub = f.default_factory() if callable(f.default_factory) else None
        if sub is not None and is_dataclass(sub):
            if not isinstance(value, dict):
                raise WorkspaceError(f"{where}: [{name}] must be a table")
            value = _from_dict(type(sub), value, f"{where} [{name}]")
        kwargs[name] = value
    return cls(**kwargs)
