"""Shared test helpers: run the CLI in-process, build small exports, snapshot a store."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatclone.cli import main
from chatclone.demo import sample_exports

SAMPLE = {p.name: p for p in sample_exports()}
FAMILY = SAMPLE["WhatsApp Chat with Family.txt"]
JORDAN = SAMPLE["WhatsApp Chat with Jordan.txt"]
CREW = SAMPLE["WhatsApp Chat - Weekend Crew.zip"]


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli(*args: str | Path) -> Run:
    """Run `chatclone ARGS…` in this process and capture what it prints and its exit code."""
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["chatclone", *map(str, args)]
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = argv
    return Run(code, out.getvalue(), err.getvalue())


def build_sample(ws: Path, persona: bool = False) -> Path:
    """Ingest the bundled sample into `ws` and build the dataset `datasets/sample` (no embedding
    filter, for speed); `persona` first gives the workspace Sam's persona.md, as the demo does."""
    from chatclone.demo import prepare_demo

    assert cli("ingest", *SAMPLE.values(), "-w", ws).code == 0
    if persona:
        prepare_demo(ws)
    run = cli(
        "build", "-w", ws, "--json", "--no-low-info-filter", "--no-memory", "--name", "sample"
    )
    assert run.code == 0, run.err
    return ws


def android_export(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def snapshot(db: Path) -> list[tuple[Any, ...]]:
    """Every row of every table, for 'the store is exactly as it was' checks."""
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = []
        for t in sorted(tables):
            rows += [(t, *r) for r in con.execute(f"SELECT * FROM {t} ORDER BY 1")]
        return rows
    finally:
        con.close()


def forks(monkeypatch: Any) -> list[int]:
    """The pids of the children this process forks from now on (`os.fork` spied on through
    pytest's `monkeypatch`; other tests' processes, such as a browser, may be its children too)."""
    children: list[int] = []
    real = os.fork

    def fork() -> int:
        pid = real()
        if pid:
            children.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return children
