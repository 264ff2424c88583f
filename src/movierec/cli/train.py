"""``movierec train`` and ``movierec predict``: fit models into a model folder, and use one on a file of pairs."""

from __future__ import annotations

import sys
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from ..data.loading import DEFAULT_RELEASE
from ..errors import DataError
from ..models import DEFAULT_RANKING, DEFAULT_RATING, model_class, model_names
from .app import (
    DataDirOption,
    DataOption,
    TrainingBars,
    app,
    console,
    err_console,
    load_dataset,
    read_csv_input,
)
from .spark import DEFAULT_MASTER, EngineOption, MasterOption, SparkConfOption, check_engine, spark_models
from .spark import train as train_on_spark

NONE = "none"


def _coerce(text: str, default: Any, where: str) -> Any:
    """``text`` as the type of the parameter's default (``none`` for None where that makes sense)."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    try:
        if isinstance(default, bool):
            if low in ("true", "yes", "1", "on"):
                return True
            if low in ("false", "no", "0", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, str):
            return text
        for parse in (int, float):  # default None: a number if it reads as one
            try:
                return parse(text)
            except ValueError:
                pass
        return text
    except ValueError:
        raise ValueError(f"--param {where}={text}: expected a {type(default).__name__}") from None


def parse_params(
    pairs: list[str], chosen: dict[str, str], defaults: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """``key=value`` (every chosen model with that parameter) or ``model.key=value`` -> params by kind.

    ``defaults`` (e.g. the --device and --seed options) go to every model whose Config has
    them, unless a pair set them or they are None.
    """
    out: dict[str, dict[str, Any]] = {kind: {} for kind in chosen}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--param {pair!r}: expected key=value or model.key=value, e.g. --param mf.factors=64")
        target, dot, name = key.strip().rpartition(".")
        kinds = [k for k, m in chosen.items() if not dot or m == target]
        if dot and not kinds:
            raise ValueError(f"--param {pair}: {target!r} is not one of the models being trained ({', '.join(chosen.values())})")
        applied = False
        for kind in kinds:
            config = {f.name: f.default for f in fields(model_class(chosen[kind]).Config) if f.default is not MISSING}
            if name in config:
                out[kind][name] = _coerce(value, config[name], key)
                applied = True
        if not applied:
            known = sorted({f.name for m in chosen.values() for f in fields(model_class(m).Config)})
            raise ValueError(f"--param {pair}: no model being trained has a parameter {name!r}; they have {', '.join(known)}")
    for kind, model in chosen.items():
        names = {f.name for f in fields(model_class(model).Config)}
        for name, value in (defaults or {}).items():
            if value is not None and name in names:
                out[kind].setdefault(name, value)
    return out


def _metrics_table(metrics: dict[str, dict[str, Any]], names: dict[str, str]) -> Table:
    table = Table(title="Held-out metrics", title_justify="left")
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
    rating: Annotated[
        str, typer.Option(help=f"Rating model, which predicts stars, or none. Models: {', '.join(model_names())}.")
    ] = DEFAULT_RATING,
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
    seed: Annotated[int | None, typer.Option(help="Seed of the models and of the holdout split \\[default: each model's own; split 42].")] = None,
    device: Annotated[str, typer.Option(help="auto (a CUDA GPU when present), cpu or cuda.")] = "auto",
    holdout: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.9,
            help="Share of ratings held out to measure the models (random for the rating model, per user for "
            "the ranking model); the models train on the rest.",
        ),
    ] = 0.2,
    no_holdout: Annotated[bool, typer.Option("--no-holdout", help="Train on every rating; record no metrics.")] = False,
    feedback: Annotated[
        Path | None,
        typer.Option(help="Feedback database of [bold]movierec serve[/bold]: its visitors' ratings are added as new users."),
    ] = None,
    data_dir: DataDirOption = None,
    engine: EngineOption = "local",
    spark_master: MasterOption = DEFAULT_MASTER,
    spark_conf: SparkConfOption = None,
) -> None:
    """Train a rating model and a ranking model and save them to a model folder.

    By default 20% of the ratings are held out: the models train on the rest, and their RMSE
    and NDCG@10 on the held-out ratings are printed and recorded in the folder.

    [bold]--no-holdout[/bold] trains on every rating. Ctrl-C stops early and saves the best model so far.

    Example: [bold]movierec train --data ml-latest-small -o model[/bold]
    then [bold]movierec recommend -m model --user 1[/bold]

    Example: [bold]movierec train -d ml-latest-small --rating mf --ranking none -p factors=64 --no-holdout -o mf-model[/bold]

    Example, on Spark (mf and ials by Spark MLlib ALS; the same model folder):
    [bold]movierec train --engine spark --spark-master "local-cluster[2,1,1024]" -d ratings.parquet -o model[/bold]
    """
    from ..models.base import resolve_device
    from ..recommend.recommender import Recommender

    chosen = {kind: name for kind, name in (("rating", rating), ("ranking", ranking)) if name.lower() != NONE}
    if not chosen:
        raise ValueError("--rating and --ranking are both none: nothing to train; name at least one model")
    for kind, name in chosen.items():
        if model_class(name).kind != kind:
            other = model_class(name).kind
            raise ValueError(f"--{kind} {name}: {name} is a {other} model; pass it as --{other} {name}")
    spark = check_engine(engine)
    if spark:
        chosen = spark_models(chosen, feedback)
    else:
        resolve_device(device)  # a missing GPU is one clear line before any loading
    params = parse_params(param or [], chosen, defaults={"seed": seed, "device": device})
    share = None if no_holdout or holdout == 0 else holdout
    if spark:
        info = train_on_spark(output, data, data_dir, chosen, params, share, seed, spark_master, spark_conf)
        if info["metrics"]:
            console.print(_metrics_table(info["metrics"], {k: v["name"] for k, v in info["models"].items()}))
        console.print(f"Saved the model to [bold]{output}[/bold]. Next: [bold]movierec recommend -m {output} --user 1[/bold]")
        return

    dataset = load_dataset(data, data_dir, feedback=feedback)
    console.print(dataset, highlight=False)

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
    if info["metrics"]:
        console.print(_metrics_table(info["metrics"], {k: v["name"] for k, v in info["models"].items()}))
    rec.save(output)
    if info["training"].get("interrupted"):
        err_console.print("[yellow]Stopped early (Ctrl-C):[/yellow] saved the best model reached so far.")
    console.print(f"Saved the model to [bold]{output}[/bold]. Next: [bold]movierec recommend -m {output} --user 1[/bold]")


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
    model: Annotated[Path, typer.Option("--model", "-m", help="Model folder written by [bold]movierec train -o[/bold].")],
    pairs: Annotated[Path, typer.Option("--pairs", help="CSV with a userId,movieId header and one pair per line.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV to write (userId,movieId,prediction) \\[default: stdout].")
    ] = None,
) -> None:
    """Predict star ratings for (user, movie) pairs with a trained model's rating model.

    A pair whose user or movie the model does not know gets the rating model's fallback
    (e.g. the movie's bias, or the global mean); how many did is reported.

    Example: [bold]movierec predict -m model --pairs pairs.csv -o predictions.csv[/bold]
    """
    from ..recommend.recommender import Recommender

    users, movies = read_pairs(pairs)
    rec = Recommender.load(model)
    predictions = rec.predict(users, movies)
    unknown = int(((rec.user_vocab.index(users, missing="negative") < 0) | (rec.movie_vocab.index(movies, missing="negative") < 0)).sum())
    frame = pd.DataFrame({"userId": users, "movieId": movies, "prediction": np.round(predictions, 4)})
    if output is None:
        frame.to_csv(sys.stdout, index=False)
    else:
        frame.to_csv(output, index=False)
        console.print(f"Wrote {len(frame):,} predictions to [bold]{output}[/bold].")
    if unknown:
        err_console.print(
            f"[yellow]Note:[/yellow] {unknown:,} of {len(frame):,} pairs have a user or movie the model does not "
            "know; they got the rating model's fallback prediction.",
            highlight=False,
        )
