"""The Typer application and what every command shares: error handling, common options."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from ..data.dataset import Dataset
from ..errors import DataError, DataWarning, MovierecError
from ..models import Model, TrainingEvent

console = Console()  # the CLI prints; the library never does
err_console = Console(stderr=True)


class _Group(TyperGroup):
    """Turns movierec's own errors into one readable line and exit code 1, never a traceback."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except (MovierecError, ValueError, OSError) as exc:
            # soft_wrap: the message stays one line however narrow the terminal; escape: "[...]" in it is text
            err_console.print(f"[bold red]Error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("[bold red]Interrupted.[/bold red]")
            raise typer.Exit(130) from None


def group(help: str) -> typer.Typer:
    return typer.Typer(
        cls=_Group,
        help=help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
    )


app = group(
    "movierec: train, evaluate, use and serve movie recommenders on MovieLens.\n\n"
    "Start with [bold]movierec demo[/bold], or e.g. [bold]movierec train --data ml-latest-small -o model[/bold]."
)


# Options shared by several commands.
DataOption = Annotated[
    str,
    typer.Option(
        "--data",
        "-d",
        help="A release name (ml-latest-small, ml-100k, ml-1m, ml-10m, ml-20m, ml-25m, ml-32m, ml-latest), "
        "a release zip or folder, or a ratings CSV (userId,movieId,rating[,timestamp]).",
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="MOVIEREC_DATA",
        help="Folder of downloaded releases \\[default: $MOVIEREC_DATA, else the user cache folder].",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


@app.callback()
def _root() -> None:
    """Keeps movierec a command group even while a single command is registered."""


@contextmanager
def data_notes(what: str) -> Iterator[None]:
    """A spinner while data loads; its DataWarnings (duplicates kept, movies added, feedback
    dropped) become printed notes, not Python warnings."""
    with warnings.catch_warnings(record=True) as caught, err_console.status(f"Loading {what}…"):
        warnings.simplefilter("always", DataWarning)
        yield
    for w in caught:
        err_console.print(f"[yellow]Note:[/yellow] {w.message}", highlight=False)


def load_dataset(
    data: str, data_dir: Path | None, *, movies: Path | None = None, feedback: Path | None = None
) -> Dataset:
    """load() with :func:`data_notes`, merging stored visitor feedback when given."""
    from ..data.loading import load

    with data_notes(data):
        dataset = load(data, data_dir, movies=movies)
        if feedback is not None:
            from ..serve.feedback import merge_feedback

            dataset = merge_feedback(dataset, feedback)
    return dataset


class TrainingBars:
    """One Rich progress bar per model: epoch, loss and the validation metric of each TrainingEvent.

    Use as ``with TrainingBars() as bars: Recommender.fit(..., callback=bars.event, on_start=bars.start)``.
    """

    def __init__(self) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> "TrainingBars":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.finish()
        self.progress.__exit__(*exc)

    def start(self, kind: str, model: Model) -> None:
        self.finish()
        self.task = self.progress.add_task(f"{kind}: {model.name}", total=None, info="")

    def event(self, e: TrainingEvent) -> None:
        if self.task is None:
            return
        info = f"loss {e.loss:.4f}" + (f"  {e.metric} {e.validation:.4f}" if e.validation is not None else "")
        self.progress.update(self.task, total=e.n_epochs, completed=e.epoch, info=f"epoch {e.epoch}/{e.n_epochs}  {info}")

    def finish(self) -> None:
        if self.task is not None:
            done = self.progress.tasks[self.task].completed
            self.progress.update(self.task, total=max(done, 1), completed=max(done, 1))
        self.task = None


def read_csv_input(path: Path, what: str, expected: str):
    """A small user-supplied CSV as a table of strings (validated by the caller, column by
    column); a missing, empty or unreadable file is one clear error naming ``expected``."""
    import pandas as pd

    if not path.is_file():
        raise DataError(f"{what} {path} does not exist: expected a CSV with {expected}")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: expected a header line with {expected}, then one row per line") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV ({str(exc).strip()}): expected {expected}") from None
