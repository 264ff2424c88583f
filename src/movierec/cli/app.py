"""The Typer application and what every command shares: error handling, common options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from ..errors import MovierecError

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
