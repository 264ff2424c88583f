"""``movierec recommend``, ``similar`` and ``clusters``: using a trained model at the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import pandas as pd
import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ..errors import DataError
from ..recommend.titles import short_title
from .app import JsonOption, app, console, err_console, read_csv_input
from .spark import DEFAULT_MASTER, EngineOption, MasterOption, SparkConfOption, check_engine
from .spark import recommend_all as recommend_on_spark

if TYPE_CHECKING:
    from ..explore.clusters import ClusterReport, KChoice
    from ..recommend.recommender import Recommendation, Recommender

BATCH_USERS = 2048  # users per recommend_batch call: one progress step, bounded memory

ModelOption = Annotated[
    Path, typer.Option("--model", "-m", help="Model folder written by [bold]movierec train -o[/bold].")
]
CountOption = Annotated[int, typer.Option("-n", "--n", min=1, help="How many movies to list.")]


def _load(model: Path) -> Recommender:
    from ..recommend.recommender import Recommender

    with console.status(f"Loading the model from {model}…"):
        return Recommender.load(model)


def _stars(value: float) -> str:
    return f"{value:g}★"


# -- recommend ------------------------------------------------------------------------------------
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


def _recommendation_table(recs: list[Recommendation], caption: str) -> Table:
    """Title with its genres beneath, predicted stars, ranking score, and the reasons (one per line)."""
    table = Table(title=caption, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("movie", overflow="fold", ratio=3)
    table.add_column("stars", justify="right", no_wrap=True)
    table.add_column("score", justify="right", style="dim", no_wrap=True)
    table.add_column("because you rated", overflow="fold", ratio=2)
    for i, r in enumerate(recs, 1):
        stars = "" if r.predicted_rating is None else f"{r.predicted_rating:.1f}★"
        movie = Text(r.title)
        if r.genres:
            movie.append("\n" + ", ".join(r.genres), style="cyan")
        because = "\n".join(f"{b['title']} {_stars(b['rating'])}" for b in r.because[:2])
        table.add_row(str(i), movie, stars, f"{r.score:.3f}", because)
    return table


def _read_user_ids(rec: Recommender, users: str) -> np.ndarray:
    if users.strip().lower() == "all":
        return rec.user_vocab.ids.copy()
    path = Path(users)
    if not path.is_file():
        raise DataError(f"--users {users!r}: expected 'all' or a file of user ids (a userId column or one id per line)")
    text = pd.read_csv(path, dtype=str, header=None, keep_default_na=False, skipinitialspace=True)
    if text.empty:
        raise DataError(f"{path} holds no user ids: expected a userId header and one id per line")
    values = text[0].str.strip()
    if not values.iloc[0].isdigit():  # a header line such as userId
        values = values.iloc[1:]
    bad = ~values.str.fullmatch(r"\d{1,18}").to_numpy(bool)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: {values.iloc[row]!r} is not a user id (a non-negative integer)")
    ids = values.to_numpy().astype(np.int64)
    rec.user_vocab.index(ids)  # unknown users: one clear error before any scoring
    return ids


def _batch(rec: Recommender, user_ids: np.ndarray, n: int, output: Path | None) -> None:
    """Top-``n`` of many users through Recommender.recommend_batch, a block of users at a time."""
    parts = []
    progress = Progress(
        TextColumn("Recommending"), BarColumn(), MofNCompleteColumn(), TextColumn("users"), TimeElapsedColumn(),
        console=err_console, transient=output is None,
    )
    with progress:
        task = progress.add_task("users", total=int(user_ids.size))
        for start in range(0, user_ids.size, BATCH_USERS):
            block = user_ids[start : start + BATCH_USERS]
            movies, scores = rec.recommend_batch(block, n)
            ranks = np.broadcast_to(np.arange(1, movies.shape[1] + 1), movies.shape)
            keep = movies >= 0
            parts.append(
                pd.DataFrame(
                    {
                        "userId": np.broadcast_to(block[:, None], movies.shape)[keep],
                        "rank": ranks[keep],
                        "movieId": movies[keep],
                        "score": np.round(scores[keep], 5),
                    }
                )
            )
            progress.advance(task, block.size)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["userId", "rank", "movieId", "score"])
    if output is None:
        typer.echo(frame.to_csv(index=False), nl=False)
    else:
        frame.to_csv(output, index=False)
        console.print(f"Wrote {len(frame):,} recommendations for {user_ids.size:,} users to [bold]{output}[/bold].")


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
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Batch mode: CSV to write \\[default: stdout].")] = None,
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
    pairs = parse_rated(rated or []) + (read_ratings_file(ratings) if ratings is not None else [])
    if check_engine(engine):
        if users is None:
            raise DataError("--engine spark scores every user at once: pass --users all -o FOLDER (or drop --engine)")
        recommend_on_spark(model, users, n, output, spark_master, spark_conf)
        return
    rec = _load(model)
    if users is not None:
        if genre or year_from is not None or year_to is not None:
            raise DataError("--genre/--year-from/--year-to do not apply to --users batch mode; drop them or use --user")
        _batch(rec, _read_user_ids(rec, users), n, output)
        return
    genres = tuple(genre or ())
    if user is not None:
        recs = rec.recommend(user, n, genres, year_from, year_to)
        seen = rec.user_ratings(user)[0].size
        caption = f"Top {len(recs)} for user {user} (rated {seen:,} movies)"
    else:
        chosen, notes = resolve_ratings(rec, pairs)
        for note in notes:
            err_console.print(f"[yellow]Note:[/yellow] {note}", highlight=False)
        recs = rec.recommend_for_ratings(chosen, n, genres, year_from, year_to)
        caption = f"Top {len(recs)} for a new user who rated {len(chosen)} movie{'s' * (len(chosen) != 1)}"
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in recs], indent=2, ensure_ascii=False))
        return
    if not recs:
        console.print("No movie passes these filters; widen --genre or the years.")
        return
    console.print(_recommendation_table(recs, caption))


# -- similar --------------------------------------------------------------------------------------
@app.command()
def similar(
    movie: Annotated[str, typer.Argument(help='A title (forgiving: "the matrix", "Matrix, The (1999)") or a movie id.')],
    model: ModelOption,
    n: CountOption = 10,
    min_ratings: Annotated[
        int, typer.Option(min=0, help="Hide movies with fewer training ratings: obscure neighbours are noisy.")
    ] = 10,
    as_json: JsonOption = False,
) -> None:
    """Movies closest to one movie in the model's embedding space (cosine similarity).

    Example: [bold]movierec similar -m model "The Matrix"[/bold]

    Example: [bold]movierec similar -m model 260 -n 20 --min-ratings 50 --json[/bold]
    """
    rec = _load(model)
    movie_id = rec.find_movie(movie)
    found = rec.similar(movie_id, n, min_ratings)
    if as_json:
        payload = {"movie": rec.movie_info(movie_id), "similar": [s.as_dict() for s in found]}
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    console.print(similar_table(rec, movie_id, found))


def similar_table(rec: Recommender, movie_id: int, found: list) -> Table:
    info = rec.movie_info(movie_id)
    table = Table(title=f"Movies like {info['title']}", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("movie", overflow="fold")
    table.add_column("genres", style="cyan", overflow="fold")
    table.add_column("similarity", justify="right")
    for i, s in enumerate(found, 1):
        table.add_row(str(i), s.title, ", ".join(s.genres), f"{s.similarity:.3f}")
    return table


# -- clusters -------------------------------------------------------------------------------------
def parse_k_range(text: str) -> range:
    """``"5..30"`` or ``"5..30:5"`` (a step) -> the range of k, both ends included."""
    span, _, step = text.partition(":")
    low, sep, high = span.partition("..")
    try:
        if not sep:
            raise ValueError
        out = range(int(low), int(high) + 1, int(step) if step else 1)
    except ValueError:
        raise DataError(f"--choose-k {text!r}: expected A..B or A..B:STEP, e.g. --choose-k 5..30:5") from None
    if len(out) == 0 or out.start < 2:
        raise DataError(f"--choose-k {text!r}: expected 2 <= A <= B, e.g. --choose-k 5..30:5")
    return out


def cluster_table(report: ClusterReport) -> Table:
    table = Table(
        title=f"{report.k} clusters of {report.n_movies:,} movies with ≥ {report.min_ratings} ratings",
        title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_lines=True,
    )
    table.add_column("#", justify="right", style="dim")
    table.add_column("size", justify="right")
    table.add_column("genres")
    table.add_column("mean ★", justify="right")
    table.add_column("most-rated titles", overflow="fold")
    for c in report.clusters:
        genres = Text(c.name, style="bold")  # the map's legend names clusters the same way
        genres.append("".join(f"\n{g} {share:.0%}" for g, share in c.top_genres), style="cyan")
        mean = "" if c.mean_rating is None else f"{c.mean_rating:.2f}"
        table.add_row(str(c.label + 1), str(c.size), genres, mean, "; ".join(short_title(t) for t in c.top_titles))
    return table


def coherence_line(report: ClusterReport) -> str:
    p, m = report.purity, report.nmi
    return (
        f"Genre purity [bold]{p.value:.3f}[/bold] vs {p.random_mean:.3f} ± {p.random_std:.3f} for "
        f"{report.n_random} random clusterings of the same sizes (z = {p.z:.1f}); "
        f"NMI [bold]{m.value:.3f}[/bold] vs {m.random_mean:.3f} ± {m.random_std:.3f} (z = {m.z:.1f})."
    )


def print_clusters(rec: Recommender, kind: str, report: ClusterReport) -> None:
    """The clusters table, which embeddings they came from, and how coherent they are."""
    console.print(cluster_table(report))
    console.print(f"Embeddings: the {kind} model ({rec.artifact.models()[kind].name}).", highlight=False)
    console.print(coherence_line(report), highlight=False)


def _k_table(choice: KChoice) -> Table:
    table = Table(title="Choosing k", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("k", justify="right")
    table.add_column("inertia", justify="right")
    table.add_column("silhouette", justify="right")
    table.add_column("")
    for k, inertia, sil in zip(choice.ks, choice.inertia, choice.silhouette):
        mark = "← suggested: the elbow of inertia" if k == choice.suggested else ""
        table.add_row(str(k), f"{inertia:,.1f}", f"{sil:.4f}", mark)
    return table


@app.command()
def clusters(
    model: ModelOption,
    k: Annotated[int, typer.Option("-k", "--k", min=2, help="Number of clusters.")] = 10,
    embedding: Annotated[
        str, typer.Option(help="Movie vectors to cluster: rating, ranking, or auto (ranking model's when it has them).")
    ] = "auto",
    min_ratings: Annotated[
        int, typer.Option(min=0, help="Cluster only movies with at least this many training ratings.")
    ] = 20,
    plot: Annotated[Path | None, typer.Option(help="Write the cluster map to this PNG.")] = None,
    choose_k: Annotated[
        str | None, typer.Option(help="Also report inertia and silhouette for each k in A..B[:STEP] and suggest one.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of KMeans and of the random clusterings.")] = 0,
    random: Annotated[int, typer.Option(min=1, help="Random clusterings to compare the genre scores with.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Cluster movies by their embeddings (KMeans) and measure how well clusters match genres.

    Prints each cluster's size, top genres, mean rating and most-rated titles, then genre
    purity and NMI next to random clusterings of the same sizes: a z-score far above 0 means
    the model learned genre-like taste from ratings alone.

    Example: [bold]movierec clusters -m model -k 20 --plot clusters.png[/bold]

    Example: [bold]movierec clusters -m model --choose-k 5..40:5 --embedding rating[/bold]
    """
    from ..explore.clusters import choose_k as choose
    from ..explore.clusters import cluster_recommender, model_embeddings

    k_range = parse_k_range(choose_k) if choose_k else None
    rec = _load(model)
    choice = None
    if k_range is not None:
        _, vectors = model_embeddings(rec, embedding)
        progress = Progress(TextColumn("Trying k"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console, transient=True)
        with progress:
            task = progress.add_task("k", total=len(k_range))
            choice = choose(vectors, rec.artifact.movie_counts, k_range, min_ratings, seed, callback=lambda _: progress.advance(task))
    with console.status(f"Clustering movies into {k} groups…"):
        kind, report = cluster_recommender(rec, k, embedding, min_ratings, seed, random)
    if plot is not None:
        from ..explore.plot import plot_clusters

        with console.status(f"Drawing {plot}…"):
            plot_clusters(report, rec.catalog, plot, title=f"{report.n_movies:,} movies with ≥ {min_ratings} ratings, "
                          f"{k} clusters of the {kind} model's ({rec.artifact.models()[kind].name}) embeddings")
    if as_json:
        payload = {"embedding": kind, **report.as_dict(rec.catalog, members=True)}
        if choice is not None:
            payload["choose_k"] = choice.as_dict()
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    if choice is not None:
        console.print(_k_table(choice))
    print_clusters(rec, kind, report)
    if plot is not None:
        console.print(f"Wrote the map to [bold]{plot}[/bold].")

