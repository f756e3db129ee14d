"""Progress bars on stderr for long operations (export, import, re-embedding).

Drawn only when stderr is a terminal, so pipes and logs stay clean; stdout carries data.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from memory_cli._output import stderr_console


def make_progress(console: Console | None = None) -> Progress:
    """The bar layout: description, bar, done/total, percent, time left (fits 80 columns)."""
    console = console or stderr_console()
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=None),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(compact=True),
        console=console,
        disable=not console.is_terminal,
        expand=False,
    )


@dataclass
class Tracker:
    """What a command updates; also usable as a ``progress(done, total)`` callback."""

    progress: Progress
    task: TaskID

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)

    def __call__(self, done: int, total: int | None = None) -> None:
        self.progress.update(self.task, completed=done, total=total)


@contextmanager
def tracked(
    description: str, total: int | None, console: Console | None = None
) -> Iterator[Tracker]:
    progress = make_progress(console)
    with progress:
        task = progress.add_task(description, total=total)
        yield Tracker(progress, task)
