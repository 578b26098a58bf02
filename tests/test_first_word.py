"""What `chat --once` does before its first word: only what that path needs is imported (no torch
for `--help`, no peft once the merged model is cached, no sentence-transformers for memory), and
`CHATCLONE_TIMINGS=1` reports the steps (`chat/timings.py`, read by benchmarks/first_word.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatclone.chat import merged, timings
from chatclone.chat.local import LocalGenerator
from test_chat import make_run
from tiny import tiny_model_dir

HEAVY = ("torch", "transformers", "peft", "sentence_transformers", "sklearn", "numpy")
SRC = str(Path(__file__).resolve().parent.parent / "src")


def imported_after(code: str, env: dict[str, str] | None = None) -> list[str]:
    """The heavy packages a fresh interpreter has imported after running `code`."""
    script = (
        f"{code}\nimport sys, json\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": SRC, **(env or {})},
    ).stdout
    return list(json.loads(out.strip().splitlines()[-1]))


def run_cli(*args: str) -> str:
    return (
        "from chatclone.cli import app\n"
        "try:\n"
        f"    app({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
    )


@pytest.mark.parametrize(
    "args", [("--help",), ("chat", "--help"), ("serve", "--help"), ("recall", "--help")]
)
def test_help_imports_nothing_heavy(args: tuple[str, ...]) -> None:
    assert imported_after(run_cli(*args)) == []


def test_the_chat_path_imports_nothing_heavy_before_loading() -> None:
    code = "import chatclone.cli, chatclone.chat.terminal, chatclone.chat.engine, chatclone.memory.load"
    assert imported_after(code) == []


def test_a_cached_merge_loads_without_peft(tmp_path: Path) -> None:
    tiny = str(tiny_model_dir(tmp_path / "tiny"))
    run_dir = make_run(tmp_path / "ws", "r1", tiny)
    cache = tmp_path / "cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(merged, "cache_root", lambda: cache / merged.MERGED_DIR)
        LocalGenerator.load(run_dir, tiny)  # merges (with peft) and caches
    code = (
        "from pathlib import Path\n"
        "from chatclone.chat.local import LocalGenerator\n"
        "from chatclone.chat.generation import GenerationSettings\n"
        f"g = LocalGenerator.load(Path({str(run_dir)!r}), {tiny!r})\n"
        "msgs = [{'role': 'user', 'content': 'hi'}]\n"
        "print(''.join(g.stream(msgs, GenerationSettings(4, 0.0))))"
    )
    found = imported_after(code, {"CHATCLONE_CACHE": str(cache), "CHATCLONE_NATIVE": "0"})
    assert "torch" in found and "transformers" in found  # it did load and generate
    assert "peft" not in found
    found = imported_after(code, {"CHATCLONE_CACHE": str(cache)})  # on CPU: the native path
    assert "torch" in found and "transformers" not in found and "peft" not in found


def test_the_default_embedder_does_not_import_sentence_transformers() -> None:
    code = "from chatclone.embeddings import DefaultEmbedder\nDefaultEmbedder().encode(['hi'])"
    found = imported_after(code)
    assert "torch" in found
    assert "sentence_transformers" not in found and "sklearn" not in found


def test_timings_report_each_step_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(timings, "_marks", {})
    timings.mark("chat")
    timings.report()
    assert capsys.readouterr().err == ""  # off without the variable
    monkeypatch.setenv(timings.ENV_VAR, "1")
    timings.mark("chat")
    timings.mark("first_token")
    timings.mark("chat")  # the first time counts
    first = dict(timings._marks)
    timings.report()
    timings.report()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    steps = timings.parse(lines[0])
    assert steps is not None
    assert steps["chat"] == first["chat"] <= steps["first_token"] <= steps["reported"]
    assert steps["cpu_s"] > 0
    assert timings.parse("Loading run…") is None
