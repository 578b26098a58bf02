"""`chatclone build`: stored chats → `datasets/NAME/` with train/valid files and `report.json`.

The steps are the small pure functions of this package; this module only wires them together, in
the order the data flows: sessions → turns (filters, privacy) → low-information scoring → samples
(windows) → de-duplication → chronological split → formats, tokens and cost → report.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from chatclone import embeddings, privacy
from chatclone.config import DatasetSettings, parse_duration
from chatclone.dataset import formats, lowinfo, tokens
from chatclone.dataset.grounding import MIN_ABSTENTIONS, Grounder
from chatclone.dataset.model import Drops, Sample, Session
from chatclone.dataset.report import REPORT_FILE, VALID_META_FILE, BuildReport, TokenTotals
from chatclone.dataset.samples import (
    chronological_split,
    dedupe,
    render_session,
    windowed_samples,
)
from chatclone.dataset.sessions import split_sessions
from chatclone.dataset.turns import blocked_pattern, build_turns
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
    blocked = blocked_pattern(ds.blocked_words)
    mapping_path = ws.privacy_mapping_path
    sessions: list[tuple[Session, str]] = []
    with ws.open_store() as store:
        decision = decide_me(settings, store)
        if not decision.name:
            raise ChatcloneError(f"who is being cloned? {decision.detail}")
        me = decision.names()
        pseudo = privacy.for_dataset(mapping_path, me, store.senders(), ds.pseudonymize_names)
        step("reading chats")
        for chat in store.chats():
            # Messages stream from the store, one chat at a time: only kept turns stay in memory.
            is_group = len(store.chat_senders(chat.id) - me) > 1
            shown = pseudo.clean(chat.name)
            for part in split_sessions(store.iter_messages(chat.id), gap):
                turns = build_turns(part, me, drops, blocked, pseudo.clean)
                if turns:
                    sessions.append((Session(shown, chat.id, is_group, turns), chat.source))
    turn_count = sum(len(s.turns) for s, _ in sessions)

    persona = pseudo.clean(persona_text(ensure_persona(ws.persona_path)))
    if ds.low_info_filter:
        step("scoring replies")
        embedder = options.embedder or embeddings.DefaultEmbedder()
        judged_by = judge.judge_from_settings(ds)
        _mark_low_information([s for s, _ in sessions], persona, ds, embedder, judged_by, drops)

    grounder, index = None, None
    if ds.memory:
        step("finding facts")
        grounder, index = _grounder(ws, ds, pseudo.clean, persona, me, options)
    step("building samples")
    counter = tokens.counter_for(ds.model)
    rendered = [(s, src, render_session(s, ds.bubble_separator, drops)) for s, src in sessions]
    # One batched pass of the tokenizer over every message: far faster than a call per session.
    sizes = counter.count_each([m for _, _, messages in rendered for m in messages])
    samples: list[Sample] = []
    offset = 0
    system_size = _system_sizer(counter)
    if grounder is not None:  # most conversations fit one window: their blocks in one batch
        grounder.memory.prefetch([(m, s.start) for s, _, m in rendered if m])
    for session, source, messages in rendered:
        own, offset = sizes[offset : offset + len(messages)], offset + len(messages)
        if not messages:
            continue
        builder = PromptBuilder(Identity(decision.name, source, persona))
        if grounder is not None:
            builder = grounder.builder(builder, session)
        samples += windowed_samples(
            session, messages, own, builder, system_size, ds.max_context_tokens, drops
        )
    if grounder is not None:
        samples = grounder.check(samples, drops)
    samples = dedupe(samples, drops)
    train, valid = chronological_split(samples, ds.valid_fraction)
    kept = {(s.session_start, s.chat) for s in train + valid}
    pii = dict(sorted(Counter(pseudo.counts).items()))  # the chats', not the blocks' repeats
    memory: dict[str, Any] = {"enabled": False}
    if grounder is not None and index is not None:
        step("writing abstention samples")
        # Nothing from the held-out conversations (or later) may reach the training split.
        cut = min((s.session_start for s in valid), default=None)
        train += _abstentions(grounder, sessions, decision.name, persona, ds, train, counter, cut)
        memory = grounder.summary(
            True, len(grounder.memory.facts_at(None)), asdict(settings.memory)
        )
        index.close()

    limit = formats.example_token_limit(ds.model)
    problems = formats.validate_openai(
        [s.messages for s in train], counter, limit, token_counts=[s.tokens for s in train]
    )
    valid_problems = formats.validate_openai(
        [s.messages for s in valid],
        counter,
        limit,
        min_examples=0,
        token_counts=[s.tokens for s in valid],
    )
    problems += [f"valid.jsonl: {p}" for p in valid_problems]
    report = BuildReport(
        name=name,
        path=str(target),
        created=datetime.now().isoformat(timespec="seconds"),
        samples={"train": len(train), "valid": len(valid)},
        sessions=len(sessions),
        sessions_kept=len(kept),
        turns=turn_count,
        tokens=TokenTotals(
            train=sum(s.tokens for s in train),
            valid=sum(s.tokens for s in valid),
            counter=counter.name,
            exact=counter.exact,
            note=getattr(counter, "note", ""),
        ),
        drops=drops.as_dict(),
        pii=pii,
        lengths={
            "tokens": _histogram([s.tokens for s in train + valid]),
            "turns": _histogram([len(s.messages) - 1 for s in train + valid]),
        },
        validation={"openai": problems},
        cost=_cost(ds, sum(s.tokens for s in train), options.price_per_million, counter),
        me=decision.name,
        # What a chat with the clone needs to rebuild the training system prompt exactly.
        persona=persona,
        sources=dict(Counter(src for _, src in sessions).most_common()),
        settings=ds,
        memory=memory,
    )
    step("writing files")
    _write(target, train, valid, options.formats, report)
    privacy.save_mapping(mapping_path, pseudo.mapping)
    return report


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
    train: list[Sample],
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
    wanted = max(round(ds.abstention_share * len(train)), MIN_ABSTENTIONS)
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


def _system_sizer(counter: tokens.TokenCounter) -> Callable[[str], int]:
    """A system prompt's tokens, counted once per distinct text: every window's prompt is built
    and measured on its own, and windows of one chat mostly share theirs."""
    sizes: dict[str, int] = {}

    def size(text: str) -> int:
        if text not in sizes:
            sizes[text] = counter.count([{"role": "system", "content": text}])
        return sizes[text]

    return size


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


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write(
    target: Path,
    train: list[Sample],
    valid: list[Sample],
    wanted: tuple[str, ...],
    report: BuildReport,
) -> None:
    """Write into a temporary folder beside the target, then rename: a dataset folder is either
    complete or absent."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        splits = {"train": [s.messages for s in train], "valid": [s.messages for s in valid]}
        for split, rows in splits.items():
            formats.write_openai(tmp / f"{split}.jsonl", rows)
            if "sharegpt" in wanted:
                formats.write_sharegpt(tmp / f"{split}.sharegpt.json", rows)
        # Where each held-out sample comes from, line by line: eval builds a memory block for
        # it as of its conversation's start (the OpenAI files take no extra keys).
        meta = [{"chat": s.chat, "session_start": s.session_start} for s in valid]
        _write_jsonl(tmp / VALID_META_FILE, meta)
        if "hf" in wanted:
            formats.write_hf(tmp / "hf", splits)
        report.files = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        report.files.append(REPORT_FILE)
        report.save(tmp)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
