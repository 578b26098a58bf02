"""What every command line shares: the `--workspace` and `--json` options and the JSON printer,
for `cli.py` and the sub-apps it registers (`memory/facts_cli.py`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from chatclone.workspace import ENV_VAR

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help=f"The clone's folder (chatclone.toml, chatclone.db). Default: ${ENV_VAR}, "
        "else the current directory.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]


def emit_json(data: Any) -> None:
    """`--json` output: plain JSON on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
