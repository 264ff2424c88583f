"""``movierec data``: list, fetch, describe and convert MovieLens releases; manage the parse cache."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from ..data.archive import pack_release
from ..data.dataset import Dataset
from ..data.download import fetch as fetch_release
from ..data.download import local_copy
from ..data.download import resolve_data_dir as default_data_dir
from ..data.releases import FORMATS, RELEASES, release
from ..data.writers import write_release
from ..errors import DataError
from .app import (
    DataDirOption,
    JsonOption,
    MoviesOption,
    RatingScaleOption,
    app,
    bold,
    console,
    group,
    load_dataset,
    say,
    status,
)

data_app = group(
    "Download and inspect MovieLens releases.\n\n"
    "Example: [bold]movierec data fetch ml-1m && movierec data info ml-1m[/bold]"
)
app.add_typer(data_app, name="data")



def summarize(data: Dataset) -> dict:
    """The figures ``data info`` shows, as plain JSON-ready values."""
    values, counts = np.unique(data.ratings, return_counts=True)
    stamped = data.timestamps[data.timestamps > 0]
    day = lambda t: datetime.fromtimestamp(int(t), timezone.utc).date().isoformat()  # noqa: E731
    genres = sorted(data.catalog.genre_counts().items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "name": data.name,
        "source": data.source,
        "users": data.n_users,
        "movies_rated": data.n_movies,
        "movies_in_catalog": len(data.catalog),
        "ratings": data.n_ratings,
        "density": data.n_ratings / max(data.n_users * data.n_movies, 1),
        "rating_scale": list(data.rating_scale),
        "mean_rating": float(data.ratings.mean()),
        "rating_histogram": {f"{v:g}": int(c) for v, c in zip(values.tolist(), counts.tolist())},
        "genres": dict(genres),
        "first_rating": day(stamped.min()) if stamped.size else None,
        "last_rating": day(stamped.max()) if stamped.size else None,
        "fingerprint": data.fingerprint,
    }


@data_app.command("list")
def list_releases(data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List the GroupLens releases movierec knows and which are already in the data folder.

    Example: [bold]movierec data list --data-dir ~/movielens[/bold]
    """
    folder = default_data_dir(data_dir)
    rows = [
        {
            "name": r.name, "format": r.format, "ratings": r.n_ratings,
            "scale": f"{r.rating_scale[0]:g}-{r.rating_scale[1]:g} by {r.rating_step:g}",
            "local": str(local_copy(r, folder) or ""), "url": r.url,
        }
        for r in RELEASES.values()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    say(f"MovieLens releases (data folder: {bold(folder)})")
    table = Table()
    for column in ("name", "format", "ratings", "scale", "local"):
        table.add_column(column, justify="right" if column == "ratings" else "left")
    for row in rows:
        table.add_row(row["name"], row["format"], f"{row['ratings']:,}" if row["ratings"] else "~33M",
                      row["scale"], row["local"] or "[dim]not downloaded[/dim]")
    console.print(table)


@data_app.command()
def fetch(
    name: Annotated[str, typer.Argument(help=f"Release name: {', '.join(RELEASES)}.", show_default=False)],
    data_dir: DataDirOption = None,
) -> None:
    """Download a release into the data folder, verified against its published MD5.

    A release already there (zip or extracted folder) is used as is, with no network access.
    Offline? Download the zip yourself and put it in the data folder.

    Example: [bold]movierec data fetch ml-25m --data-dir ~/movielens[/bold]
    """
    rel = release(name)
    path = fetch_release(rel, data_dir, progress=True)
    say(f"[green]{rel.name}[/green] is at {bold(path)}")


@data_app.command()
def info(
    data: Annotated[
        str,
        typer.Argument(help="A release name, a release zip or folder, or a ratings CSV.", show_default=False),
    ],
    data_dir: DataDirOption = None,
    movies: MoviesOption = None,
    rating_scale: RatingScaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Describe a dataset: users, movies, ratings, density, rating histogram, genres, dates.

    Example: [bold]movierec data info ml-latest-small[/bold]  or  [bold]movierec data info my_ratings.csv --json[/bold]
    """
    facts = summarize(load_dataset(data, data_dir, movies=movies, rating_scale=rating_scale))
    if as_json:
        typer.echo(json.dumps(facts, indent=2, ensure_ascii=False))
        return
    say(f"{bold(facts['name'])}  [dim]({escape(facts['source'])})[/dim]")
    overview = Table(show_header=False)
    overview.add_column(style="bold")
    overview.add_column(justify="right")
    for label, value in (
        ("users", f"{facts['users']:,}"),
        ("movies rated", f"{facts['movies_rated']:,}"),
        ("movies in catalog", f"{facts['movies_in_catalog']:,}"),
        ("ratings", f"{facts['ratings']:,}"),
        ("density", f"{facts['density']:.2%}"),
        ("rating scale", f"{facts['rating_scale'][0]:g} to {facts['rating_scale'][1]:g}"),
        ("mean rating", f"{facts['mean_rating']:.2f}"),
        ("dates", f"{facts['first_rating']} to {facts['last_rating']}" if facts["first_rating"] else "no timestamps"),
    ):
        overview.add_row(label, value)
    console.print(overview)
    histogram = Table(title="Ratings")
    histogram.add_column("stars", justify="right")
    histogram.add_column("count", justify="right")
    histogram.add_column("")
    top = max(facts["rating_histogram"].values())
    for stars, count in facts["rating_histogram"].items():
        histogram.add_row(stars, f"{count:,}", "█" * max(1, round(30 * count / top)))
    console.print(histogram)
    if facts["genres"]:
        genres = Table(title="Genres (movies in the catalog)")
        genres.add_column("genre")
        genres.add_column("movies", justify="right")
        for genre, count in facts["genres"].items():
            genres.add_row(genre, f"{count:,}")
        console.print(genres)


@data_app.command()
def convert(
    data: Annotated[str, typer.Argument(help="A release name, zip, folder or ratings CSV.", show_default=False)],
    output: Annotated[Path, typer.Argument(help="Folder to write the release files into.", show_default=False)],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"File layout: {', '.join(FORMATS)} or a release name (ml-1m).")
    ] = "csv",
    zip_: Annotated[bool, typer.Option("--zip", help="Also pack the folder into OUTPUT.zip.")] = False,
    data_dir: DataDirOption = None,
    movies: MoviesOption = None,
    rating_scale: RatingScaleOption = None,
) -> None:
    """Write a dataset in another release layout (e.g. to feed a tool that reads ml-1m files).

    Example: [bold]movierec data convert ml-latest-small out/ml-small-dat --format dat --zip[/bold]
    """
    if output.exists() and not output.is_dir():
        raise DataError(f"{output} is a file: expected a folder (new or existing) for the release files")
    dataset = load_dataset(data, data_dir, movies=movies, rating_scale=rating_scale)
    with status(f"Writing {output}…"):
        folder = write_release(dataset, output, fmt)
        packed = pack_release(folder) if zip_ else None
    say(f"Wrote {dataset.n_ratings:,} ratings to {bold(folder)}" + (f" and {bold(packed)}" if packed else ""))


@data_app.command()
def cache(
    clear: Annotated[bool, typer.Option("--clear", help="Delete them all; the next load parses again.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List the parsed copies of loaded data, or delete them with --clear.

    The first load of a release or CSV parses it and keeps its arrays in the
    cache folder ($MOVIEREC_CACHE, else your user cache): the next load takes
    milliseconds. A source that changes replaces its own entry; entries of
    sources you no longer use stay until cleared.

    Example: [bold]movierec data cache --clear[/bold]
    """
    from ..data.loading import cache_dir, cache_entries, clear_cache

    if clear:
        count, freed = clear_cache()
        if as_json:
            typer.echo(json.dumps({"cache": str(cache_dir()), "deleted": count, "bytes": freed}))
        else:
            say(f"Deleted {count} cached load(s), {freed / 2**20:,.1f} MiB, from {bold(cache_dir())}")
        return
    entries = cache_entries()
    if as_json:
        typer.echo(json.dumps({"cache": str(cache_dir()), "entries": entries}, indent=2))
        return
    total = sum(e["bytes"] for e in entries)
    say(f"Parsed data in {bold(cache_dir())}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, "
        f"{total / 2**20:,.1f} MiB")  # fmt: skip
    table = Table()
    for column in ("source", "MiB", "written"):
        table.add_column(column, justify="right" if column == "MiB" else "left")
    for e in entries:
        when = datetime.fromtimestamp(e["modified"], timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        table.add_row(e["source"] or "[dim](interrupted write)[/dim]", f"{e['bytes'] / 2**20:,.1f}", when)
    console.print(table)
