"""`chatclone eval`: every system writes its replies, then style, loss and facts are measured and
the report is written (`evals/NAME/report.json`, `report.html`, `generations/SYSTEM.jsonl`).

One system is loaded at a time (a model's memory is freed before the next loads). The held-out
data is the dataset the runs trained on (all runs evaluated together must share it); the fact
probes are sent each as a fresh conversation from "a friend", with the dataset's system prompt.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatclone.chat.generation import GenerationSettings
from chatclone.config import EvalSettings
from chatclone.dataset.report import BuildReport
from chatclone.embeddings import Embedder
from chatclone.errors import ChatcloneError
from chatclone.evaluate import report as reports
from chatclone.evaluate.authorship import AuthorshipModel, normalised
from chatclone.evaluate.facts import fact_metrics
from chatclone.evaluate.heldout import HeldOutTurn, TrainingTexts, heldout_turns, training_texts
from chatclone.evaluate.judge import FactJudge, make_judge
from chatclone.evaluate.loss import heldout_loss
from chatclone.evaluate.memory import (
    EvalMemory,
    held_out,
    heldout_contexts,
    probe_prompts,
    variants,
)
from chatclone.evaluate.probes import Probe, load_probes, load_replies, pair_replies
from chatclone.evaluate.style import copy_rate, distinct_n, style_distance
from chatclone.evaluate.systems import (
    BASE,
    REAL,
    System,
    base_system,
    generate,
    open_generator,
    run_systems,
)
from chatclone.train import runs
from chatclone.workspace import Workspace, check_name

Progress = Callable[[str, int], Callable[[int], None] | None]


@dataclass
class EvalOptions:
    runs: list[str] = field(default_factory=list)
    base: bool = False
    probes: Path | None = None
    name: str | None = None
    dataset: str | None = None
    settings: EvalSettings = field(default_factory=EvalSettings)
    memory: str = "as-trained"  # `evaluate.memory.MODES`
    embedder: Embedder | None = None  # for memory's retrieval; None: the default model


@dataclass
class _Replies:
    """What one system wrote, and what it cost."""

    heldout: list[str]
    probes: list[str]
    loss: dict[str, Any] | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def run_eval(
    ws: Workspace,
    options: EvalOptions,
    progress: Progress | None = None,
    notify: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Evaluate the systems `options` names and write the report; returns report.json's data."""
    started = time.perf_counter()
    settings = options.settings
    settings.check()
    say = notify or (lambda _: None)
    name = check_name(options.name, "eval") if options.name else _default_name()
    folder = ws.evals_dir / name
    if folder.exists():
        raise ChatcloneError(f"{folder} already exists: pick another --name")
    probes = load_probes(options.probes) if options.probes else []
    judge = make_judge(settings) if probes else None  # settings errors before any model loads
    loaded = _systems(ws, options)
    dataset_dir = _dataset_dir(ws, options, loaded)
    build = BuildReport.load(dataset_dir)
    systems = variants(ws, loaded, options.memory, build)
    turns, samples = heldout_turns(dataset_dir, settings.heldout_turns)
    texts = training_texts(dataset_dir)
    say(f"Held out: {len(turns)} replies from {samples} validation samples of '{build.name}'")
    recalls = any(s.memory for s in systems)
    memory = EvalMemory(ws, build, dataset_dir, options.embedder) if recalls else None
    try:
        written: dict[str, _Replies] = {}
        for group in _by_model(systems):
            written |= _write_replies(
                group, turns, probes, build, dataset_dir, settings, memory, progress, say
            )
    finally:
        if memory is not None:
            memory.close()
    data = _report(name, build, options, systems, turns, texts, probes, written, judge, say)
    data["heldout"] = {
        "turns": len(turns),
        "sessions": samples,
        "training_replies": len(texts.person),
    }
    data["seconds"] = round(time.perf_counter() - started, 1)
    reports.write(folder, data, turns, {s.name: written[s.name].heldout for s in systems})
    data["path"] = str(folder)
    return data


def _default_name() -> str:
    return "eval-" + datetime.now().strftime("%Y%m%d-%H%M%S")


def _systems(ws: Workspace, options: EvalOptions) -> list[System]:
    """The runs named (none named: the latest local run; with --base and no run at all yet, the
    base model alone), the base model first."""
    nothing_trained = not runs.list_runs(ws)
    given = [] if options.base and nothing_trained else run_systems(ws, options.runs)
    if options.base:
        given.insert(0, base_system(ws, given))
    return given


def _by_model(systems: list[System]) -> list[list[System]]:
    """Variants of one system (with and without memory) together: its model loads once."""
    groups: dict[tuple[Any, ...], list[System]] = {}
    for s in systems:
        groups.setdefault((s.kind, s.backend, s.model, s.run_dir), []).append(s)
    return list(groups.values())


def _dataset_dir(ws: Workspace, options: EvalOptions, systems: list[System]) -> Path:
    """The dataset whose validation split the runs never saw: the one they trained on. Runs
    trained on different datasets go together only when those hold out the same conversations
    (the same store split at the same point: a dataset with memory and one without)."""
    trained = sorted({s.dataset for s in systems if s.dataset})
    if len(trained) > 1 and not _same_split(ws, trained):
        raise ChatcloneError(
            f"these runs trained on different datasets ({', '.join(trained)}) that do not hold "
            "out the same conversations: one run's held-out data may be another's training "
            "data; evaluate them separately"
        )
    if trained and options.dataset and options.dataset not in trained:
        raise ChatcloneError(
            f"--dataset {options.dataset}: the runs trained on '{trained[0]}'; their "
            "held-out data is that dataset's validation split"
        )
    first = next((s.dataset for s in systems if s.dataset), None)
    return runs.find_dataset(ws, options.dataset or first)


def _same_split(ws: Workspace, datasets: list[str]) -> bool:
    """Whether every dataset's held-out conversations start at the same point in time, so none
    holds out what another trained on (the split is chronological)."""
    firsts = set()
    for name in datasets:
        sessions = held_out(runs.find_dataset(ws, name))
        if not sessions:
            return False
        firsts.add(min(start for _, start in sessions))
    return len(firsts) == 1


def _write_replies(
    group: list[System],
    turns: list[HeldOutTurn],
    probes: list[Probe],
    build: BuildReport,
    dataset_dir: Path,
    settings: EvalSettings,
    memory: EvalMemory | None,
    progress: Progress | None,
    say: Callable[[str], None],
) -> dict[str, _Replies]:
    """Load a system's model once and write its variants' replies (with and without memory)."""
    say(f"Loading {group[0].describe()}…")
    generator = open_generator(group[0], build.context_tokens)
    generation = GenerationSettings(
        max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
        seed=settings.seed,
    )
    out: dict[str, _Replies] = {}
    for system in group:
        recall = memory if system.memory else None
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        contexts = heldout_contexts(turns, recall)
        advance = progress(f"{system.name}: held-out replies", len(turns)) if progress else None
        heldout = generate(generator, contexts, generation, settings.batch_size, advance)
        seconds["generate"] = time.perf_counter() - started
        started = time.perf_counter()
        prompts = probe_prompts(build, [p.question for p in probes], recall)
        advance = progress(f"{system.name}: fact probes", len(prompts)) if progress else None
        answers = generate(generator, prompts, generation, settings.batch_size, advance)
        seconds["facts"] = time.perf_counter() - started
        out[system.name] = _Replies(heldout, answers, None, seconds)
    # The held-out loss is over the dataset's own prompts: it belongs to the variant whose
    # memory matches how they were built.
    matching = [s for s in group if s.memory == bool(build.memory.get("enabled"))]
    if matching:
        started = time.perf_counter()
        replies = out[matching[0].name]
        replies.loss = heldout_loss(generator, dataset_dir, build.context_tokens)
        replies.seconds["loss"] = time.perf_counter() - started
    for replies in out.values():
        replies.seconds = {k: round(v, 2) for k, v in replies.seconds.items()}
    del generator
    gc.collect()  # one model in memory at a time
    return out


def _report(
    name: str,
    build: BuildReport,
    options: EvalOptions,
    systems: list[System],
    turns: list[HeldOutTurn],
    texts: TrainingTexts,
    probes: list[Probe],
    written: dict[str, _Replies],
    judge: FactJudge | None,
    say: Callable[[str], None],
) -> dict[str, Any]:
    settings = options.settings
    real = [t.real for t in turns]
    classifier, classifier_info = _authorship(texts, settings.seed, say)
    rates = {
        s.name: classifier.rate(written[s.name].heldout) if classifier else None for s in systems
    }
    rates[REAL] = classifier.rate(real) if classifier else None
    # Normalised against the base model given the same prompts (with memory or without).
    bases = {s.memory: rates[s.name] for s in systems if s.kind == BASE}
    base_rate = bases.get(False, next(iter(bases.values()), None))
    entries = [_real_entry(real, texts, rates[REAL], base_rate, settings.seed)]
    for system in systems:
        replies = written[system.name]
        style = _style(replies.heldout, real, texts, settings.seed)
        style["authorship"] = rates[system.name]
        base = bases.get(system.memory, base_rate)
        style["authorship_normalised"] = normalised(rates[system.name], base, rates[REAL])
        entry = system.to_json() | {"style": style, "loss": replies.loss, "facts": None}
        if judge is not None:
            try:
                entry["facts"] = _facts(probes, replies.probes, judge, settings.seed)
            except ChatcloneError as e:  # an unreachable LLM judge must not cost the replies
                say(f"No fact verdicts for {system.name}: {e}")
                entry["facts_error"] = str(e)
                entry["probe_replies"] = _unjudged(probes, replies.probes)
        entries.append(entry | {"seconds": replies.seconds})
    return {
        "name": name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": build.name,
        "settings": _settings_json(options, systems),
        "authorship_model": classifier_info,
        "systems": entries,
        "examples": reports.examples(turns, systems, written),
    }


def _authorship(
    texts: TrainingTexts, seed: int, say: Callable[[str], None]
) -> tuple[AuthorshipModel | None, dict[str, Any]]:
    info: dict[str, Any] = {"person": len(texts.person), "others": len(texts.others)}
    try:
        model = AuthorshipModel.fit(texts.person, texts.others, seed=seed)
    except ChatcloneError as e:  # too little training data: the other metrics still stand
        say(f"No authorship score: {e}")
        return None, info | {"error": str(e)}
    return model, info | {"accuracy": model.accuracy}


def _style(replies: list[str], real: list[str], texts: TrainingTexts, seed: int) -> dict[str, Any]:
    style = style_distance(replies, real, seed=seed)
    return {
        "distance": style["distance"],
        "authorship": None,
        "authorship_normalised": None,
        "copy_rate": copy_rate(replies, texts.person),
        "distinct_1": distinct_n(replies, 1),
        "distinct_2": distinct_n(replies, 2),
    } | {k: v for k, v in style.items() if k != "distance"}


def _real_entry(
    real: list[str], texts: TrainingTexts, rate: float | None, base: float | None, seed: int
) -> dict[str, Any]:
    style = _style(real, real, texts, seed)
    style["authorship"] = rate
    style["authorship_normalised"] = normalised(rate, base, rate)
    entry = System(REAL, REAL).to_json()
    return entry | {"style": style, "loss": None, "facts": None, "seconds": {}}


def _facts(probes: list[Probe], replies: list[str], judge: FactJudge, seed: int) -> dict[str, Any]:
    judgements = judge.judge_all(list(zip(probes, replies, strict=True)))
    facts = fact_metrics(probes, [j.verdict for j in judgements], seed=seed)
    facts["probes"] = [
        {
            "probe_id": p.id,
            "kind": p.kind,
            "question": p.question,
            "reply": r,
            "verdict": j.verdict,
            "reason": j.reason,
        }
        for p, r, j in zip(probes, replies, judgements, strict=True)
    ]
    return facts


def _unjudged(probes: list[Probe], replies: list[str]) -> list[dict[str, Any]]:
    return [
        {"probe_id": p.id, "kind": p.kind, "question": p.question, "reply": r}
        for p, r in zip(probes, replies, strict=True)
    ]


def _settings_json(options: EvalOptions, systems: list[System]) -> dict[str, Any]:
    s = options.settings
    judge = f"rules + LLM {s.judge_model} ({s.judge_mode})" if s.judge_url else "rules"
    return {
        "runs": [x.run for x in systems if x.run],
        "base": options.base,
        "memory": options.memory,
        "probes": str(options.probes) if options.probes else None,
        "heldout_turns": s.heldout_turns,
        "max_new_tokens": s.max_new_tokens,
        "temperature": s.temperature,
        "seed": s.seed,
        "batch_size": s.batch_size,
        "judge": judge,
    }


def score_replies(
    probes_path: Path, replies_path: Path, settings: EvalSettings | None = None
) -> dict[str, Any]:
    """The judge alone, no model: a verdict for each `{"probe_id", "reply"}` line of
    `replies_path`, and the fact metrics over them."""
    settings = settings or EvalSettings()
    settings.check()
    probes = load_probes(probes_path)
    pairs = pair_replies(probes, load_replies(replies_path), replies_path)
    judgements = make_judge(settings).judge_all(pairs)
    verdicts = [j.verdict for j in judgements]
    return {
        "verdicts": [
            {"probe_id": p.id, "verdict": j.verdict, "reason": j.reason}
            for (p, _), j in zip(pairs, judgements, strict=True)
        ],
        "facts": fact_metrics([p for p, _ in pairs], verdicts, seed=settings.seed),
    }
