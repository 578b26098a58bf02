"""The local backend's progress display: a bar with step, loss, tokens per second and ETA on
stderr in a terminal; one plain line per validation otherwise (logs, CI), nothing with --json."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from chatclone import render


class TrainProgress(render.LiveProgress):
    def __init__(self, total: int, done: int, enabled: bool) -> None:
        self.enabled = enabled
        self.live = enabled and render.err.is_terminal
        self.progress = Progress(
            TextColumn("[bold]training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[speed]} tok/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=render.err,
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
        if self.live:
            self.progress.console.print(text)
        elif self.enabled:
            render.err.print(text)
