"""``movierec demo``: the whole job end to end, on ml-latest-small by default.

Load; measure the default rating and ranking models and two baselines on 80/20 splits (trained
on 80%, scored on the held-out 20%); train the default models on every rating; with that full
model recommend for a known user and for a new one, list similar movies, cluster the movies and
measure the clusters against genres; save the model and the map, and say what to run next.
Every number printed is measured in this run.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..data.loading import DEFAULT_RELEASE
from ..errors import DataError, UnknownIdError
from ..models import DEFAULT_RANKING, auto_rating
from .app import (
    DataDirOption,
    DataOption,
    TrainingBars,
    app,
    bold,
    check_file_output,
    check_model_output,
    console,
    describe_dataset,
    describe_model,
    load_dataset,
    note,
    progress,
    say,
    status,
)
from .tables import print_clusters, recommendation_table, similar_table

HOLDOUT = 0.2
SPLIT_SEED = 42
BASELINES = {"rating": "biases", "ranking": "popularity"}


def default_models(dataset) -> dict[str, str]:
    """What ``movierec train`` trains on ``dataset`` by default."""
    return {"rating": auto_rating(dataset.n_ratings)[0], "ranking": DEFAULT_RANKING}


# A new user who liked five famous movies; the ones a release lacks are skipped.
NEW_USER = (
    ("Toy Story (1995)", 5.0),
    ("The Matrix (1999)", 5.0),
    ("Star Wars: Episode IV - A New Hope (1977)", 4.5),
    ("Pulp Fiction (1994)", 4.0),
    ("Forrest Gump (1994)", 4.5),
)
SIMILAR_TO = ("The Matrix (1999)", "Toy Story (1995)", "Star Wars (1977)")
METRICS = (("rmse", "RMSE", "rating"), ("mae", "MAE", "rating"), ("precision@10", "P@10", "ranking"),
           ("recall@10", "R@10", "ranking"), ("ndcg@10", "NDCG@10", "ranking"), ("coverage", "cover", "ranking"))


def _section(title: str) -> None:
    console.rule(f"[bold]{title}[/bold]", align="left", style="dim")


def _comparison(rows: dict[str, dict[str, Any]], defaults: dict[str, str]) -> Table:
    """Held-out metrics of the default models next to the baselines on the same splits.

    Rating models are compared on rating error, ranking models on top-10 metrics.
    """
    table = Table(title=f"Held-out metrics (trained on {1 - HOLDOUT:.0%} of the ratings, scored on the other {HOLDOUT:.0%})",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, caption_justify="left")
    table.add_column("model", no_wrap=True)
    for _, label, _ in METRICS:
        table.add_column(label, justify="right", no_wrap=True)
    table.add_column("fit s", justify="right", no_wrap=True)
    for kind in ("rating", "ranking"):
        for name, style in ((BASELINES[kind], "dim"), (defaults[kind], "bold")):
            values = rows[name]
            cells = [_cell(key, values.get(key)) if group == kind else "" for key, _, group in METRICS]
            seconds = values.get("fit_s")
            table.add_row(f"{kind}: {name}", *cells, "" if seconds is None else f"{seconds:.1f}", style=style)
        table.add_section()
    table.caption = (
        "RMSE/MAE (random split): lower is better. Precision, recall, NDCG at 10 and catalog coverage "
        "(per-user split): higher is better. Bold: the models the demo then trains on every rating and saves; "
        "dim: baselines."
    )
    return table


def _cell(key: str, value: Any) -> str:
    if not isinstance(value, (int, float)):
        return ""
    return f"{value:.0%}" if key == "coverage" else f"{value:.3f}"


def _held_out(dataset) -> dict[str, dict[str, Any]]:
    """The default models and the baselines, each trained on 80% and scored on the other 20%
    (random split for rating models, per-user split for ranking models), rows by model name."""
    from ..eval.evaluation import evaluate
    from ..eval.splits import random_holdout, user_holdout

    bars = progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                    TimeElapsedColumn())
    out: dict[str, dict[str, Any]] = {}
    with bars:
        task = bars.add_task("Measuring on held-out ratings", total=4, info="")

        def report(step) -> None:
            if step.event is None:
                bars.update(task, advance=1, info=f"{step.model} done")
            else:
                bars.update(task, info=f"{step.model} epoch {step.event.epoch}/{step.event.n_epochs}")

        for kind, split in (("rating", random_holdout), ("ranking", user_holdout)):
            names = list(dict.fromkeys((BASELINES[kind], default_models(dataset)[kind])))
            table = evaluate(names, split(dataset, HOLDOUT, SPLIT_SEED), progress=report)
            out.update({row["model"]: row for row in table.rows})
    return out


def _sample_user(rec) -> int:
    """A user with a typical, readable history: the first with 50-300 training ratings."""
    counts = np.diff(rec.artifact.seen.indptr)
    fitting = np.flatnonzero((counts >= 50) & (counts <= 300))
    row = int(fitting[0]) if fitting.size else int(np.argmax(counts))
    return int(rec.user_vocab.ids[row])


def _known(rec, titles) -> list[tuple[int, float]]:
    found = []
    for title, stars in titles:
        try:
            movie_id = rec.find_movie(title)
        except UnknownIdError:
            continue
        if movie_id in rec.movie_vocab:
            found.append((movie_id, stars))
    return found


@app.command()
def demo(
    data: DataOption = DEFAULT_RELEASE,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the trained model and the cluster map.")] = Path(
        "movierec-demo"
    ),
    k: Annotated[int, typer.Option("-k", min=2, help="Number of movie clusters.")] = 20,
    min_ratings: Annotated[int, typer.Option(min=0, help="Cluster movies with at least this many ratings.")] = 20,
    data_dir: DataDirOption = None,
) -> None:
    """Run movierec end to end: measure, train, recommend, find similar movies, cluster.

    Measures the default rating and ranking models next to simple baselines on held-out ratings (trained on 80%, scored on the other 20%), then trains them on every rating; with that model it recommends for a user of the data and for a new user who rated five famous movies, lists movies like The Matrix, clusters the movies and measures the clusters against genres, then saves the model and the cluster map in --out.

    Example: [bold]movierec demo[/bold]  (ml-latest-small; about a minute on a laptop)

    Example: [bold]movierec demo --data ml-100k --out demo-100k[/bold]
    """
    from ..explore.clusters import cluster_recommender
    from ..explore.plot import plot_clusters
    from ..recommend.recommender import Recommender

    model_dir, plot_path = out / "model", out / "clusters.png"
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is a file: expected a folder (new or existing) for the model and the map")
    check_model_output(model_dir, force=True, flag="--out")  # a demo folder is meant to be rerun
    check_file_output(plot_path, "--out", make_folder=True)
    dataset = load_dataset(data, data_dir)
    _section(f"1. Data: {data}")
    say(escape(describe_dataset(dataset)))

    _section(f"2. Held-out metrics: the default models and baselines, trained on {1 - HOLDOUT:.0%} of the ratings")
    console.print(_comparison(_held_out(dataset), default_models(dataset)))

    _section("3. Training the default models on every rating")
    with TrainingBars() as bars:
        rec = Recommender.fit(dataset, **default_models(dataset), callback=bars.event,
                              on_start=bars.start)
    say(escape(describe_model(rec)))

    user = _sample_user(rec)
    _section(f"4. Recommendations for user {user}")
    console.print(recommendation_table(rec.recommend(user, 10), f"Top 10 for user {user} "
                                        f"(rated {rec.user_ratings(user)[0].size} movies)"))

    liked = _known(rec, NEW_USER)
    if liked:
        _section("5. A new user, without retraining")
        names = ", ".join(f"{rec.movie_info(m)['title']} {s:g}★" for m, s in liked)
        say(f"Rated: {escape(names)}")
        recs = rec.recommend_for_ratings(dict(liked), 10)
        console.print(recommendation_table(recs, f"Top 10 for a new user who rated {len(liked)} movies"))

    anchor = _known(rec, ((t, 0.0) for t in SIMILAR_TO))
    movie = anchor[0][0] if anchor else int(rec.movie_vocab.ids[np.argmax(rec.artifact.movie_counts)])
    _section("6. Similar movies")
    console.print(similar_table(rec, movie, rec.similar(movie, 10, min_ratings=min_ratings)))

    _section(f"7. Movie clusters (KMeans, k={k}, movies with ≥ {min_ratings} ratings)")
    with status("Clustering movies and scoring them against random clusterings…"):
        kind, report = cluster_recommender(rec, k, "auto", min_ratings, seed=0)
    print_clusters(rec, kind, report)

    _section("8. Saved")
    with status("Saving the model and drawing the cluster map…"):
        rec.save(model_dir)
        plot_clusters(report, rec.catalog, plot_path,
                      title=f"{dataset.name}: {report.n_movies:,} movies with ≥ {min_ratings} ratings, "
                            f"{k} clusters of {rec.artifact.models()[kind].name} embeddings")
    say(f"Model: {bold(model_dir)}    Cluster map: {bold(plot_path)}")
    if rec.info["training"].get("interrupted"):
        note("training was stopped early (Ctrl-C): the model saved and shown is partly trained")
    m, d = shlex.quote(str(model_dir)), shlex.quote(data)
    say("\n[bold]Next:[/bold]")
    for line in (  # one line each, never wrapped inside a quoted argument: they are for copy and paste
        f"  movierec recommend -m {m} --user {user} --genre Comedy",
        f"  movierec recommend -m {m} --rated \"Heat (1995)=5\" --rated \"amelie=4.5\"",
        f"  movierec similar -m {m} \"Pulp Fiction\"",
        f"  movierec clusters -m {m} -k 20 --plot clusters.png",
        f"  movierec serve -m {m}     (a web page to search, rate and get recommendations)",
        f"  movierec evaluate --data {d}   (every model, every metric)",
    ):
        say(escape(line))
