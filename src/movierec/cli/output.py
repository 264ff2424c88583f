"""Where the CLI's text goes, so that it survives any terminal, pipe or test.

stdout carries the results (tables, JSON, CSV) and nothing else; stderr carries errors, notes,
spinners and progress. One-line messages are printed with ``soft_wrap`` so a narrow terminal
never breaks them inside a path or a quoted argument (the terminal folds the long line itself).
Rich colours only a terminal (or where the user sets FORCE_COLOR); on a pipe, spinners stay
silent and progress bars become plain, throttled lines on stderr.
"""

from __future__ import annotations

import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, ProgressColumn

console = Console(highlight=False)  # the CLI prints; the library never does
err_console = Console(stderr=True, highlight=False)

PLAIN_EVERY_S = 5.0  # a plain progress line at most this often per task (pipes, logs)


def bold(value: object) -> str:
    """``value`` (a path, a command) in bold, its ``[...]`` kept as text."""
    return f"[bold]{escape(str(value))}[/bold]"


def say(markup: str) -> None:
    """A one-line result message on stdout (markup allowed; escape values with :func:`bold` or ``escape``)."""
    console.print(markup, soft_wrap=True)


def note(text: str) -> None:
    """A plain-text note on stderr: what movierec did for the user, or what is missing."""
    err_console.print(f"[yellow]Note:[/yellow] {escape(text)}", soft_wrap=True)


def error(text: str) -> None:
    err_console.print(f"[bold red]Error:[/bold red] {escape(text)}", soft_wrap=True)


def status(text: str):
    """A spinner on stderr while something short runs; nothing on a pipe."""
    return err_console.status(escape(text)) if err_console.is_terminal else nullcontext()


def progress(*columns: ProgressColumn | str, transient: bool = False) -> "Progress | PlainProgress":
    """A Rich progress display on a terminal's stderr; elsewhere :class:`PlainProgress`."""
    if err_console.is_terminal:
        return Progress(*columns, console=err_console, transient=transient)
    return PlainProgress()


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float = 0
    fields: dict[str, Any] = field(default_factory=dict)
    shown: float = 0.0  # monotonic time of the last line printed
    finished: bool = False


class PlainProgress:
    """The part of rich.progress.Progress the CLI uses, as plain lines on stderr: one when a task
    starts, then at most one every PLAIN_EVERY_S seconds, and one when it completes."""

    def __init__(self) -> None:
        self.tasks: list[_Task] = []

    def __enter__(self) -> "PlainProgress":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> int:
        self.tasks.append(_Task(description, total, fields=fields))
        self._line(len(self.tasks) - 1, force=True)
        return len(self.tasks) - 1

    def update(self, task_id: int, *, total: float | None = None, completed: float | None = None,
               advance: float | None = None, **fields: Any) -> None:
        task = self.tasks[task_id]
        if total is not None:
            task.total = total
        if completed is not None:
            task.completed = completed
        if advance:
            task.completed += advance
        task.fields.update(fields)
        done = task.total is not None and task.completed >= task.total
        self._line(task_id, force=done and not task.finished)
        task.finished = done

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def _line(self, task_id: int, force: bool) -> None:
        task = self.tasks[task_id]
        now = time.monotonic()
        if not force and now - task.shown < PLAIN_EVERY_S:
            return
        task.shown = now
        count = f" {task.completed:g}/{task.total:g}" if task.total is not None else ""
        info = task.fields.get("info") or ""
        print(f"{task.description}{count} {info}".rstrip(), file=sys.stderr, flush=True)
