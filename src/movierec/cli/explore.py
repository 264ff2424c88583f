"""``movierec similar`` and ``movierec clusters``: the model's movie embeddings, explored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

from ..errors import DataError
from .app import (
    CountOption,
    JsonOption,
    ModelOption,
    app,
    bold,
    check_file_output,
    console,
    load_model,
    progress,
    say,
    status,
)
from .tables import k_table, print_clusters, similar_table


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
    """Movies most often rated by the same people as one movie (shrunk co-rating similarity,
    tripled for films of one series: a sequel, prequel or remake).

    Example: [bold]movierec similar -m model "The Matrix"[/bold]

    Example: [bold]movierec similar -m model 260 -n 20 --min-ratings 50 --json[/bold]
    """
    rec = load_model(model)
    movie_id = rec.find_movie(movie)
    found = rec.similar(movie_id, n, min_ratings)
    if not found:
        counts = rec.artifact.movie_counts
        most = int(counts.max()) if counts.size else 0
        raise DataError(
            f"no movie with at least {min_ratings:,} training ratings is similar to {rec.movie_info(movie_id)['title']} "
            f"(the most-rated movie has {most:,}); lower --min-ratings"
        )
    if as_json:
        payload = {"movie": rec.movie_info(movie_id), "similar": [s.as_dict() for s in found]}
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    console.print(similar_table(rec, movie_id, found))


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
    check_file_output(plot, "--plot")
    rec = load_model(model)
    choice = None
    if k_range is not None:
        _, vectors = model_embeddings(rec, embedding)
        bars = progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True)
        with bars:
            task = bars.add_task("Trying k", total=len(k_range))
            choice = choose(vectors, rec.artifact.movie_counts, k_range, min_ratings, seed, callback=lambda _: bars.advance(task))
    with status(f"Clustering movies into {k} groups…"):
        kind, report = cluster_recommender(rec, k, embedding, min_ratings, seed, random)
    if plot is not None:
        from ..explore.plot import plot_clusters

        with status(f"Drawing {plot}…"):
            plot_clusters(report, rec.catalog, plot, title=f"{report.n_movies:,} movies with ≥ {min_ratings} ratings, "
                          f"{k} clusters of the {kind} model's ({rec.artifact.models()[kind].name}) embeddings")
    if as_json:
        payload = {"embedding": kind, **report.as_dict(rec.catalog, members=True)}
        if choice is not None:
            payload["choose_k"] = choice.as_dict()
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    if choice is not None:
        console.print(k_table(choice))
    print_clusters(rec, kind, report)
    if plot is not None:
        say(f"Wrote the map to {bold(plot)}.")
