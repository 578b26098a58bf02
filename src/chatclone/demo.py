"""The bundled demo sample: three synthetic WhatsApp chats of "Sam Rivera" (see data/sample/FACTS.md).

`chatclone demo` (and `make demo`) runs the whole path on it with the default model: ingest, stats,
build, a few minutes of LoRA training on CPU, a short scripted chat with the clone, and an eval of
the clone against its base model (style on held-out replies, facts on the sample's probes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from chatclone import render
from chatclone.chat.engine import Conversation, open_engine
from chatclone.chat.generation import GenerationSettings
from chatclone.chat.terminal import chat_loop
from chatclone.config import EvalSettings
from chatclone.dataset.build import BuildOptions, build_dataset
from chatclone.dataset.report import BuildReport
from chatclone.evaluate.run import EvalOptions, run_eval
from chatclone.ingest import ingest
from chatclone.stats import collect_stats
from chatclone.train.base import TrainRequest
from chatclone.train.local import LocalBackend
from chatclone.workspace import PERSONA_FILE, Workspace

# A learning rate well above the everyday default: the demo has minutes, not hours, to show change.
DEMO_TRAIN: dict[str, Any] = {"learning_rate": 1e-3, "eval_every": 4, "save_every": 8}
# Few held-out replies and short ones: the demo's eval takes about a minute on CPU.
DEMO_EVAL = EvalSettings(heldout_turns=8, max_new_tokens=32)
PROBES_FILE = "probes.jsonl"
SCRIPT = (
    "hey! how's it going?",
    "are you still going to lisbon?",
    "how's biscuit doing",
)


def sample_dir() -> Path:
    """The folder holding the sample exports (inside the installed package)."""
    path = Path(str(resources.files("chatclone") / "data" / "sample"))
    if not path.is_dir():
        raise FileNotFoundError(f"the bundled sample is missing from {path}")
    return path


def sample_exports() -> list[Path]:
    return sorted(p for p in sample_dir().iterdir() if p.suffix in (".txt", ".zip"))


def prepare_demo(root: Path) -> None:
    """Give the demo workspace Sam's persona and fact probes (`chatclone eval` reads
    probes.jsonl from the workspace), unless the user already edited their own there."""
    for name in (PERSONA_FILE, PROBES_FILE):
        target = root / name
        if not target.exists():
            target.write_text((sample_dir() / name).read_text("utf-8"), "utf-8")


def run_demo(ws: Workspace, train_steps: int) -> None:

    report = _ingest_and_build(ws)
    if train_steps <= 0:
        render.out.print(
            f"\nNext: {report.path}/train.jsonl is ready; `chatclone train -w {ws.root}` trains on it."
        )
        return
    result = _train(ws, report.name, train_steps)
    _chat(ws, result["run"])
    _eval(ws, result["run"])
    render.out.print(
        f"\n[bold]Next[/]\n"
        f"- `chatclone chat -w {ws.root}` to talk to this clone yourself;\n"
        f"- `chatclone eval -w {ws.root} --base` to measure it again (the probes are in "
        f"{ws.root / PROBES_FILE});\n"
        f"- `chatclone train -w {ws.root} --epochs 3 --lr 1e-3` for a better one (about {_estimate(result)} on this machine), "
        "or `--backend openai` to fine-tune with OpenAI;\n"
        f"- `chatclone serve -w {ws.root}` for the web page and an OpenAI-compatible API on "
        "127.0.0.1:8000;\n"
        f"- `chatclone export -w {ws.root} --format ollama` (or gguf, vllm, --merged) to run it "
        "elsewhere;\n"
        "- `chatclone ingest YOUR_EXPORT.zip -w my-clone` starts your own clone."
    )


def _ingest_and_build(ws: Workspace) -> BuildReport:

    exports = sample_exports()
    render.out.print(f"[bold]1. Ingest[/] the bundled sample: {', '.join(p.name for p in exports)}")
    with render.ProgressBars() as bars:
        render.ingest_result(ingest(ws, exports, progress=bars.start), ws)
    render.out.print("\n[bold]2. What is stored[/] (`chatclone stats`)")
    with ws.open_store() as store:
        render.stats(collect_stats(store, ws.settings()))
    render.out.print("\n[bold]3. Build a fine-tuning dataset[/] (`chatclone build --preview 1`)")
    prepare_demo(ws.root)
    options = BuildOptions(formats=("openai", "sharegpt"))
    with render.Steps() as steps:
        options.progress = steps.step
        report = build_dataset(ws, options)
    render.build_report(report)
    render.preview(report, 1)
    return report


def _train(ws: Workspace, dataset: str, steps: int) -> dict[str, Any]:

    render.out.print(
        f"\n[bold]4. Fine-tune[/] SmolLM2-135M-Instruct with LoRA on this machine, {steps} steps "
        f"(`chatclone train --max-steps {steps} --lr 1e-3`)"
    )
    settings = replace(ws.settings().train, backend="local", max_steps=steps, **DEMO_TRAIN)
    request = TrainRequest(settings, dataset=dataset, display=render.TrainBar, notify=render.dim)
    result = LocalBackend().train(ws, request)
    render.train_result({k: v for k, v in result.items() if k != "next"})
    return result


def _chat(ws: Workspace, run: str) -> None:

    render.out.print(f"\n[bold]5. A short chat with the clone[/] (`chatclone chat --run {run}`)")
    engine = open_engine(ws, run, notify=render.dim)
    settings = GenerationSettings(max_new_tokens=60, temperature=0.7, seed=7)
    chat_loop(Conversation(engine), settings, _scripted())


def _eval(ws: Workspace, run: str) -> None:
    probes = ws.root / PROBES_FILE
    render.out.print(
        f"\n[bold]6. Measure it[/] against the base model: style on {DEMO_EVAL.heldout_turns} "
        f"held-out replies, facts on the sample's probes "
        f"(`chatclone eval --base --run {run}`)"
    )
    options = EvalOptions([run], base=True, probes=probes, settings=DEMO_EVAL)
    with render.CountBars() as bars:
        report = run_eval(ws, options, bars.start, render.dim)
    render.eval_report(report)


def _scripted() -> Any:
    lines: Iterator[str] = iter(SCRIPT)

    def read(prompt: str) -> str:

        line = next(lines, None)
        if line is None:
            raise EOFError
        render.out.print(f"[bold]{prompt}[/]{line}")
        return line

    return read


def _estimate(result: dict[str, Any]) -> str:
    """How long three epochs would take at the speed just measured."""
    epochs = max(float(result.get("epochs") or 0), 1e-9)
    minutes = float(result.get("seconds") or 0) / epochs * 3 / 60
    return f"{minutes:.0f} minutes" if minutes >= 1 else "a minute"
