"""``movierec evaluate``: several models on the same split(s), one table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..data.loading import DEFAULT_RELEASE, resolve
from ..eval import evaluation
from ..eval.splits import OFFICIAL_SPLITS as OFFICIAL
from ..eval.splits import SPLIT_NAMES, Split, file_split, make_splits, official_split
from ..models import AUTO, DEFAULT_RANKING, DEFAULT_RATING, auto_rating, make_model, model_class, model_names
from .app import (
    DataDirOption,
    DataOption,
    JsonOption,
    MoviesOption,
    RatingScaleOption,
    app,
    console,
    data_notes,
    describe_dataset,
    load_dataset,
    progress,
    say,
)
from .params import parse_params
from .spark import DEFAULT_MASTER, ON_SPARK, EngineOption, MasterOption, SparkConfOption, check_engine
from .spark import session as spark_session

DEFAULT_MODELS = ",".join(("biases", AUTO, "popularity", DEFAULT_RANKING))  # auto: what train picks for the data
LOWER_IS_BETTER = {"rmse", "mae", "fit_s"}


def _describe(name: str, fraction: float, seed: int, folds: int, last: int) -> str:
    share = f"{round(100 * (1 - fraction))}/{round(100 * fraction)}"
    return {
        "random": f"random {share} holdout (seed {seed})",
        "user": f"per-user {share} holdout (seed {seed})",
        "kfold": f"{folds}-fold cross-validation (seed {seed})",
        "temporal": f"temporal: latest {round(100 * fraction)}% of ratings held out",
        "last": f"each user's last {last} rating{'s' if last > 1 else ''} held out",
    }.get(name, name)


@app.command()
def evaluate(
    data: DataOption = DEFAULT_RELEASE,
    models: Annotated[
        str,
        typer.Option(
            "--models",
            "-m",
            help=f"Comma-separated models to compare, or all; {AUTO}: the rating model [bold]movierec train[/bold] "
            f"picks for the data's size. Models: {', '.join(model_names())}.",
        ),
    ] = DEFAULT_MODELS,
    split: Annotated[
        str,
        typer.Option(
            "--split",
            "-s",
            help="auto: rating metrics on a random holdout, ranking metrics on a per-user holdout. "
            f"Or one split for every metric: {', '.join(SPLIT_NAMES)}, or ml-100k's official {', '.join(OFFICIAL)}.",
        ),
    ] = AUTO,
    train: Annotated[
        Path | None,
        typer.Option(
            "--train",
            help="Training ratings file (with --test) instead of a split: a CSV with a userId,movieId,rating"
            "[,timestamp] header, or u.data-style tab- or ::-separated lines.",
        ),
    ] = None,
    test: Annotated[Path | None, typer.Option("--test", help="Explicit test ratings file (with --train).")] = None,
    folds: Annotated[int, typer.Option(min=2, help="Number of folds of --split kfold.")] = 5,
    test_fraction: Annotated[
        float,
        typer.Option(
            min=0.01, max=0.99, help="Share of ratings held out by random, user and temporal splits, from 0.01 to 0.99."
        ),
    ] = 0.2,
    last: Annotated[int, typer.Option(min=1, help="Ratings held out per user by --split last.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the split (the models keep their own seeds).")] = 42,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="Length of the top-k lists ranking metrics score.")] = 10,
    threshold: Annotated[float, typer.Option(help="A test rating at or above this many stars is relevant.")] = 4.0,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Model parameter as key=value or model.key=value; repeatable."),
    ] = None,
    device: Annotated[str, typer.Option(help="auto (a CUDA GPU when present), cpu or cuda.")] = "auto",
    movies: MoviesOption = None,
    rating_scale: RatingScaleOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    engine: EngineOption = "local",
    spark_master: MasterOption = DEFAULT_MASTER,
    spark_conf: SparkConfOption = None,
) -> None:
    """Train several models on the same split(s) and print their metrics in one table.

    Rating models (which predict stars) get RMSE and MAE, with predictions clipped to the
    rating scale; every model gets precision, recall, NDCG and hit rate at k over the full
    ranking of unseen movies, plus catalog coverage, novelty (mean self-information) and
    intra-list genre diversity. By default ([bold]--split auto[/bold]) the
    rating metrics come from a random 80/20 holdout and the ranking metrics from a per-user
    80/20 holdout (every test user has training history), both seed 42. k-fold prints mean ± std.

    Test pairs whose user or movie has no training rating are predicted by each model's
    fallback (e.g. biases) and counted in the [bold]unknown[/bold] column.

    Example: [bold]movierec evaluate --data ml-latest-small --models mean,biases,mf,popularity,ials[/bold]

    Example: [bold]movierec evaluate -d ml-100k -m mf,ials --split kfold --folds 5 --json[/bold]

    Example: [bold]movierec evaluate -d ml-100k -m mf --split u1 -p mf.epochs=10[/bold]

    Example: [bold]movierec evaluate -m biases,mf --train train.csv --test test.csv[/bold]

    Example, mf and ials trained by Spark MLlib ALS: [bold]movierec evaluate --engine spark -m mf,ials[/bold]
    """
    from ..models.base import resolve_device

    names = model_names() if models.strip().lower() == "all" else [m.strip() for m in models.split(",") if m.strip()]
    if not names:
        raise ValueError("--models is empty: expected comma-separated model names, e.g. --models mf,popularity")
    if len(set(names)) != len(names):
        raise ValueError(f"--models {models}: each model may appear once")
    on_spark = check_engine(engine)
    if on_spark:  # Spark trains mf for auto, as train --engine spark does
        names = [ON_SPARK[AUTO] if name == AUTO else name for name in names]
    # auto is resolved once the data's size is known; until then --param is checked against the default
    provisional = [DEFAULT_RATING if name == AUTO else name for name in names]
    for name in provisional:
        model_class(name)  # unknown names: one clear line before anything loads
    if on_spark:
        from ..spark.als import SPARK_MODELS, make_spark_model

        if set(names) - set(SPARK_MODELS):
            raise ValueError(f"--engine spark evaluates {' and '.join(SPARK_MODELS)} (Spark MLlib ALS); got --models {models}")
    split = split.strip().lower()
    explicit = train is not None or test is not None
    if explicit and (train is None or test is None):
        raise ValueError("--train and --test go together: give both files, e.g. --train u1.base --test u1.test")
    if explicit and (movies is not None or rating_scale is not None):
        raise ValueError("--movies and --rating-scale go with --data; --train/--test files are read as they are")
    if explicit and split != AUTO:
        raise ValueError(f"--train/--test are the split: drop --split {split}")
    if split not in (AUTO, *SPLIT_NAMES, *OFFICIAL):
        raise ValueError(
            f"unknown split {split!r}; expected auto, {', '.join(SPLIT_NAMES)}, {', '.join(OFFICIAL)} "
            "(or --train and --test files)"
        )
    if not on_spark:
        resolve_device(device)
    parse_params(param or [], {name: name for name in provisional}, defaults={"device": device})

    # The splits, and how many fits the progress bar counts.
    ranking_splits: Iterator[Split] | None = None
    if explicit:
        with data_notes(f"{train.name} and {test.name}"):
            splits: Any = file_split(train, test)
        names, note = _resolve_auto(names, splits.train.n_ratings)
        label = ranking_label = f"files {train.name} (train) / {test.name} (test)"
        n_fits = len(names)
    else:
        dataset = load_dataset(data, data_dir, movies=movies, rating_scale=rating_scale)
        names, note = _resolve_auto(names, dataset.n_ratings)
        n_rating = sum(model_class(n).kind == "rating" for n in names)
        if split in OFFICIAL:
            splits = official_split(dataset, resolve(data, data_dir, download=False), split)
            label = ranking_label = f"ml-100k official split {split} ({split}.base / {split}.test)"
            n_fits = len(names)
        elif split == AUTO:
            splits = make_splits(dataset, "random", test_fraction, seed)
            ranking_splits = make_splits(dataset, "user", test_fraction, seed)
            label = _describe("random", test_fraction, seed, folds, last)
            ranking_label = _describe("user", test_fraction, seed, folds, last)
            n_fits = n_rating + len(names)
        else:
            splits = make_splits(dataset, split, test_fraction, seed, folds, last)
            label = ranking_label = _describe(split, test_fraction, seed, folds, last)
            n_fits = len(names) * (folds if split == "kfold" else 1)
        if not as_json:
            say(escape(describe_dataset(dataset)))
    if note and not as_json:
        say(f"Note: {escape(note)}.")
    params = parse_params(param or [], {name: name for name in names}, defaults={"device": device})
    params = {name: p for name, p in params.items() if p}

    bars = progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), transient=as_json,
    )
    with spark_session(spark_master, spark_conf) if on_spark else nullcontext(), bars:
        task = bars.add_task("Training", total=n_fits, info="")

        def report(step: evaluation.Progress) -> None:
            parts = [f"{step.purpose} split"] if step.purpose != "both" else []
            parts += [f"fold {step.fold + 1}/{folds}"] if split == "kfold" else []
            where = step.model + (f" ({', '.join(parts)})" if parts else "")
            if step.event is None:
                bars.update(task, advance=1, info=f"{where} done")
            else:
                bars.update(task, info=f"{where} epoch {step.event.epoch}/{step.event.n_epochs}")

        result = evaluation.evaluate(
            names,
            splits,
            k=k,
            threshold=threshold,
            params=params,
            ranking_splits=ranking_splits,
            split_name=label,
            ranking_split_name=ranking_label,
            progress=report,
            make=make_spark_model if on_spark else make_model,
        )
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        console.print(render(result))


def _resolve_auto(names: list[str], n_ratings: int) -> tuple[list[str], str | None]:
    """``names`` with auto replaced by the rating model for ``n_ratings`` (once: a model named
    twice is compared once), and the note when size decided it."""
    if AUTO not in names:
        return names, None
    chosen, note = auto_rating(n_ratings)
    return list(dict.fromkeys(chosen if name == AUTO else name for name in names)), note


def _header(column: str) -> str:
    """Short column headers so the table fits a terminal: P@10, R@10, NDCG@10, HR@10."""
    metric, at, k = column.partition("@")
    short = {"rmse": "RMSE", "mae": "MAE", "precision": "P", "recall": "R", "ndcg": "NDCG", "hit_rate": "HR",
             "coverage": "cover", "novelty": "novel", "diversity": "div", "fit_s": "fit s"}
    return short.get(metric, metric) + at + k


def render(result: evaluation.Evaluation) -> Table:
    """The Rich table: one row per model, best value of each metric in bold, mean ± std for k-fold."""
    if result.rating_split == result.ranking_split:
        caption = f"Split: {result.rating_split}."
    else:
        caption = f"Rating metrics: {result.rating_split}. Ranking metrics: {result.ranking_split}."
    caption += (
        f" Relevant: rating >= {result.threshold:g}. P/R/HR: precision, recall, hit rate; cover: share of "
        "movies in some top-k list; novel: mean self-information of the recommended movies (bits); div: mean "
        "genre (Jaccard) distance between two movies of a list; unknown: test pairs with a user or movie unseen in train (fallback)."
    )
    table = Table(
        title="Evaluation", title_justify="left", caption=caption, caption_justify="left",
        box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0), show_edge=False,
    )
    table.add_column("model", no_wrap=True)
    columns = result.columns
    for column in columns:
        table.add_column(_header(column), justify="right")
    table.add_column("unknown", justify="right")
    best = {}
    for column in columns:
        values = [row[column] for row in result.rows if row.get(column) is not None]
        if values and column != "fit_s":
            best[column] = min(values) if column in LOWER_IS_BETTER else max(values)
    for row in result.rows:
        cells = [row["model"]]
        for column in columns:
            value = row.get(column)
            if value is None:
                cells.append("–")
                continue
            digits = 2 if column == "fit_s" else 4
            text = f"{value:.{digits}f}"
            if value == best.get(column):
                text = f"[bold]{text}[/bold]"
            if f"{column}_std" in row:  # k-fold: the spread on a second line keeps columns narrow
                text += f"\n[dim]±{row[f'{column}_std']:.{digits - 1}f}[/dim]"
            cells.append(text)
        cells.append("–" if row.get("unknown") is None else f"{row['unknown']:,}")
        table.add_row(*cells)
    return table
