"""``movierec recommend``: top movies for a user of the data, a new user's ratings, or every user."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import pandas as pd
import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

from ..errors import DataError
from ..recommend.novelty import DEFAULT_EXPLORE
from .app import (
    CountOption,
    JsonOption,
    ModelOption,
    app,
    bold,
    check_file_output,
    console,
    load_model,
    note,
    progress,
    read_csv_input,
    say,
)
from .spark import DEFAULT_MASTER, EngineOption, MasterOption, SparkConfOption, check_engine
from .spark import recommend_all as recommend_on_spark
from .tables import NO_GENRES_FIX, has_genres, popular_table, recommendation_table

if TYPE_CHECKING:
    from ..recommend.recommender import Recommender

BATCH_USERS = 2048  # users per recommend_batch call: one progress step, bounded memory


def parse_rated(pairs: list[str]) -> list[tuple[str, float]]:
    """``"Toy Story (1995)=5"`` / ``"260=4"`` -> (movie, stars); the last ``=`` separates them."""
    out = []
    for pair in pairs:
        movie, sep, stars = pair.rpartition("=")
        if not sep or not movie.strip():
            raise DataError(f"--rated {pair!r}: expected MOVIE=STARS, e.g. --rated \"Toy Story (1995)=5\" or --rated 260=4")
        try:
            out.append((movie.strip(), float(stars)))
        except ValueError:
            raise DataError(f"--rated {pair!r}: {stars!r} is not a number of stars, e.g. 4 or 3.5") from None
    return out


def read_ratings_file(path: Path) -> list[tuple[str, float]]:
    """A new user's ratings from a CSV with a ``movieId`` or ``title`` column and a ``rating`` column."""
    frame = read_csv_input(path, "ratings file", "columns movieId (or title) and rating")
    columns = {c.strip().lower(): c for c in frame.columns}
    movie = columns.get("movieid") or columns.get("title") or columns.get("movie")
    if movie is None or "rating" not in columns:
        found = ",".join(map(str, frame.columns))
        raise DataError(f"{path}: expected columns movieId (or title) and rating in the header, found {found!r}")
    stars = pd.to_numeric(frame[columns["rating"]].str.strip(), errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(stars))
    if bad.size:
        row = int(bad[0])
        raise DataError(f"{path} line {row + 2}: rating {frame[columns['rating']].iloc[row]!r} is not a number")
    if frame.empty:
        raise DataError(f"{path} has a header but no ratings: add lines such as 260,4")
    return list(zip(frame[movie].str.strip().tolist(), stars.tolist()))


def resolve_ratings(rec: Recommender, rated: list[tuple[str, float]]) -> tuple[dict[int, float], list[str]]:
    """Titles or ids -> ``{movie_id: stars}``, stars checked against the scale; notes for the user."""
    low, high = rec.rating_scale
    ratings: dict[int, float] = {}
    notes = []
    for movie, stars in rated:
        if not low <= stars <= high:
            raise DataError(f"{movie}={stars:g}: stars must be between {low:g} and {high:g} (this model's rating scale)")
        movie_id = rec.find_movie(movie)
        if movie_id in ratings and ratings[movie_id] != stars:
            notes.append(f"{movie!r} was rated twice; keeping {stars:g}★")
        ratings[movie_id] = stars
    unknown = [m for m in ratings if m not in rec.movie_vocab]
    for movie_id in unknown:
        notes.append(f"{rec.movie_info(movie_id)['title']} has no ratings in the training data; the model ignores it")
    return ratings, notes


def _read_user_ids(rec: Recommender, users: str) -> np.ndarray:
    if users.strip().lower() == "all":
        return rec.user_vocab.ids.copy()
    path = Path(users)
    if path.is_dir():
        raise DataError(f"--users {users}: is a folder; expected 'all' or a file of user ids (a userId column or one id per line)")
    if not path.is_file():
        raise DataError(f"--users {users!r}: expected 'all' or a file of user ids (a userId column or one id per line)")
    text = path.read_text(encoding="utf-8", errors="replace")
    values = pd.Series([line.split(",")[0].strip() for line in text.splitlines() if line.strip()], dtype=object)
    if values.size and not values.iloc[0].isdigit():  # a header line such as userId
        values = values.iloc[1:]
    if values.empty:
        raise DataError(f"--users {path} holds no user ids: expected a userId header and one id per line, e.g. 1")
    bad = ~values.str.fullmatch(r"\d{1,18}").to_numpy(bool)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"--users {path}: {values.iloc[row]!r} is not a user id: expected one non-negative integer per line "
            "(optionally after a userId header)"
        )
    ids = values.to_numpy().astype(np.int64)
    rec.user_vocab.index(ids)  # unknown users: one clear error before any scoring
    return ids


def _batch(rec: Recommender, user_ids: np.ndarray, n: int, output: Path | None, titles: bool) -> None:
    """Top-``n`` of many users through Recommender.recommend_batch, a block of users at a time,
    each block written as it comes (Parquet for a ``.parquet`` output, else CSV): memory stays
    one block whatever the number of users."""
    to_stdout = output is None or str(output) == "-"
    parquet = not to_stdout and output.suffix.lower() == ".parquet"
    writer, written = None, 0
    bars = progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("users"), TimeElapsedColumn(),
        transient=to_stdout,
    )
    text = nullcontext() if to_stdout or parquet else open(output, "w", encoding="utf-8", newline="")
    with bars, text as out:
        task = bars.add_task("Recommending", total=int(user_ids.size))
        for start in range(0, max(user_ids.size, 1), BATCH_USERS):
            block = user_ids[start : start + BATCH_USERS]
            movies, scores = rec.recommend_batch(block, n)
            keep = movies >= 0
            frame = pd.DataFrame(
                {
                    "userId": np.broadcast_to(block[:, None], movies.shape)[keep],
                    "rank": np.broadcast_to(np.arange(1, movies.shape[1] + 1, dtype=np.int32), movies.shape)[keep],
                    "movieId": movies[keep],
                    "score": np.round(scores[keep], 5),
                }
            )
            if titles:
                frame["title"] = rec.catalog.titles[np.maximum(rec.catalog.rows(frame["movieId"].to_numpy()), 0)]
            if parquet:
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(frame, preserve_index=False)
                writer = writer or pq.ParquetWriter(output, table.schema)
                writer.write_table(table)
            elif out is not None:
                frame.to_csv(out, index=False, header=start == 0)
            else:
                typer.echo(frame.to_csv(index=False, header=start == 0), nl=False)
            written += len(frame)
            bars.advance(task, block.size)
    if writer is not None:
        writer.close()
    if not to_stdout:
        say(f"Wrote {written:,} recommendations for {user_ids.size:,} users to {bold(output)}.")


@app.command()
def recommend(
    model: ModelOption,
    user: Annotated[int | None, typer.Option("--user", "-u", help="A user of the training data, by MovieLens id.")] = None,
    rated: Annotated[
        list[str] | None,
        typer.Option(
            "--rated", "-r",
            help='A new user\'s rating as MOVIE=STARS, MOVIE a title (forgiving: "matrix, the") or an id; repeatable.',
        ),
    ] = None,
    ratings: Annotated[
        Path | None, typer.Option("--ratings", help="A new user's ratings: CSV with movieId (or title) and rating columns.")
    ] = None,
    users: Annotated[
        str | None, typer.Option("--users", help="Batch mode: 'all' or a file of user ids; writes userId,rank,movieId,score.")
    ] = None,
    n: CountOption = 10,
    genre: Annotated[
        list[str] | None, typer.Option("--genre", "-g", help="Only movies of this genre; repeat to require several.")
    ] = None,
    year_from: Annotated[int | None, typer.Option(help="Only movies released in or after this year.")] = None,
    year_to: Annotated[int | None, typer.Option(help="Only movies released in or before this year.")] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Batch mode: file to write, Parquet when it ends in .parquet, else CSV \\[default: CSV on stdout]."),
    ] = None,
    titles: Annotated[bool, typer.Option("--titles", help="Batch mode: add a title column.")] = False,
    explore: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help=f"0 = the model's order, up to 1 = movies fewer people rated \\[default: the model's, {DEFAULT_EXPLORE:g}]."),
    ] = None,
    as_json: JsonOption = False,
    engine: EngineOption = "local",
    spark_master: MasterOption = DEFAULT_MASTER,
    spark_conf: SparkConfOption = None,
) -> None:
    """Recommend movies someone has not seen, each with the reason ("because you rated ...").

    Example, a user of the training data: [bold]movierec recommend -m model --user 1 -n 10[/bold]

    Example, only 90s comedies: [bold]movierec recommend -m model --user 1 --genre Comedy --year-from 1990 --year-to 1999[/bold]

    Example, a new user, without retraining (their ratings are folded in):
    [bold]movierec recommend -m model --rated "Toy Story (1995)=5" --rated "matrix, the=4.5" --rated 260=4[/bold]
    or [bold]movierec recommend -m model --ratings my_ratings.csv[/bold] (columns movieId or title, and rating).

    Example, less-known films among the relevant ones: [bold]movierec recommend -m model --user 1 --explore 0.5[/bold]

    Example, every user at once: [bold]movierec recommend -m model --users all -n 10 -o top10.csv[/bold]

    Example, every user scored on Spark, as Parquet part files:
    [bold]movierec recommend -m model --engine spark --spark-master "local[4]" --users all -o recs.parquet[/bold]
    """
    modes = [name for name, given in (("--user", user is not None), ("--rated/--ratings", bool(rated) or ratings is not None), ("--users", users is not None)) if given]
    if len(modes) != 1:
        raise DataError(
            ("choose one of" if modes else "expected one of") + " --user ID, --rated MOVIE=STARS (or --ratings FILE), "
            "--users all|FILE" + (f"; got {' and '.join(modes)}" if modes else "") + ". See movierec recommend --help"
        )
    if year_from is not None and year_to is not None and year_from > year_to:
        raise DataError(f"--year-from {year_from} is after --year-to {year_to}: swap them")
    if users is not None and (genre or year_from is not None or year_to is not None or explore is not None):
        raise DataError("--genre/--year-from/--year-to/--explore do not apply to --users batch mode; drop them or use --user")
    if users is None and output is not None:
        raise DataError("--output goes with --users batch mode; use --json to print one user's recommendations as data")
    check_file_output(output)
    pairs = parse_rated(rated or []) + (read_ratings_file(ratings) if ratings is not None else [])
    if check_engine(engine):
        if users is None:
            raise DataError("--engine spark scores every user at once: pass --users all -o FOLDER (or drop --engine)")
        recommend_on_spark(model, users, n, output, spark_master, spark_conf)
        return
    rec = load_model(model)
    if users is not None:
        _batch(rec, _read_user_ids(rec, users), n, output, titles)
        return
    genres, year_from, year_to = _usable_filters(rec, tuple(genre or ()), year_from, year_to)
    options = {} if explore is None else {"explore": explore}
    if user is not None:
        recs = rec.recommend(user, n, genres, year_from, year_to, **options)
        seen = rec.user_ratings(user)[0].size
        caption = f"Top {len(recs)} for user {user} (rated {seen:,} movies)"
    else:
        chosen, notes = resolve_ratings(rec, pairs)
        for text in notes:
            note(text)
        if not any(m in rec.movie_vocab for m in chosen):
            note("none of these movies has ratings in the training data, so the model cannot tell this user's taste; "
                 "showing the most-rated movies instead. Rate some of them to get personal recommendations.")
            _print_popular(rec, set(chosen), n, genres, year_from, year_to, as_json)
            return
        recs = rec.recommend_for_ratings(chosen, n, genres, year_from, year_to, **options)
        caption = f"Top {len(recs)} for a new user who rated {len(chosen)} movie{'s' * (len(chosen) != 1)}"
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in recs], indent=2, ensure_ascii=False))
        return
    if not recs:
        note("no unseen movie passes these filters; widen --genre or the years")
        return
    console.print(recommendation_table(recs, caption))


def _usable_filters(rec: Recommender, genres: tuple[str, ...], year_from: int | None, year_to: int | None):
    """Drop, with a note, the filters a model's catalog cannot apply (a plain ratings CSV has no genres or years)."""
    if genres and not has_genres(rec):
        note(f"this model's movies have no genres, so --genre {' '.join(genres)} is ignored; {NO_GENRES_FIX}")
        genres = ()
    if (year_from is not None or year_to is not None) and not rec.catalog.years.any():
        note(f"this model's movies have no release years, so the year filter is ignored; {NO_GENRES_FIX}")
        year_from = year_to = None
    return genres, year_from, year_to


def _print_popular(rec: Recommender, rated: set[int], n: int, genres, year_from, year_to, as_json: bool) -> None:
    """The most-rated movies passing the filters, for a profile the model cannot score."""
    movies = [rec.movie_info(m) for m in rec.popular(n, genres, year_from, year_to, exclude=rated)]
    if as_json:
        typer.echo(json.dumps(movies, indent=2, ensure_ascii=False))
    elif movies:
        console.print(popular_table(movies))
    else:
        note("no movie passes these filters; widen --genre or the years")
