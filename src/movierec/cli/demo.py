"""``movierec demo``: the whole job end to end, on ml-latest-small by default.

Load, train the default rating and ranking models on 80% of the ratings, compare them with
the baselines on the held-out 20%, recommend for a known user and for a new one, list similar
movies, cluster the movies and measure the clusters against genres, save the model and the
map, and say what to run next. Every number printed is measured in this run.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich import box
from rich.table import Table

from ..data.loading import DEFAULT_RELEASE
from ..errors import UnknownIdError
from ..models import DEFAULT_RANKING, DEFAULT_RATING
from .app import DataDirOption, DataOption, TrainingBars, app, console, err_console, load_dataset
from .use import _recommendation_table, print_clusters, similar_table

HOLDOUT = 0.2
SPLIT_SEED = 42
BASELINES = {"rating": "biases", "ranking": "popularity"}
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


def _comparison(rec, baselines: dict[str, dict[str, Any]]) -> Table:
    """Held-out metrics of the trained models next to the baselines on the same splits.

    Rating models are compared on rating error, ranking models on top-10 metrics.
    """
    info = rec.info
    table = Table(title=f"Held-out metrics ({HOLDOUT:.0%} of the ratings)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, caption_justify="left")
    table.add_column("model", no_wrap=True)
    for _, label, _ in METRICS:
        table.add_column(label, justify="right", no_wrap=True)
    table.add_column("fit s", justify="right", no_wrap=True)
    for kind in ("rating", "ranking"):
        rows = []
        if kind in baselines:
            rows.append((baselines[kind]["model"], baselines[kind], baselines[kind].get("fit_s"), "dim"))
        if kind in info["metrics"]:
            seconds = info["training"].get(kind, {}).get("seconds")
            rows.append((info["models"][kind]["name"], info["metrics"][kind], seconds, "bold"))
        for name, values, seconds, style in rows:
            cells = [_cell(key, values.get(key)) if group == kind else "" for key, _, group in METRICS]
            table.add_row(f"{kind}: {name}", *cells, "" if seconds is None else f"{seconds:.1f}", style=style)
        table.add_section()
    table.caption = (
        "RMSE/MAE (random split): lower is better. Precision, recall, NDCG at 10 and catalog coverage "
        "(per-user split): higher is better. Bold: the models saved; dim: baselines."
    )
    return table


def _cell(key: str, value: Any) -> str:
    if not isinstance(value, (int, float)):
        return ""
    return f"{value:.0%}" if key == "coverage" else f"{value:.3f}"


def _baselines(dataset) -> dict[str, dict[str, Any]]:
    """The baselines on the very splits Recommender.fit used (same functions, same seed)."""
    from ..eval.evaluation import evaluate
    from ..eval.splits import random_holdout, user_holdout

    table = evaluate(
        [BASELINES["rating"], BASELINES["ranking"]],
        random_holdout(dataset, HOLDOUT, SPLIT_SEED),
        ranking_splits=user_holdout(dataset, HOLDOUT, SPLIT_SEED),
    )
    out = {}
    for row in table.rows:
        out[row["kind"]] = row
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
    """Run movierec end to end: train, compare with baselines, recommend, find similar movies, cluster.

    Trains the default rating model and ranking model on 80% of the ratings, prints their
    held-out metrics next to simple baselines, recommends for a user of the data and for a new
    user who rated five famous movies, lists movies like The Matrix, clusters the movies and
    measures the clusters against genres, then saves the model and the cluster map in --out.

    Example: [bold]movierec demo[/bold]  (ml-latest-small; about a minute on a laptop)

    Example: [bold]movierec demo --data ml-100k --out demo-100k[/bold]
    """
    from ..explore.clusters import cluster_recommender
    from ..explore.plot import plot_clusters
    from ..recommend.recommender import Recommender

    with warnings.catch_warnings():
        # PyTorch flags its sparse CSR tensors as "beta" on every use: noise for a demo.
        warnings.filterwarnings("ignore", message=r".*[Ss]parse.*", category=UserWarning)
        dataset = load_dataset(data, data_dir)
        _section(f"1. Data: {data}")
        out.mkdir(parents=True, exist_ok=True)  # fail on an unwritable folder before training
        console.print(dataset, highlight=False)

        _section(f"2. Training the default models on {1 - HOLDOUT:.0%} of the ratings")
        with TrainingBars() as bars:
            rec = Recommender.fit(dataset, rating=DEFAULT_RATING, ranking=DEFAULT_RANKING, callback=bars.event,
                                  holdout=HOLDOUT, split_seed=SPLIT_SEED, on_start=bars.start)
        with console.status("Evaluating the baselines on the same splits…"):
            baselines = _baselines(dataset)
        console.print(_comparison(rec, baselines))

        user = _sample_user(rec)
        _section(f"3. Recommendations for user {user}")
        console.print(_recommendation_table(rec.recommend(user, 10), f"Top 10 for user {user} "
                                            f"(rated {rec.user_ratings(user)[0].size} movies)"))

        liked = _known(rec, NEW_USER)
        if liked:
            _section("4. A new user, without retraining")
            names = ", ".join(f"{rec.movie_info(m)['title']} {s:g}★" for m, s in liked)
            console.print(f"Rated: {names}", highlight=False)
            recs = rec.recommend_for_ratings(dict(liked), 10)
            console.print(_recommendation_table(recs, f"Top 10 for a new user who rated {len(liked)} movies"))

        anchor = _known(rec, ((t, 0.0) for t in SIMILAR_TO))
        movie = anchor[0][0] if anchor else int(rec.movie_vocab.ids[np.argmax(rec.artifact.movie_counts)])
        _section("5. Similar movies")
        console.print(similar_table(rec, movie, rec.similar(movie, 10, min_ratings=min_ratings)))

        _section(f"6. Movie clusters (KMeans, k={k}, movies with ≥ {min_ratings} ratings)")
        with console.status("Clustering movies and scoring them against random clusterings…"):
            kind, report = cluster_recommender(rec, k, "auto", min_ratings, seed=0)
        print_clusters(rec, kind, report)

        _section("7. Saved")
        model_dir, plot_path = out / "model", out / "clusters.png"
        with console.status("Saving the model and drawing the cluster map…"):
            rec.save(model_dir)
            plot_clusters(report, rec.catalog, plot_path,
                          title=f"{dataset.name}: {report.n_movies:,} movies with ≥ {min_ratings} ratings, "
                                f"{k} clusters of {rec.artifact.models()[kind].name} embeddings")
        console.print(f"Model: [bold]{model_dir}[/bold]    Cluster map: [bold]{plot_path}[/bold]")
    if rec.info["training"].get("interrupted"):
        err_console.print("[yellow]Training was stopped early (Ctrl-C): the numbers above are of a partly trained model.[/yellow]")
    console.print(
        "\n[bold]Next:[/bold]\n"
        f"  movierec recommend -m {model_dir} --user {user} --genre Comedy\n"
        f"  movierec recommend -m {model_dir} --rated \"Heat (1995)=5\" --rated \"amelie=4.5\"\n"
        f"  movierec similar -m {model_dir} \"Pulp Fiction\"\n"
        f"  movierec clusters -m {model_dir} -k 20 --plot clusters.png\n"
        f"  movierec serve -m {model_dir}     (a web page to search, rate and get recommendations)\n"
        f"  movierec evaluate --data {data}   (every model, every metric)",
        highlight=False,
    )
