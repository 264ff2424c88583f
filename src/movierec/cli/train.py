"""``movierec train`` and ``movierec predict``: fit models into a model folder, and use one on a file of pairs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from ..data.loading import DEFAULT_RELEASE
from ..errors import DataError
from ..models import (
    AUTO,
    AUTO_LARGE,
    AUTO_LIMIT,
    DEFAULT_RANKING,
    DEFAULT_RATING,
    auto_rating,
    model_class,
    model_names,
)
from .app import (
    DataDirOption,
    DataOption,
    ModelOption,
    MoviesOption,
    TrainingBars,
    app,
    bold,
    check_file_output,
    check_model_output,
    console,
    describe_dataset,
    err_console,
    load_dataset,
    load_model,
    note,
    read_csv_input,
    say,
)
from .params import parse_params
from .spark import DEFAULT_MASTER, EngineOption, MasterOption, SparkConfOption, check_engine, spark_models
from .spark import train as train_on_spark

NONE = "none"


def _metrics_table(metrics: dict[str, dict[str, Any]], names: dict[str, str], share: float) -> Table:
    title = f"Held-out metrics: {share:.0%} of the ratings, which the saved model did not train on"
    table = Table(title=title, title_justify="left")
    table.add_column("model")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for kind, values in metrics.items():
        for metric, value in values.items():
            text = f"{value:,}" if isinstance(value, int) else f"{value:.4f}"
            table.add_row(f"{kind}: {names.get(kind, '')}", metric, text)
    return table


@app.command()
def train(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the model to (created).")],
    data: DataOption = DEFAULT_RELEASE,
    movies: MoviesOption = None,
    rating: Annotated[
        str,
        typer.Option(
            help=f"Rating model, which predicts stars, or none; {AUTO}: {DEFAULT_RATING}, or {AUTO_LARGE} past "
            f"{AUTO_LIMIT:,} ratings. Models: {', '.join(model_names())}."
        ),
    ] = AUTO,
    ranking: Annotated[
        str, typer.Option(help=f"Ranking model, which orders recommendations, or none. Models: {', '.join(model_names())}.")
    ] = DEFAULT_RANKING,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="Model parameter as key=value (every model that has it) or model.key=value; repeatable.",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the models and of the holdout split \\[default: each model's own; split 42].", show_default=False)] = None,
    device: Annotated[str, typer.Option(help="auto (a CUDA GPU when present), cpu or cuda.")] = "auto",
    holdout: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=0.9,
            show_default=False,
            help="Hold out this share of the ratings (e.g. 0.2) to measure the models: they train on the rest "
            "(random split for the rating model, per user for the ranking model), so the saved model saw only "
            "1 - F of the data. Without it the models train on every rating; measure them with "
            "[bold]movierec evaluate[/bold].",
        ),
    ] = None,
    no_holdout: Annotated[bool, typer.Option("--no-holdout", hidden=True)] = False,  # the default now; kept for old scripts
    feedback: Annotated[
        Path | None,
        typer.Option(help="Feedback database of [bold]movierec serve[/bold]: its visitors' ratings are added as new users."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the model already in --output.")] = False,
    data_dir: DataDirOption = None,
    engine: EngineOption = "local",
    spark_master: MasterOption = DEFAULT_MASTER,
    spark_conf: SparkConfOption = None,
) -> None:
    """Train a rating model and a ranking model on every rating given and save them to a model folder.

    [bold]--holdout 0.2[/bold] instead keeps 20% of the ratings out of training to print and record the models' RMSE and NDCG@10 on them; the saved model then lacks those ratings. [bold]movierec evaluate[/bold] compares models without that trade-off.

    Ctrl-C stops early and saves the best model so far.

    Example: [bold]movierec train --data ml-latest-small -o model[/bold] then [bold]movierec recommend -m model --user 1[/bold]

    Example: [bold]movierec train -d ratings.csv --movies movies.csv --rating mf --ranking none -p factors=64 -o mf-model[/bold]

    Example, on Spark (mf and ials by Spark MLlib ALS; the same model folder):
    [bold]movierec train --engine spark --spark-master "local-cluster[2,1,1024]" -d ratings.parquet -o model[/bold]
    """
    from ..models.base import resolve_device
    from ..recommend.recommender import Recommender

    chosen = {kind: name for kind, name in (("rating", rating), ("ranking", ranking)) if name.lower() != NONE}
    if not chosen:
        raise DataError("--rating and --ranking are both none: nothing to train; name at least one model")
    for kind, name in chosen.items():
        if name == AUTO and kind == "rating":
            continue
        if model_class(name).kind != kind:
            other = model_class(name).kind
            raise DataError(f"--{kind} {name}: {name} is a {other} model; pass it as --{other} {name}")
    if no_holdout and holdout:
        raise DataError(f"--no-holdout and --holdout {holdout:g} contradict each other; drop one")
    spark = check_engine(engine)
    if spark:
        chosen = spark_models(chosen, feedback)
    else:
        resolve_device(device)  # a missing GPU is one clear line before any loading
    defaults = {"seed": seed, "device": device}
    check_model_output(output, force)
    share = holdout or None
    if spark:
        params = parse_params(param or [], chosen, defaults)
        info = train_on_spark(output, data, data_dir, chosen, params, share, seed, spark_master, spark_conf)
        say(f"Trained {' and '.join(f'{name} ({kind})' for kind, name in chosen.items())} by Spark MLlib ALS.")
        if info["metrics"]:
            console.print(_metrics_table(info["metrics"], {k: v["name"] for k, v in info["models"].items()}, share))
        say(f"Saved the model to {bold(output)}. Next: movierec recommend -m {output} --user 1")
        return

    if chosen.get("rating") == AUTO:  # a first check of --param before the (maybe long) load
        parse_params(param or [], {**chosen, "rating": DEFAULT_RATING}, defaults)
    dataset = load_dataset(data, data_dir, movies=movies, feedback=feedback)
    say(escape(describe_dataset(dataset)))
    if chosen.get("rating") == AUTO:
        chosen["rating"], note = auto_rating(dataset.n_ratings)
        if note:
            say(f"Note: {escape(note)}.")
    params = parse_params(param or [], chosen, defaults)
    if share:
        say(f"Training on {1 - share:.0%} of the ratings; {share:.0%} held out to measure the models.")

    with TrainingBars() as bars:
        rec = Recommender.fit(
            dataset,
            rating=chosen.get("rating"),
            ranking=chosen.get("ranking"),
            callback=bars.event,
            rating_params=params.get("rating"),
            ranking_params=params.get("ranking"),
            holdout=share,
            split_seed=42 if seed is None else seed,
            on_start=bars.start,
        )
    info = rec.info
    if share:
        rec.artifact.training["trained_on_share"] = round(1 - share, 6)  # what `info` tells later readers
    if info["metrics"]:
        console.print(_metrics_table(info["metrics"], {k: v["name"] for k, v in info["models"].items()}, share))
    rec.save(output)
    if info["training"].get("interrupted"):
        err_console.print("[yellow]Stopped early (Ctrl-C):[/yellow] saved the best model reached so far.", soft_wrap=True)
    trained_on = f"{1 - share:.0%} of the ratings" if share else "every rating"
    say(f"Saved the model (trained on {trained_on}) to {bold(output)}. Next: {bold(f'movierec recommend -m {output} --user 1')}")


# -- predict ----------------------------------------------------------------------------------
PAIR_COLUMNS = ("userId", "movieId")


def read_pairs(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """User and movie ids of a ``userId,movieId`` CSV, with errors naming the file and line."""
    frame = read_csv_input(path, "pairs file", "columns userId,movieId")
    missing = [c for c in PAIR_COLUMNS if c not in frame.columns]
    if missing:
        found = ",".join(map(str, frame.columns))
        raise DataError(f"{path}: expected columns userId,movieId in the header, found {found!r}")
    ids = []
    for column in PAIR_COLUMNS:
        text = frame[column].str.strip()
        bad = ~text.str.fullmatch(r"\d{1,18}").to_numpy(bool)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{path} line {row + 2}: {column} {frame[column].iloc[row]!r} is not a non-negative integer id"
            )
        ids.append(text.to_numpy().astype(np.int64))
    return ids[0], ids[1]


@app.command()
def predict(
    model: ModelOption,
    pairs: Annotated[Path, typer.Option("--pairs", help="CSV with a userId,movieId header and one pair per line.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV to write (userId,movieId,prediction), or - for stdout \\[default: stdout].", show_default=False)
    ] = None,
) -> None:
    """Predict star ratings for (user, movie) pairs with a trained model's rating model.

    A pair whose user or movie the model does not know gets the rating model's fallback (e.g. the movie's bias, or the global mean); how many did is reported.

    Example: [bold]movierec predict -m model --pairs pairs.csv -o predictions.csv[/bold]
    """
    check_file_output(output)
    users, movies = read_pairs(pairs)
    rec = load_model(model)
    predictions = rec.predict(users, movies)
    unknown = int(((rec.user_vocab.index(users, missing="negative") < 0) | (rec.movie_vocab.index(movies, missing="negative") < 0)).sum())
    frame = pd.DataFrame({"userId": users, "movieId": movies, "prediction": np.round(predictions, 4)})
    if output is None or str(output) == "-":
        frame.to_csv(sys.stdout, index=False)
    else:
        frame.to_csv(output, index=False)
        say(f"Wrote {len(frame):,} predictions to {bold(output)}.")
    if unknown:
        note(
            f"{unknown:,} of {len(frame):,} pairs have a user or movie the model does not know; "
            "they got the rating model's fallback prediction."
        )
