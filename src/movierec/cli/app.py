"""The Typer application and what every command shares: error handling, common options."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer
from rich.progress import (
    BarColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from typer.core import TyperGroup

from ..data.dataset import Dataset
from ..errors import DataError, DataWarning, MovierecError
from ..models import MOVIES, Model, TrainingEvent
from .help import tidy_command
from .output import bold, console, err_console, error, note, progress, say, status

if TYPE_CHECKING:
    from ..recommend.recommender import Recommender

__all__ = ["bold", "console", "err_console", "error", "note", "say", "status"]


# Typer 0.29 parses with its own copy of click; older Typers use click itself.
_USAGE_ERRORS = tuple({click.UsageError, getattr(getattr(typer, "_click", click), "exceptions", click).UsageError})


class _Group(TyperGroup):
    """Turns movierec's own errors into one readable line and exit code 1, never a traceback;
    gives every command plain help text (help.py)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        return tidy_command(command) if command is not None else None

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        tidy_command(self)
        super().format_help(ctx, formatter)

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except _USAGE_ERRORS as exc:  # a bad option value: one line too, not the usage block
            if type(exc).__name__ == "NoArgsIsHelpError":
                raise
            where = (exc.ctx or ctx).command_path.split()[1:]  # the program name may be "-c" or a path
            error(f"{exc.format_message()} (see movierec {' '.join(where)} --help)".replace("  ", " "))
            raise typer.Exit(exc.exit_code) from None
        except (MovierecError, ValueError, OSError) as exc:
            error(str(exc))
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("[bold red]Interrupted.[/bold red]", soft_wrap=True)
            raise typer.Exit(130) from None


def group(help: str) -> typer.Typer:
    return typer.Typer(
        cls=_Group,
        help=help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,  # click's plain help: see help.py
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
ModelOption = Annotated[
    Path, typer.Option("--model", "-m", help="Model folder written by [bold]movierec train -o[/bold].")
]
CountOption = Annotated[int, typer.Option("-n", "--n", min=1, help="How many movies to list.")]
RatingScaleOption = Annotated[
    str | None,
    typer.Option(
        "--rating-scale",
        help="Rating scale of a plain ratings CSV as LOW,HIGH, e.g. 1,10 \\[default: stars, 0 to 5].",
        show_default=False,
    ),
]
MoviesOption = Annotated[
    Path | None,
    typer.Option("--movies", help="A movies CSV (movieId,title,genres) to go with a plain ratings CSV."),
]


@app.callback()
def _root() -> None:
    """Keeps movierec a command group even while a single command is registered."""


@contextmanager
def data_notes(what: str) -> Iterator[None]:
    """A spinner while data loads; its DataWarnings (duplicates kept, movies added, feedback
    dropped) become printed notes, not Python warnings."""
    with warnings.catch_warnings(record=True) as caught, status(f"Loading {what}…"):
        warnings.simplefilter("always", DataWarning)
        yield
    for w in caught:
        note(str(w.message))


def parse_scale(text: str | None) -> tuple[float, float] | None:
    """``--rating-scale 1,10`` -> (1.0, 10.0)."""
    if text is None:
        return None
    low, sep, high = text.replace("..", ",").partition(",")
    try:
        scale = (float(low), float(high))
    except ValueError:
        scale = None
    if not sep or scale is None or not scale[0] < scale[1]:
        raise DataError(f"--rating-scale {text}: expected LOW,HIGH with LOW < HIGH, e.g. --rating-scale 1,10")
    return scale


def load_dataset(
    data: str,
    data_dir: Path | None,
    *,
    movies: Path | None = None,
    feedback: Path | None = None,
    rating_scale: str | None = None,
) -> Dataset:
    """load() with :func:`data_notes`, merging stored visitor feedback when given."""
    from ..data.loading import load

    scale = parse_scale(rating_scale)
    with data_notes(data):
        dataset = load(data, data_dir, movies=movies, rating_scale=scale)
        if feedback is not None:
            from ..serve.feedback import merge_feedback

            before = dataset
            dataset = merge_feedback(dataset, feedback)
    if feedback is not None:
        added = dataset.n_ratings - before.n_ratings
        visitors = dataset.n_users - before.n_users
        note(f"added {added:,} ratings by {visitors:,} visitors of movierec serve from {feedback} as new users"
             if added else f"{feedback} holds no usable ratings; nothing was added")
    return dataset


def describe_dataset(dataset: Dataset) -> str:
    """One plain line about a dataset (its repr is for Python users)."""
    low, high = dataset.rating_scale
    return (
        f"{dataset.name}: {dataset.n_ratings:,} ratings of {dataset.n_movies:,} movies by {dataset.n_users:,} users "
        f"({low:g} to {high:g} stars; {len(dataset.catalog):,} movies in the catalog)"
    )


def load_model(model: Path) -> "Recommender":
    from ..recommend.recommender import Recommender

    with status(f"Loading the model from {model}…"):
        return Recommender.load(model)


def describe_model(rec: "Recommender") -> str:
    """One plain line about a trained model (its repr is for Python users)."""
    models = ", ".join(f"{kind} model {m.name}" for kind, m in rec.artifact.models().items())
    return f"{models}; trained on {rec.artifact.dataset} ({len(rec.user_vocab):,} users, {len(rec.movie_vocab):,} movies)"


class TrainingBars:
    """One Rich progress bar per model: epoch, loss and the validation metric of each TrainingEvent.

    Use as ``with TrainingBars() as bars: Recommender.fit(..., callback=bars.event, on_start=bars.start)``.
    """

    def __init__(self) -> None:
        self.progress = progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
        )
        self.task: TaskID | None = None

    def __enter__(self) -> "TrainingBars":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.finish()
        self.progress.__exit__(*exc)

    def start(self, kind: str, model: Model | None) -> None:
        self.finish()
        self.task = self.progress.add_task(kind if model is None else f"{kind}: {model.name}", total=None, info="")

    def event(self, e: TrainingEvent) -> None:
        if self.task is None:
            return
        if e.metric == MOVIES:
            info = f"{e.epoch:,}/{e.n_epochs:,} movies"
        else:
            info = f"epoch {e.epoch}/{e.n_epochs}  loss {e.loss:.4f}"
            info += f"  {e.metric} {e.validation:.4f}" if e.validation is not None else ""
        self.progress.update(self.task, total=e.n_epochs, completed=e.epoch, info=info)

    def finish(self) -> None:
        if self.task is not None:
            done = self.progress.tasks[self.task].completed
            self.progress.update(self.task, total=max(done, 1), completed=max(done, 1))
        self.task = None


def read_csv_input(path: Path, what: str, expected: str):
    """A small user-supplied CSV as a table of strings (validated by the caller, column by
    column); a missing, empty or unreadable file is one clear error naming ``expected``."""
    import pandas as pd

    if path.is_dir():
        raise DataError(f"{what} {path} is a folder: expected a CSV file with {expected}")
    if not path.is_file():
        raise DataError(f"{what} {path} does not exist: expected a CSV with {expected}")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: expected a header line with {expected}, then one row per line") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split()).removeprefix("Error tokenizing data. C error: ")
        raise DataError(f"{path} is not a readable CSV ({reason}): expected {expected}") from None


def _writable_parent(path: Path, flag: str) -> None:
    """The nearest existing folder above ``path`` must be a folder we may write into."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise DataError(f"{flag} {path}: {parent} is a file, expected a folder; choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"{flag} {path}: cannot write into {parent} (permission denied); choose a folder you own")


def check_model_output(path: Path, force: bool, flag: str = "--output") -> None:
    """Before any training: ``path`` must be new, an empty folder, or (with --force) an older model."""
    from ..recommend.artifact import META_FILE

    if path.exists() and not path.is_dir():
        raise DataError(f"{flag} {path} is a file: expected a folder for the model (or a new path); choose another name")
    if path.is_dir() and any(path.iterdir()):
        if not (path / META_FILE).exists():
            raise DataError(
                f"{flag} {path} is a folder holding other files and no {META_FILE}: expected a new or empty folder; "
                "choose another name"
            )
        if not force:
            raise DataError(f"{flag} {path} already holds a model: pass --force to replace it, or choose another name")
        if not os.access(path, os.W_OK | os.X_OK):
            raise DataError(f"{flag} {path}: cannot write into it (permission denied); choose a folder you own")
    _writable_parent(path, flag)


def check_file_output(path: Path | None, flag: str = "--output", make_folder: bool = False) -> None:
    """Before any scoring: ``path`` (None: stdout) must be a file whose folder exists (or, with
    ``make_folder``, can be made) and is writable."""
    if path is None or str(path) == "-":
        return
    if path.is_dir():
        raise DataError(f"{flag} {path} is a folder: expected a file name, e.g. {flag} {path / 'out.csv'}")
    if not path.parent.is_dir():
        if make_folder:
            return _writable_parent(path, flag)
        raise DataError(f"{flag} {path}: the folder {path.parent} does not exist; create it first or choose another path")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise DataError(f"{flag} {path}: cannot write it (permission denied); choose a folder you own")
