"""Output for people: tables, progress bars and warnings, on a rich console.

Progress bars and warnings go to stderr so that stdout stays clean for pipes and `--json`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from chatclone.dataset.report import TRAIN_FILE, BuildReport
from chatclone.dataset.tokens import render_for_model
from chatclone.evaluate.table import table_rows
from chatclone.me import MeDecision
from chatclone.messages import Kind, Message
from chatclone.openai.report import JobEvent, event_line
from chatclone.workspace import Workspace

if TYPE_CHECKING:  # the ingest stage (and its parsers) only for the type: stats needs neither
    from chatclone.ingest import IngestResult

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

# Files smaller than this are read before a bar would even draw.
PROGRESS_MIN_BYTES = 2 * 1024 * 1024


class LiveProgress:
    """Base of the progress displays: entering and leaving one starts and stops its rich
    `Progress` (on stderr, so stdout stays clean for --json)."""

    progress: Progress

    def __enter__(self) -> Self:
        self.progress.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.__exit__(kind, value, tb)


class ProgressBars(LiveProgress):
    """One progress bar per big file, on stderr, only when stderr is a terminal."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and err.is_terminal
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not self.enabled,
        )

    def start(self, name: str, size: int) -> Callable[[int], None] | None:
        if not self.enabled or size < PROGRESS_MIN_BYTES:
            return None
        task = self.progress.add_task(name.rsplit("/", 1)[-1], total=size)
        return lambda position: self.progress.update(task, completed=position)


class CountBars(LiveProgress):
    """Progress over counted items (texts embedded, replies written), on stderr, only when stderr
    is a terminal. `start(name, total)` returns the callback the work calls with how many more
    items are done (increments, unlike `ProgressBars`' absolute byte positions)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and err.is_terminal
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not self.enabled,
        )

    def start(self, name: str, total: int) -> Callable[[int], None] | None:
        if not self.enabled or total <= 0:
            return None
        task = self.progress.add_task(name, total=total)
        return lambda done: self.progress.update(task, advance=done)


class Steps:
    """A spinner naming the current step of a long job, on stderr, only on a terminal."""

    def __init__(self, enabled: bool = True) -> None:
        self.status = err.status("starting…") if enabled and err.is_terminal else None

    def __enter__(self) -> Steps:
        if self.status is not None:
            self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.stop()

    def step(self, name: str) -> None:
        if self.status is not None:
            self.status.update(f"{name}…")


class TrainBar(LiveProgress):
    """A local run's steps: a bar with step, loss, tokens per second and ETA on stderr in a
    terminal; elsewhere (logs, CI) one plain line per validation. A `train.base.TrainDisplay`."""

    def __init__(self, total: int, done: int) -> None:
        self.live = err.is_terminal
        self.progress = Progress(
            TextColumn("[bold]training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[speed]} tok/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err,
            disable=not self.live,
        )
        self.task = self.progress.add_task(
            "train", total=total, completed=done, loss="—", speed="—"
        )

    def update(self, step: int, loss: float, tokens_per_s: float) -> None:
        self.progress.update(
            self.task, completed=step, loss=f"{loss:.3f}", speed=f"{tokens_per_s:,.0f}"
        )

    def note(self, text: str) -> None:
        """A line above the bar (or on its own without one)."""
        (self.progress.console if self.live else err).print(text)


def dim(text: str) -> None:
    """A quiet line on stderr: what is loading, what happens next."""
    err.print(f"[dim]{escape(text)}[/]", markup=True, highlight=False, soft_wrap=True)


def warn(text: str) -> None:
    err.print(f"[yellow]warning:[/] {text}", markup=True)


def ingest_result(result: IngestResult, ws: Workspace) -> None:
    table = Table(title=f"Ingested into {ws.root}", title_justify="left")
    for col in ("File", "Format", "Chats", "Added", "Already present", "Not understood"):
        table.add_column(col, justify="right" if col[0] in "ANn" and col != "File" else "left")
    for f in result.files:
        bad = str(f.unparsed)
        if f.unparsed:
            more = "…" if f.unparsed > len(f.unparsed_lines) else ""
            bad += f" ({f.unit}s {', '.join(map(str, f.unparsed_lines))}{more})"
        chats = ", ".join(f.chats) if len(f.chats) <= 3 else f"{len(f.chats)} chats"
        # File and chat names are the user's words: "[" in them is text, not markup.
        name = escape(f.path.rsplit("/", 1)[-1])
        table.add_row(name, f.parser, escape(chats), str(f.added), str(f.present), bad)
    out.print(table)
    for f in result.files:
        for note in f.notes:
            out.print(f"[dim]{escape(f'{f.path}: {note}')}[/]")
    if result.total("unparsed"):
        warn(
            f"{result.total('unparsed')} line(s) or record(s) were not understood and not stored; "
            "where they are is listed above (`--strict` makes this an error)"
        )
    out.print(f"{result.total('added')} new messages, {result.total('present')} already stored.")


def stats(data: dict[str, Any]) -> None:
    out.print(
        f"[bold]{data['messages']}[/] messages from people in [bold]{data['chats']}[/] chats "
        f"({data['stored']} stored lines in all), {data['first'] or '–'} to {data['last'] or '–'}"
    )
    chats = Table(title="Chats", title_justify="left")
    for col in ("Chat", "Source", "Messages", "First", "Last"):
        chats.add_column(col, justify="right" if col == "Messages" else "left")
    for c in data["chat_list"]:
        chats.add_row(c["name"], c["source"], str(c["messages"]), c["first"] or "", c["last"] or "")
    out.print(chats)
    senders = Table(title="Senders", title_justify="left")
    senders.add_column("Sender")
    senders.add_column("Messages", justify="right")
    for name, n in list(data["senders"].items())[:20]:
        senders.add_row(name, str(n))
    if len(data["senders"]) > 20:
        senders.add_row(f"… {len(data['senders']) - 20} more", "")
    out.print(senders)
    out.print("Kinds: " + ", ".join(f"{k} {n}" for k, n in data["kinds"].items()))
    me(MeDecision(data["me"], data["me_aliases"], data["me_how"], data["me_detail"],
                  data["me_candidates"]))  # fmt: skip


def me(decision: MeDecision) -> None:
    if decision.name:
        aliases = f" (also {', '.join(decision.aliases)})" if decision.aliases else ""
        out.print(f"Me: [bold]{decision.name}[/]{aliases}: {decision.detail}")
    else:
        extra = f" Candidates: {', '.join(decision.candidates)}." if decision.candidates else ""
        out.print(f"Me: [yellow]not decided[/]: {decision.detail}.{extra}")


def me_json(decision: MeDecision) -> dict[str, Any]:
    return {
        "me": decision.name,
        "aliases": decision.aliases,
        "how": decision.how,
        "detail": decision.detail,
        "candidates": decision.candidates,
    }


def message_lines(messages: Iterable[Message], as_json: bool) -> None:
    """Write messages to stdout as they come (the store may hold millions)."""
    write = sys.stdout.write
    for m in messages:
        if as_json:
            write(json.dumps(message_json(m), ensure_ascii=False) + "\n")
        else:
            write(_message_text(m) + "\n")


def message_json(m: Message) -> dict[str, Any]:
    return {
        "chat": m.chat,
        "ts": m.ts,
        "sender": m.sender,
        "kind": m.kind.value,
        "text": m.text,
        "edited": m.edited,
        "reply_to": m.reply_to,
        "attachment": m.attachment,
        "source": m.source,
        "chat_id": m.chat_id,
        "source_id": m.source_id,
        "origin": f"{m.origin_file}:{m.origin_line}" if m.origin_line else m.origin_file,
    }


def _message_text(m: Message) -> str:
    who = f"{m.sender}: " if m.sender else "* "
    body = m.text
    if m.kind is not Kind.TEXT:
        label = f"<{m.kind.value}{': ' + m.attachment if m.attachment else ''}>"
        body = f"{label} {body}".rstrip()
    if m.edited:
        body += " (edited)"
    return f"{m.ts}  [{m.chat}] {who}{body}".replace("\n", "\n    ")


def build_report(report: BuildReport) -> None:
    samples, tok = report.samples, report.tokens
    out.print(f"[bold]Dataset[/] {report.path}")
    out.print(
        f"{samples['train']} training and {samples['valid']} validation samples from "
        f"{report.sessions_kept} of {report.sessions} conversations ({report.turns} turns); "
        f"me: {report.me}"
    )
    exact = "" if tok.exact else f" [yellow](approximate: {tok.note})[/]"
    out.print(f"Tokens ({tok.counter}): train {tok.train}, valid {tok.valid}{exact}")
    cost = report.cost
    if cost.get("usd") is not None:
        dated = f", prices as of {cost['prices_as_of']}" if cost.get("prices_as_of") else ""
        out.print(
            f"OpenAI cost estimate: ${cost['usd']:.2f} for {cost['billed_tokens']} training tokens "
            f"({cost['epochs']} epochs × {cost['model']} at ${cost['price_per_million']}/1M{dated})"
        )
        if cost.get("note"):
            out.print(f"[dim]{cost['note']}[/]")
    table = Table(title="Left out, by reason", title_justify="left")
    table.add_column("Reason")
    table.add_column("Count", justify="right")
    for reason, n in report.drops.items():
        table.add_row(reason.replace("_", " "), str(n))
    out.print(table)
    if report.pii:
        out.print("Pseudonymised: " + ", ".join(f"{k} {n}" for k, n in report.pii.items()))
    for label, key in (("Sample length (tokens)", "tokens"), ("Messages per sample", "turns")):
        _histogram(label, report.lengths.get(key, []))
    for problem in report.validation.get("openai", []):
        warn(f"OpenAI format: {problem}")


def _histogram(label: str, bins: list[dict[str, int]]) -> None:
    if not bins:
        return
    out.print(f"[bold]{label}[/]")
    top = max(b["count"] for b in bins) or 1
    for b in bins:
        bar = "█" * round(30 * b["count"] / top)
        out.print(f"  {b['from']:>6}–{b['to']:<6} {bar} {b['count']}")


def preview(report: BuildReport, n: int, to_stderr: bool = False) -> None:
    """The first N training samples, rendered the way the training model will see them (on
    stderr when stdout carries JSON)."""
    console = err if to_stderr else out
    path = Path(report.path) / TRAIN_FILE
    with path.open(encoding="utf-8") as f:
        for i, line in zip(range(n), f, strict=False):
            messages = json.loads(line)["messages"]
            console.rule(f"sample {i + 1}")
            console.print(render_for_model(messages, report.model), markup=False)


def train_result(result: dict[str, Any]) -> None:
    """A training summary: the backend's `message` first, then its scalar fields as a table."""
    if result.get("message"):
        out.print(str(result["message"]))
    table = Table(show_header=False, box=None, pad_edge=False)
    for key, value in result.items():
        if key == "message" or isinstance(value, dict | list):
            continue
        table.add_row(f"[bold]{key}[/]", "—" if value is None else str(value))
    out.print(table)
    if result.get("next"):
        out.print(f"\nNext: {result['next']}")


class OpenAIJobDisplay(LiveProgress):
    """An OpenAI fine-tuning job's lines and events on stderr (a `JobReporter`). On a terminal, a
    progress bar follows the steps and the training loss from the metrics events, and only the
    other events are printed as lines; elsewhere (a pipe, `--json`) every event is a line, as a log."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and err.is_terminal
        self.progress = Progress(
            TextColumn("[bold]training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[loss]}"),
            console=err,
            transient=True,
            disable=not self.enabled,
        )
        self.task: TaskID | None = None

    def say(self, text: str) -> None:
        """A plain line, never wrapped: ids and commands in it stay copyable."""
        self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)

    @contextmanager
    def following(self) -> Iterator[Callable[[JobEvent], None]]:
        with self:
            yield self.show

    def show(self, event: JobEvent) -> None:
        data = event.data if isinstance(event.data, dict) else {}
        if self.enabled and event.type == "metrics" and "step" in data:
            self._advance(data)
            return
        self.say(event_line(event))

    def _advance(self, data: dict[str, Any]) -> None:
        loss = data.get("train_loss")
        text = f"loss {loss:.3f}" if isinstance(loss, int | float) else ""
        total = data.get("total_steps")
        if self.task is None:
            self.task = self.progress.add_task("training", total=total, loss=text)
        self.progress.update(self.task, completed=data["step"], total=total, loss=text)


def eval_report(data: dict[str, Any]) -> None:
    """The systems side by side, then where the report is."""
    names = [entry["name"] for entry in data["systems"]]
    table = Table(title=f"Eval {data['name']} on dataset {data['dataset']}", title_justify="left")
    table.add_column("Metric")
    for name in names:
        table.add_column(escape(name), justify="right")
    for label, cells in table_rows(data):
        table.add_row(label, *cells)
    out.print(table)
    held = data["heldout"]
    out.print(
        f"[dim]{held['turns']} held-out replies per system; fact metrics with bootstrap 95 % "
        f"intervals and counts; ↓ lower is better, ↑ higher.[/]"
    )
    out.print(f"Report: [bold]{data['path']}/report.html[/] (and report.json)", soft_wrap=True)


def verdicts(result: dict[str, Any]) -> None:
    """The judge's verdict on each reply, then the fact metrics."""
    table = Table(title="Verdicts", title_justify="left")
    for column in ("Probe", "Verdict", "Why"):
        table.add_column(column)
    for v in result["verdicts"]:
        table.add_row(escape(v["probe_id"]), v["verdict"], escape(v.get("reason", "")))
    out.print(table)
    facts = result["facts"]
    for key in ("accuracy", "hallucination_rate", "abstention_rate", "update_accuracy"):
        value, counts = facts.get(key), facts["counts"].get(key)
        shown = "—" if value is None else f"{value:.2f} ({counts[0]}/{counts[1]})"
        out.print(f"{key.replace('_', ' ')}: {shown}")


def recall_hits(hits: Iterable[Any]) -> None:
    """Remembered messages, best first, each with where and when, and what it answered."""
    shown = False
    for n, hit in enumerate(hits, 1):
        shown = True
        out.print(f"[bold]{n}.[/] [dim]{escape(hit.chat)} · {hit.ts} · {escape(hit.sender)}[/]")
        for line in hit.context.splitlines() if hit.context else []:
            out.print(f"   [dim]› {escape(line)}[/]")
        for line in hit.text.splitlines():
            out.print(f"   {escape(line)}")
    if not shown:
        out.print("Nothing on record matches that.")
