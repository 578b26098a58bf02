"""`chatclone facts …`: find, list and review the facts the clone may state about the person.

A typer sub-app registered by `cli.py`; each command is a thin wrapper over `FactStore`, imported
when a command runs, so that every other command starts without the fact finder.
`--json` output is plain JSON on stdout; `chatclone facts --json` is a contract:
`{"facts": [{"id", "slot", "value", "polarity", "status", "valid_from", "valid_to", "evidence":
[{"chat", "ts", "sender", "text"}], …}]}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from chatclone import render
from chatclone.cli_common import JsonOpt, WorkspaceOpt, emit_json
from chatclone.errors import ChatcloneError
from chatclone.memory.slots import SLOTS, STATUSES
from chatclone.workspace import Workspace

if TYPE_CHECKING:
    from chatclone.memory.facts import Fact, FactStore

facts_app = typer.Typer(
    help="Facts about you found in your own messages, each with the messages it rests on: "
    "review them so the clone states only what is true.",
    invoke_without_command=True,
    no_args_is_help=False,
)

IdArg = Annotated[str, typer.Argument(help="The fact's id, as `chatclone facts` lists it (f12).")]


def _store(workspace: Path | None) -> FactStore:
    from chatclone.memory.facts import FactStore

    return FactStore(Workspace.resolve(workspace))


def _show(facts: list[Fact]) -> None:
    if not facts:
        render.out.print("No facts on record: run `chatclone facts extract`.")
    for f in facts:
        mark = {"confirmed": "[green]✓[/]", "rejected": "[red]✗[/]"}.get(f.status, " ")
        old = f" [dim](→ {f.superseded_by})[/]" if f.superseded_by else ""
        render.out.print(
            f"{mark} [bold]{f.id:>4}[/] {escape(f.line())}{old} [dim]{f.confidence:.2f}[/]"
        )
        for e in f.evidence[:2]:
            render.out.print(f"       [dim]{escape(e.chat)} · {e.ts} · {escape(e.text[:80])}[/]")


@facts_app.callback()
def facts_list(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option("--status", help=f"Only facts with this status: {', '.join(STATUSES)}."),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the facts on record (rejected ones too, marked), each with its evidence."""
    if ctx.invoked_subcommand is not None:
        return
    if status is not None and status not in STATUSES:
        raise ChatcloneError(f"unknown status '{status}': use one of {', '.join(STATUSES)}")
    facts = [f for f in _store(workspace).facts() if status is None or f.status == status]
    if as_json:
        emit_json({"facts": [f.to_json() for f in facts]})
    else:
        _show(facts)


@facts_app.command()
def extract(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Find candidate facts in your own messages and file the new ones (running it again adds
    nothing for the same messages). Offline unless `[memory] extractor_url` is set."""
    store = _store(workspace)
    with render.CountBars(enabled=not as_json) as bars:
        added, facts = store.extract(bars.start)
    if as_json:
        emit_json({"added": added, "facts": [f.to_json() for f in facts]})
        return
    _show(facts)
    render.out.print(f"{added} new of {len(facts)} facts on record. Review them: "
                     "`chatclone facts confirm|reject ID`, `chatclone facts edit ID VALUE`.")  # fmt: skip


def _one(fact: Fact, as_json: bool) -> None:
    if as_json:
        emit_json(fact.to_json())
    else:
        _show([fact])


@facts_app.command()
def confirm(id: IdArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Mark a fact as true: the clone may state it."""
    _one(_store(workspace).confirm(id), as_json)


@facts_app.command()
def reject(id: IdArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Mark a fact as wrong: the clone never states it (it stays on record, marked)."""
    _one(_store(workspace).reject(id), as_json)


@facts_app.command()
def add(
    slot: Annotated[str, typer.Argument(help=f"One of: {', '.join(SLOTS)}.")],
    value: Annotated[str, typer.Argument(help="The fact, in a few words.")],
    negative: Annotated[bool, typer.Option("--not", help="It is NOT so (no siblings).")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """State a fact yourself (confirmed, dated today)."""
    _one(_store(workspace).add(slot, value, negative), as_json)


@facts_app.command()
def edit(
    id: IdArg,
    value: Annotated[str, typer.Argument(help="The corrected value.")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Correct a fact's value: a new fact replaces it; the old one stays on record."""
    _one(_store(workspace).edit(id, value), as_json)
