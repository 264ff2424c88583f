"""Run several models on the same split(s) and tabulate their metrics.

Rating metrics (RMSE, MAE) come from rating models' predictions, clipped to the rating scale.
A test pair whose user or movie has no rating in train is predicted with the model's
documented fallback (it sees row -1, e.g. mean + movie bias for an unknown user); such pairs
are counted in the ``unknown`` column. Ranking metrics (precision, recall, NDCG and hit rate
at ``k``, catalog coverage) rank every movie the user did not rate in train
(:func:`metrics.ranking_metrics`); rating models are ranked by their predicted ratings.

Two protocols, as the CLI offers them:

* one set of splits for everything: each model is fitted once per split and both kinds of
  metric are measured on it (``evaluate(models, splits)``);
* separate splits (``ranking_splits=...``), the default of ``movierec evaluate``: rating
  metrics on a random 80/20 holdout, ranking metrics on a per-user 80/20 holdout, where every
  test user has training history. Rating models are then fitted once on each.

With several splits (k-fold) every metric is the mean over folds, with its standard deviation
in ``<metric>_std``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..models import make_model, model_class
from ..models.base import Model, RatingModel, TrainingEvent, resolve_device
from .metrics import mae, ranking_metrics, rmse
from .splits import Split

RATING_METRICS = ("rmse", "mae")


@dataclass(frozen=True)
class Progress:
    """Reported while evaluating: ``event`` after each training epoch, ``None`` once a fit is done."""

    model: str
    purpose: str  # "rating" or "ranking": which split the fit serves ("both" with one set)
    fold: int  # 0-based split number
    event: TrainingEvent | None


@dataclass
class Evaluation:
    """The table: one row per model, a plain dict of metric name -> value (``None``: not measured)."""

    rows: list[dict[str, Any]]
    k: int
    threshold: float
    rating_split: str
    ranking_split: str
    folds: int
    columns: list[str] = field(default_factory=list)  # metric columns, in display order

    def as_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "threshold": self.threshold,
            "rating_split": self.rating_split,
            "ranking_split": self.ranking_split,
            "folds": self.folds,
            "columns": self.columns,
            "rows": self.rows,
        }


def evaluate(
    models: list[str],
    splits: Split | Iterable[Split],
    k: int = 10,
    threshold: float = 4.0,
    params: dict[str, dict[str, Any]] | None = None,
    *,
    ranking_splits: Split | Iterable[Split] | None = None,
    split_name: str = "",
    ranking_split_name: str = "",
    progress: Callable[[Progress], None] | None = None,
    make: Callable[..., Model] = make_model,
) -> Evaluation:
    """Train every model in ``models`` (registry names) on the same split(s); return the table.

    ``params``: hyperparameters per model name, e.g. ``{"mf": {"epochs": 10}}``.
    ``ranking_splits``: when given, ranking metrics come from these splits and rating metrics
    from ``splits``; otherwise both come from ``splits``. Splits may be a lazy iterator (k-fold):
    each is used once, then dropped. The ``*_name`` strings only label the result.
    ``make(name, **params)`` builds each unfitted model (e.g. the Spark-trained counterparts of
    :func:`movierec.spark.als.make_spark_model`).
    """
    if not models:
        raise ValueError("no models to evaluate: expected at least one model name, e.g. mf,popularity")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    params = params or {}
    kinds = {name: model_class(name).kind for name in models}  # unknown names fail here, before training
    stray = sorted(set(params) - set(models))
    if stray:
        raise ValueError(f"params given for {', '.join(stray)}, which is not among the models {', '.join(models)}")
    results: dict[str, dict[str, list[float]]] = {name: {} for name in models}
    fit_seconds: dict[str, list[float]] = {name: [] for name in models}
    unknown: dict[str, list[int]] = {name: [] for name in models}
    separate = ranking_splits is not None

    def run(split: Split, fold: int, purpose: str, names: list[str]) -> None:
        if split.train.n_ratings == 0 or split.test.n_ratings == 0:
            raise ValueError(
                f"split {fold + 1} has {split.train.n_ratings:,} train and {split.test.n_ratings:,} test ratings; "
                "expected both parts non-empty: use a larger test fraction or more data"
            )
        for name in names:
            def callback(event: TrainingEvent, name=name) -> None:
                if progress is not None:
                    progress(Progress(name, purpose, fold, event))

            model = make(name, **params.get(name, {}))
            start = time.perf_counter()
            model.fit(split.train, callback=callback)
            fit_seconds[name].append(time.perf_counter() - start)
            if purpose != "ranking" and isinstance(model, RatingModel):
                scores, n_unknown = rating_scores(model, split)
                for metric, value in scores.items():
                    results[name].setdefault(metric, []).append(value)
                unknown[name].append(n_unknown)
            if purpose != "rating":
                ranked = ranking_metrics(
                    model, split.train, split.test, k=k, threshold=threshold, device=scoring_device(model)
                )
                for metric, value in ranked.as_dict().items():
                    results[name].setdefault(metric, []).append(float(value))
            if progress is not None:
                progress(Progress(name, purpose, fold, None))
            del model

    rating_models = [n for n in models if kinds[n] == "rating"]
    n_folds = 0
    for fold, split in enumerate(_as_splits(splits)):
        n_folds += 1
        run(split, fold, "rating" if separate else "both", rating_models if separate else models)
    if n_folds == 0:
        raise ValueError("no splits to evaluate on: expected at least one train/test split")
    if separate:
        n_ranking = 0
        for fold, split in enumerate(_as_splits(ranking_splits)):
            n_ranking += 1
            run(split, fold, "ranking", models)
        n_folds = max(n_folds, n_ranking)

    rows, columns = _tabulate(models, kinds, results, fit_seconds, unknown, k, n_folds)
    return Evaluation(
        rows=rows,
        k=k,
        threshold=threshold,
        rating_split=split_name,
        ranking_split=ranking_split_name or split_name,
        folds=n_folds,
        columns=columns,
    )


def rating_scores(model: Model, split: Split) -> tuple[dict[str, float], int]:
    """RMSE and MAE of ``model`` on ``split.test`` (predictions clipped to the scale), and the
    number of test pairs whose user or movie has no training rating (predicted by fallback)."""
    train, test = split.train, split.test
    users = np.where(train.user_counts()[test.users] > 0, test.users, -1).astype(np.int32)
    movies = np.where(train.movie_counts()[test.movies] > 0, test.movies, -1).astype(np.int32)
    predicted = np.clip(model.predict_at(users, movies, test.timestamps), *train.rating_scale)
    n_unknown = int(np.count_nonzero((users < 0) | (movies < 0)))
    return {"rmse": rmse(predicted, test.ratings), "mae": mae(predicted, test.ratings)}, n_unknown


def scoring_device(model: Model) -> str:
    """Where a model's ranking tiles run: its own device (``auto``: a GPU when there is one)."""
    return resolve_device(getattr(model.config, "device", "cpu"))


def _as_splits(splits: Split | Iterable[Split]) -> Iterable[Split]:
    return [splits] if isinstance(splits, Split) else splits


def _tabulate(models, kinds, results, fit_seconds, unknown, k, n_folds) -> tuple[list[dict[str, Any]], list[str]]:
    ranking = [f"precision@{k}", f"recall@{k}", f"ndcg@{k}", f"hit_rate@{k}", "coverage", "novelty", "diversity"]
    columns = [c for c in (*RATING_METRICS, *ranking) if any(c in results[n] for n in models)]
    columns += ["fit_s"]
    rows = []
    for name in models:
        row: dict[str, Any] = {"model": name, "kind": kinds[name]}
        for metric in columns[:-1]:
            values = results[name].get(metric)
            row[metric] = float(np.mean(values)) if values else None
            if values and len(values) > 1:
                row[f"{metric}_std"] = float(np.std(values))
        row["fit_s"] = float(np.mean(fit_seconds[name]))  # seconds per fit
        if n_folds > 1:
            row["fit_s_std"] = float(np.std(fit_seconds[name]))
        row["unknown"] = int(np.mean(unknown[name])) if unknown[name] else None
        if "users" in results[name]:
            row["ranked_users"] = int(np.mean(results[name]["users"]))
        rows.append(row)
    return rows, columns
