"""``movierec train --engine spark``: Spark ALS into an ordinary movierec model folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..models import Model, TrainingEvent
from ..recommend.artifact import Artifact
from ..recommend.training import evaluate_model
from .als import make_spark_model
from .read import read_ratings


def train(
    spark: Any,
    data: str,
    *,
    rating: str | None = "mf",
    ranking: str | None = "ials",
    rating_params: dict[str, Any] | None = None,
    ranking_params: dict[str, Any] | None = None,
    holdout: float | None = None,
    split_seed: int = 42,
    data_dir: Path | None = None,
    master: str = "",
    callback: Callable[[TrainingEvent], None] | None = None,
    on_start: Callable[[str, Model], None] | None = None,
) -> Artifact:
    """Read ``data`` on Spark, train the rating and ranking models there, and bundle them with
    the driver's copy of the ratings (vocabularies, catalog, seen movies) as an Artifact.

    With ``holdout``, a seeded random share of the ratings (a flag computed on the cluster)
    is held out of both fits, and the models' held-out metrics are measured on the driver by
    the same code as the local engine's (:func:`~movierec.recommend.recommender.evaluate_model`).
    """
    from pyspark.sql import functions as F

    models = {kind: make_spark_model(name, **(params or {})) for kind, name, params in (
        ("rating", rating, rating_params), ("ranking", ranking, ranking_params)) if name}  # fmt: skip
    for kind, model in models.items():
        if model.kind != kind:
            raise ValueError(f"{model.name} is a {model.kind} model; pass it as --{model.kind} {model.name}")
        model._check_config()  # bad hyperparameters: one line before Spark reads anything
    ratings = read_ratings(spark, data, data_dir)
    dataset, frame = ratings.dataset, ratings.frame
    test = None
    train_frame = frame
    if holdout:
        # The same arithmetic on the cluster and the driver: both agree on every pair's flag.
        train_frame = frame.filter(~held_out(F.col("u").cast("long"), F.col("m").cast("long"), holdout, split_seed))
        test = held_out(
            dataset.user_vocab.ids[dataset.users].astype(np.int64), dataset.movie_vocab.ids[dataset.movies].astype(np.int64),
            holdout, split_seed,
        )
    users, movies = dataset.user_vocab.ids, dataset.movie_vocab.ids
    metrics: dict[str, Any] = {}
    notes: dict[str, Any] = {"engine": "spark", "master": master, "holdout": holdout, "split_seed": split_seed if holdout else None}
    for kind, model in models.items():
        if on_start is not None:
            on_start(kind, model)
        start = time.perf_counter()
        model.fit_frame(train_frame, users, movies, dataset.rating_scale, callback)
        notes[kind] = {"model": model.name, "engine": "spark", "seconds": round(time.perf_counter() - start, 3)}
        if test is not None:
            metrics[kind] = evaluate_model(model, dataset.subset(~test), dataset.subset(test))
    notes["interrupted"] = False
    return Artifact.from_dataset(dataset, rating=models.get("rating"), ranking=models.get("ranking"), metrics=metrics, training=notes)


_P = 2_147_483_647  # a prime above every id: (u, m) -> (u*A + m*B + seed) mod P stays in int64
_A, _B = 1_500_450_271, 1_102_541_809


def held_out(users, movies, share: float, seed: int):
    """Whether the rating (user id, movie id) is in the held-out ``share``: a hash of the pair
    in plain int64 arithmetic, so NumPy arrays and Spark columns give the same answer."""
    h = (users * _A + movies * _B + seed % _P) % _P
    return h % 1_000_000 < int(round(share * 1_000_000))
