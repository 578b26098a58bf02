"""`chatclone build`: stored chats → `datasets/NAME/` with train/valid files and `report.json`.

The steps are the small pure functions of this package; this module only wires them together, in
the order the data flows: sessions → turns (filters, privacy; a session of only my own messages
dropped here as `own_messages_only_session`) → low-information scoring → samples (windows) →
de-duplication → chronological split → formats, tokens and cost → report.

Without the stages that need every session at once (the embedding filter, memory), sessions go
through `stream` a chunk at a time and samples straight to a `spool` on disk, so a build's memory
does not grow with the corpus; the files are the same either way.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from chatclone import embeddings, privacy
from chatclone.config import DatasetSettings, MemorySettings, parse_duration
from chatclone.dataset import formats, lowinfo, tokens
from chatclone.dataset.grounding import MIN_ABSTENTIONS, Grounder
from chatclone.dataset.model import Drops, Sample, Session
from chatclone.dataset.report import REPORT_FILE, BuildReport, TokenTotals
from chatclone.dataset.samples import Deduper
from chatclone.dataset.spool import SampleFacts, SampleSpool, read_split, write_split
from chatclone.dataset.stream import SessionReader, make_samples, session_chunks, system_sizer
from chatclone.dataset.turns import blocked_pattern
from chatclone.errors import ChatcloneError
from chatclone.me import decide_me
from chatclone.memory.block import MemoryBlock
from chatclone.memory.facts import FactStore
from chatclone.memory.index import MemoryIndex
from chatclone.memory.load import open_memory
from chatclone.memory.statements import statements
from chatclone.openai import judge, pricing
from chatclone.openai.tokens import is_openai_model
from chatclone.prompt import (
    ASSISTANT,
    USER,
    ChatContext,
    Identity,
    PromptBuilder,
    ensure_persona,
    persona_text,
)
from chatclone.workspace import Workspace, check_name

# For the cost estimate when the dataset is for a local model: the cheapest OpenAI model that
# fine-tunes, so the figure answers "what would OpenAI charge for this?".
COST_MODEL_FOR_LOCAL = "gpt-4.1-mini-2025-04-14"
# Sessions whose samples are made together when a build streams (one batch of the tokenizer).
SESSIONS_PER_CHUNK = 2000


@dataclass
class BuildOptions:
    name: str | None = None
    formats: tuple[str, ...] = ("openai",)
    price_per_million: float | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # DatasetSettings fields
    embedder: embeddings.Embedder | None = None  # None: the default model, if the filter is on
    progress: Callable[[str], None] | None = None  # told the name of each step


def build_dataset(ws: Workspace, options: BuildOptions) -> BuildReport:
    """Build and write the dataset; returns the report (also written as report.json)."""
    settings = ws.settings()
    ds = replace(settings.dataset, **options.overrides)
    ds.check()
    gap = parse_duration(ds.session_gap)
    for fmt in options.formats:
        if fmt not in formats.FORMATS:
            raise ChatcloneError(
                f"unknown format '{fmt}' (choose from {', '.join(formats.FORMATS)})"
            )
    name = check_name(options.name, "dataset") if options.name is not None else _timestamp()
    target = ws.datasets_dir / name
    if target.exists():
        raise ChatcloneError(f"{target} already exists; choose another --name")
    step = options.progress or (lambda _: None)

    drops = Drops()
    read = SessionReader(gap, blocked_pattern(ds.blocked_words), drops)
    mapping_path = ws.privacy_mapping_path
    with ExitStack() as open_store:
        store = open_store.enter_context(ws.open_store())
        decision = decide_me(settings, store)
        if not decision.name:
            raise ChatcloneError(f"who is being cloned? {decision.detail}")
        me = decision.names()
        pseudo = privacy.for_dataset(mapping_path, me, store.senders(), ds.pseudonymize_names)
        written = persona_text(ensure_persona(ws.persona_path))
        step("reading chats")
        # Without the embedding stages (which look at every reply at once) and with a persona
        # that pseudonymising leaves as it is (so nothing depends on cleaning it last), sessions
        # stream through in chunks and samples to disk: memory stays flat.
        whole = ds.low_info_filter or ds.memory or bool(privacy.find_pii(written, pseudo.names))
        sessions: list[tuple[Session, str]] = []
        chunks: Iterable[list[tuple[Session, str]]]
        if whole:
            sessions = list(read.sessions(store, me, pseudo.clean))
            chunks = [sessions]
            open_store.close()
        else:  # (from a big store, read in a second process beside the sample making)
            chunks = session_chunks(read, store, me, pseudo, SESSIONS_PER_CHUNK)
        report = _build(
            ws, options, ds, (name, target), decision.name, me, written, pseudo, read,
            sessions, chunks, settings.memory, step,
        )  # fmt: skip
    privacy.save_mapping(mapping_path, pseudo.mapping)
    return report


def _build(
    ws: Workspace,
    options: BuildOptions,
    ds: DatasetSettings,
    where: tuple[str, Path],
    me_name: str,
    me: set[str],
    written: str,
    pseudo: privacy.Pseudonymizer,
    read: SessionReader,
    sessions: list[tuple[Session, str]],
    chunks: Iterable[list[tuple[Session, str]]],
    memory_settings: MemorySettings,
    step: Callable[[str], None],
) -> BuildReport:
    """Everything after the store is open: `sessions` is every session when `chunks` is one
    list of them (the embedding stages and memory need them all), else empty."""
    drops, (name, target) = read.drops, where
    persona = pseudo.clean(written)
    if ds.low_info_filter:
        judged_by = judge.judge_from_settings(ds)  # a judge set up wrong fails whatever the data
        # No session left to score (a Discord data package alone: every one was mine only):
        # the embedding model is not even loaded.
        if sessions:
            step("scoring replies")
            embedder = options.embedder or embeddings.DefaultEmbedder()
            _mark_low_information([s for s, _ in sessions], persona, ds, embedder, judged_by, drops)

    grounder, index = None, None
    if ds.memory:
        step("finding facts")
        grounder, index = _grounder(ws, ds, pseudo.clean, persona, me, options)
    step("building samples")
    counter = tokens.counter_for(ds.model)
    system_size = system_sizer(counter)
    limit = formats.example_token_limit(ds.model)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target, then renamed: a dataset folder is either complete or absent.
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    spool = None
    try:
        spool = SampleSpool(target.parent, counter, limit)
        deduper = Deduper(drops)
        for chunk in chunks:
            made = make_samples(chunk, me_name, persona, ds, counter, system_size, grounder, drops)
            for sample in deduper.keep(made):
                spool.add(sample)
        held_out = spool.split(ds.valid_fraction)
        kept = len(spool.sessions)
        valid_facts = [f for f, out in zip(spool.facts, held_out, strict=True) if out]
        train_facts = [f for f, out in zip(spool.facts, held_out, strict=True) if not out]
        pii = dict(sorted(Counter(pseudo.counts).items()))  # the chats', not the blocks' repeats
        memory: dict[str, Any] = {"enabled": False}
        extra: list[Sample] = []
        if grounder is not None and index is not None:
            step("writing abstention samples")
            # Nothing from the held-out conversations (or later) may reach the training split.
            cut = min((spool.sessions[f.session][0] for f in valid_facts), default=None)
            extra = _abstentions(
                grounder, sessions, me_name, persona, ds, len(train_facts), counter, cut
            )
            memory = grounder.summary(
                True, len(grounder.memory.facts_at(None)), asdict(memory_settings)
            )
            index.close()
        train_facts += [SampleFacts.of(s, -1, counter, limit) for s in extra]
        problems = _problems(train_facts, valid_facts)
        every = train_facts + valid_facts
        train_tokens = sum(f.tokens for f in train_facts)
        report = BuildReport(
            name=name,
            path=str(target),
            created=datetime.now().isoformat(timespec="seconds"),
            samples={"train": len(train_facts), "valid": len(valid_facts)},
            sessions=read.count,
            sessions_kept=kept,
            turns=read.turns,
            tokens=TokenTotals(
                train=train_tokens,
                valid=sum(f.tokens for f in valid_facts),
                counter=counter.name,
                exact=counter.exact,
                note=getattr(counter, "note", ""),
            ),
            drops=drops.as_dict(),
            pii=pii,
            lengths={
                "tokens": _histogram([f.tokens for f in every]),
                "turns": _histogram([f.turns for f in every]),
            },
            validation={"openai": problems},
            cost=_cost(ds, train_tokens, options.price_per_million, counter),
            me=me_name,
            # What a chat with the clone needs to rebuild the training system prompt exactly.
            persona=persona,
            sources=dict(read.sources.most_common()),
            settings=ds,
            memory=memory,
        )
        step("writing files")
        write_split(tmp, spool, held_out, extra)
        spool.close()
        _write_formats(tmp, options.formats, report)
        tmp.rename(target)
    except BaseException:
        if spool is not None:
            spool.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _problems(train: list[SampleFacts], valid: list[SampleFacts]) -> list[str]:
    """`formats.validate_openai`'s problems of both files, from the samples' own."""
    problems = formats.labelled_problems(
        [f"example {i}" for i in range(1, len(train) + 1)],
        [f.problems for f in train],
        formats.OPENAI_MIN_EXAMPLES,
        50,
    )
    valid_problems = formats.labelled_problems(
        [f"example {i}" for i in range(1, len(valid) + 1)], [f.problems for f in valid], 0, 50
    )
    return problems + [f"valid.jsonl: {p}" for p in valid_problems]


def _grounder(
    ws: Workspace,
    ds: DatasetSettings,
    clean: Callable[[str], str],
    persona: str,
    me: set[str],
    options: BuildOptions,
) -> tuple[Grounder, MemoryIndex]:
    """The workspace's memory as of each sample, with facts extracted from the store first (new
    messages may hold new facts; facts already on record are not added twice)."""
    FactStore(ws).extract()
    memory, index = open_memory(ws, clean, embedder=options.embedder, persona=persona)
    memory.blocked = blocked_pattern(ds.blocked_words)
    return Grounder(memory, ds.unsupported_facts, statements, me, persona), index


def _abstentions(
    grounder: Grounder,
    sessions: list[tuple[Session, str]],
    me: str,
    persona: str,
    ds: DatasetSettings,
    trained: int,
    counter: tokens.TokenCounter,
    cut: str | None,
) -> list[Sample]:
    """Abstention samples, `abstention_share` of the training split (at least
    `MIN_ABSTENTIONS`), in the chat the person texts most one to one (the questions come from a
    friend), on its messenger; made only from what was said before `cut` (the held-out
    conversations' start)."""
    if not sessions or ds.abstention_share <= 0:
        return []
    chats = Counter((s.chat, src) for s, src in sessions if not s.is_group)
    if not chats:
        chats = Counter((s.chat, src) for s, src in sessions)
    (partner, source), _ = chats.most_common(1)[0]
    replies = [
        b.text
        for s, _ in sessions
        if cut is None or s.start < cut
        for t in s.turns
        if t.role == ASSISTANT
        for b in t.bubbles
    ]
    memory = MemoryBlock(grounder.memory, before=cut)
    builder = PromptBuilder(Identity(me, source, persona), memory)
    wanted = max(round(ds.abstention_share * trained), MIN_ABSTENTIONS)
    context = ChatContext(partner)
    return grounder.abstentions(builder, context, replies, wanted, counter.count, before=cut)


def _mark_low_information(
    sessions: list[Session],
    persona: str,
    ds: DatasetSettings,
    embedder: embeddings.Embedder,
    judged_by: judge.LLMJudge | None,
    drops: Drops,
) -> None:
    replies, contexts, turns = [], [], []
    for session in sessions:
        previous = ""
        for turn in session.turns:
            text = "\n".join(b.text for b in turn.bubbles)
            if turn.role == ASSISTANT:
                replies.append(text)
                contexts.append(previous)
                turns.append(turn)
            elif turn.role == USER:
                previous = text
    topics = [line.lstrip("-* ").strip() for line in persona.splitlines()]
    topics = [t for t in topics if t and not t.startswith("#")]
    scores = lowinfo.score_replies(replies, contexts, topics, embedder)
    if judged_by is not None:  # configured by the user: averaged with the local score
        opinions = judged_by.score(replies, contexts)
        scores = [(a + b) / 2 for a, b in zip(scores, opinions, strict=True)]
    for turn, score in zip(turns, scores, strict=True):
        if score < ds.low_info_threshold:
            turn.train = False
            drops.add("low_information_reply")


def _timestamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def _histogram(values: list[int], bins: int = 8) -> list[dict[str, int]]:
    """Equal-width bins over the values: [{"from", "to", "count"}…]."""
    if not values:
        return []
    low, high = min(values), max(values)
    width = max(1, -(-(high - low + 1) // bins))
    counts = Counter((v - low) // width for v in values)
    return [
        {"from": low + i * width, "to": low + (i + 1) * width - 1, "count": counts.get(i, 0)}
        for i in range((high - low) // width + 1)
    ]


def _cost(
    ds: DatasetSettings, train_tokens: int, price: float | None, counter: tokens.TokenCounter
) -> dict[str, Any]:
    for_openai = is_openai_model(ds.model)
    model = ds.model if for_openai else COST_MODEL_FOR_LOCAL
    exact = counter.exact and for_openai  # another model's tokenizer is only an approximation
    return asdict(pricing.estimate_cost(train_tokens, ds.epochs, model, price, exact_tokens=exact))


def _write_formats(folder: Path, wanted: tuple[str, ...], report: BuildReport) -> None:
    """Beside the OpenAI files: the other formats asked for, made from them, and the report."""
    if "sharegpt" in wanted or "hf" in wanted:
        splits = {split: read_split(folder / f"{split}.jsonl") for split in ("train", "valid")}
        if "sharegpt" in wanted:
            for split, rows in splits.items():
                formats.write_sharegpt(folder / f"{split}.sharegpt.json", rows)
        if "hf" in wanted:
            formats.write_hf(folder / "hf", splits)
    report.files = sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
    )
    report.files.append(REPORT_FILE)
    report.save(folder)
