"""The export formats by name: `chatclone export --format NAME` picks one here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chatclone.errors import ChatcloneError
from chatclone.export.gguf_export import export_gguf
from chatclone.export.ollama import export_ollama
from chatclone.export.options import OUTTYPES, ExportOptions
from chatclone.export.vllm import export_vllm
from chatclone.train.export import export_merged
from chatclone.workspace import Workspace

Exporter = Callable[[Workspace, ExportOptions], dict[str, Any]]


def _merged(ws: Workspace, options: ExportOptions) -> dict[str, Any]:
    return export_merged(ws, options.run, options.out)


FORMATS: dict[str, Exporter] = {
    "merged": _merged,
    "ollama": export_ollama,
    "gguf": export_gguf,
    "vllm": export_vllm,
}


def run_export(ws: Workspace, options: ExportOptions) -> dict[str, Any]:
    exporter = FORMATS.get(options.format)
    if exporter is None:
        raise ChatcloneError(f"--format {options.format}: choose one of {', '.join(FORMATS)}")
    if options.outtype not in OUTTYPES:
        raise ChatcloneError(f"--outtype {options.outtype}: choose one of {', '.join(OUTTYPES)}")
    return exporter(ws, options)
