"""Spark MLlib ALS as movierec's ``mf`` and ``ials`` models: same Config, same saved state.

A Spark-trained model is an ordinary :class:`~movierec.models.mf.BiasedMF` or
:class:`~movierec.models.ials.ImplicitALS` once fitted: the factors Spark learned are
collected into the arrays those classes store, so the model folder, ``recommend``,
``similar``, ``clusters``, ``serve`` and fold-in of new users work unchanged.

* ``mf`` (explicit ratings): the global mean and damped movie then user biases (as mf's own
  initialisation) are computed on the cluster, and ALS fits the residuals. Spark scales
  ``regParam`` by each row's rating count, which is mf's ``weighted=True`` (ALS-WR).
* ``ials`` (implicit): Spark's implicit ALS weighs an unrated pair 1 and a rated pair
  ``1 + alpha * |r|`` with preference ``r > 0``. Dividing movierec's iALS objective by its
  unobserved weight α₀ gives exactly that form with ``alpha = 1 / α₀`` and
  ``r = ±(1 + confidence * stars / top of scale)`` (negative below ``negative_below``). Spark's
  regularization (``regParam`` times the row's positive count) differs in form from iALS's
  (λ (weighted count + α₀ n)^ν); ``regParam`` is set so the two agree for the average user.

Parameters movierec's local trainers use and Spark has no equivalent of (cg_steps, device,
block_size, init_scale, patience, tol, refit_sweeps) are kept in the Config but unused.
``mf``'s ``validation`` share chooses ``reg`` among ``reg × REG_GRID`` on a held-out slice of
the training ratings (then the best is refitted on all of them); 0 skips the search.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import numpy as np

from ..data.dataset import Dataset
from ..errors import DataError, ModelError
from ..models.base import Callback, Model, TrainingEvent
from ..models.ials import ImplicitALS
from ..models.mf import BiasedMF
from ..models.tuning import parse_candidates
from .session import spark_errors

DAMPING = 5.0  # bias shrinkage, as mf's own initialisation (baselines.damped_biases)
REG_GRID = (0.5, 1.0, 2.0)  # reg multipliers tried on the validation slice
BIAS_ROUNDS = 2  # biases, factors, then biases of what factors leave and factors again: near mf's joint fit
CHECKPOINT_INTERVAL = 5  # ALS iterations between checkpoints (truncates the lineage)
MAX_ID = 2**31 - 1  # Spark ALS keys users and items by Java int


def frame_of(spark: Any, users: np.ndarray, movies: np.ndarray, ratings: np.ndarray):
    """A (u, m, r) DataFrame of int32 rows and float32 ratings, from arrays on the driver."""
    import pyarrow as pa

    table = pa.table({"u": np.asarray(users, np.int32), "m": np.asarray(movies, np.int32), "r": np.asarray(ratings, np.float32)})
    return spark.createDataFrame(table)


def _collect_factors(frame, keys: np.ndarray, rank: int) -> np.ndarray:
    """Factors of a Spark ``(id, features)`` table in the order of the sorted ``keys``
    (ids absent from it, e.g. users only in the test part, get zero factors)."""
    table = frame.orderBy("id").toArrow()
    ids = table.column("id").to_numpy()
    values = table.column("features").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    out = np.zeros((keys.size, rank), np.float32)
    out[np.searchsorted(keys, ids)] = values.astype(np.float32).reshape(ids.size, rank)
    return out


def _collect_column(frame, key: str, value: str, keys: np.ndarray) -> np.ndarray:
    table = frame.select(key, value).toArrow()
    out = np.zeros(keys.size, np.float32)
    out[np.searchsorted(keys, table.column(key).to_numpy())] = table.column(value).to_numpy().astype(np.float32)
    return out


def _als(ratings, **params: Any):
    """An ALS estimator with one block of users and of movies per core of the cluster (Spark's
    advice; its default of 10 costs small data dearly in task overhead)."""
    from pyspark.ml.recommendation import ALS

    blocks = max(2, ratings.sparkSession.sparkContext.defaultParallelism)
    return ALS(
        userCol="u", itemCol="m", ratingCol="r", checkpointInterval=CHECKPOINT_INTERVAL,
        numUserBlocks=blocks, numItemBlocks=blocks, **params,
    )


def fit_mf(ratings, config, user_keys: np.ndarray, movie_keys: np.ndarray, callback: Callback | None = None):
    """``mf`` on a Spark (u, m, r) DataFrame whose u and m are ``user_keys``/``movie_keys``
    (sorted: the vocabularies' rows in order): the config it was fitted with, and its state."""
    from pyspark.sql import functions as F

    c = config
    auto = c.reg == "auto"  # the config is checked by SparkMF.fit_frame (mf's own checks)
    if not c.weighted:
        raise ValueError("Spark ALS always scales reg by each row's rating count (ALS-WR): weighted=false is not available with --engine spark")
    with spark_errors("training mf (ALS on explicit ratings)"):
        mean = ratings.agg(F.avg("r")).first()[0]
        if mean is None:
            raise ModelError("cannot train mf on a dataset without ratings")
        # reg="auto": mf's own candidates; a number: it and its neighbours on REG_GRID
        grid = parse_candidates(c.auto_regs, float, "auto_regs") if auto else [c.reg * factor for factor in REG_GRID]
        reg, tried, model = grid[len(grid) // 2], {}, None
        movie_bias = user_bias = None
        for round_ in range(BIAS_ROUNDS):
            # Biases of what the factors do not explain yet (nothing, in the first round).
            if movie_bias is not None:
                movie_bias.unpersist()
                user_bias.unpersist()
            dots = model.transform(ratings).withColumnRenamed("prediction", "dot") if model else ratings.withColumn("dot", F.lit(0.0))
            movie_bias = dots.groupBy("m").agg((F.sum(F.col("r") - mean - F.col("dot")) / (F.count("*") + DAMPING)).alias("bm"))
            with_movie = dots.join(movie_bias, "m")
            user_bias = with_movie.groupBy("u").agg(
                (F.sum(F.col("r") - mean - F.col("bm") - F.col("dot")) / (F.count("*") + DAMPING)).alias("bu")
            )
            movie_bias, user_bias = movie_bias.persist(), user_bias.persist()
            residuals = ratings.join(movie_bias, "m").join(user_bias, "u")
            residuals = residuals.select("u", "m", (F.col("r") - mean - F.col("bm") - F.col("bu")).alias("r")).persist()
            if round_ == 0 and c.validation > 0:
                fit_on, held = residuals.randomSplit([1 - c.validation, c.validation], seed=c.seed)
                for step, value in enumerate(grid, 1):
                    trial = _als(fit_on, rank=c.factors, maxIter=c.epochs, regParam=value, seed=c.seed, coldStartStrategy="drop").fit(fit_on)
                    err = trial.transform(held).agg(F.sqrt(F.avg((F.col("prediction") - F.col("r")) ** 2))).first()[0]
                    tried[value] = float("nan") if err is None else float(err)
                    if callback is not None:
                        callback(TrainingEvent(step, len(grid) + BIAS_ROUNDS, float("nan"), tried[value]))
                reg = min(tried, key=lambda r: np.inf if np.isnan(tried[r]) else tried[r])
            model = _als(residuals, rank=c.factors, maxIter=c.epochs, regParam=reg, seed=c.seed).fit(residuals)
            residuals.unpersist()
            if callback is not None:
                callback(TrainingEvent(len(tried) + round_ + 1, len(tried) + BIAS_ROUNDS, float("nan"), tried.get(reg)))
        state = {
            "mean": np.asarray(mean, np.float32),
            "user_bias": _collect_column(user_bias, "u", "bu", user_keys),
            "movie_bias": _collect_column(movie_bias, "m", "bm", movie_keys),
            "user_factors": _collect_factors(model.userFactors, user_keys, c.factors),
            "movie_factors": _collect_factors(model.itemFactors, movie_keys, c.factors),
            "n_users": np.asarray(user_keys.size, np.int64),
            "n_movies": np.asarray(movie_keys.size, np.int64),
        }
        movie_bias.unpersist()
        user_bias.unpersist()
    # The chosen reg is what the factors were fitted with: fold-in of new users uses it too.
    return replace(c, reg=reg), state


def fit_ials(ratings, config, scale: float, user_keys: np.ndarray, movie_keys: np.ndarray, callback: Callback | None = None):
    """``ials`` on a Spark (u, m, r) DataFrame of stars (see the module docstring for the mapping)."""
    from pyspark.sql import functions as F

    c = config
    if c.factors < 1 or c.iterations < 1 or c.unobserved_weight <= 0 or c.regularization < 0 or c.confidence < 0:
        raise ValueError(
            f"ials on Spark needs factors >= 1, iterations >= 1, unobserved_weight > 0, regularization >= 0 and "
            f"confidence >= 0; got {c}"
        )
    with spark_errors("training ials (ALS on implicit feedback)"):
        weight = 1.0 + c.confidence * F.col("r") / float(scale)
        signed = weight if c.negative_below is None else F.when(F.col("r") < c.negative_below, -weight).otherwise(weight)
        implicit = ratings.select("u", "m", signed.alias("r"), weight.alias("w"))
        stats = implicit.agg(F.sum("w"), F.sum((F.col("r") > 0).cast("long")), F.countDistinct("u")).first()
        weighted, positive, n_users = (float(v or 0) for v in stats)
        if positive == 0:
            raise ModelError("ials needs at least one rating at or above negative_below to learn from")
        # λ(count + α₀ n)^ν of iALS, divided by α₀ (the objective's scale) and by the average
        # user's positive count (Spark multiplies regParam by it).
        per_user = (weighted / n_users + c.unobserved_weight * movie_keys.size) ** c.frequency_exponent
        reg_param = c.regularization * per_user / c.unobserved_weight / (positive / n_users)
        model = _als(
            implicit, rank=c.factors, maxIter=c.iterations, regParam=reg_param, implicitPrefs=True,
            alpha=1.0 / c.unobserved_weight, seed=c.seed,
        ).fit(implicit.select("u", "m", "r"))
        state = {
            "user_factors": _collect_factors(model.userFactors, user_keys, c.factors),
            "movie_factors": _collect_factors(model.itemFactors, movie_keys, c.factors),
            "scale": np.asarray(scale, np.float32),
            "n_users": np.asarray(user_keys.size, np.int64),
            "n_movies": np.asarray(movie_keys.size, np.int64),
        }
    if callback is not None:
        callback(TrainingEvent(1, 1, float("nan"), None, metric="loss"))
    return c, state


class _OnSpark:
    """Mixin: ``fit`` trains on the active SparkSession (see :func:`~.session.spark_session`);
    the fitted object is the parent class itself, saved and loaded under the parent's name."""

    def fit(self, train: Dataset, callback: Callback | None = None):
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession()
        if spark is None:
            raise ModelError(f"{self.name} on Spark needs a running SparkSession (movierec.spark.session.spark_session)")
        if train.n_ratings == 0:
            raise ModelError(f"cannot train {self.name} on a dataset without ratings")
        frame = frame_of(spark, train.users, train.movies, train.ratings)
        return self.fit_frame(frame, np.arange(train.n_users), np.arange(train.n_movies), train.rating_scale, callback)

    def _adopt(self, config, state: dict[str, np.ndarray]):
        fitted = type(self).from_state(asdict(config), state)
        self.__dict__.update(fitted.__dict__)
        self.interrupted = False
        return self


class SparkMF(_OnSpark, BiasedMF):
    """``mf`` trained by Spark ALS on residuals of damped biases."""

    def fit_frame(self, ratings, user_keys, movie_keys, rating_scale, callback: Callback | None = None) -> "SparkMF":
        self._check_config()  # mf's own checks (reg a number or "auto", ...), before Spark does any work
        return self._adopt(*fit_mf(ratings, self.config, user_keys, movie_keys, callback))


class SparkIALS(_OnSpark, ImplicitALS):
    """``ials`` trained by Spark's implicit ALS."""

    def fit_frame(self, ratings, user_keys, movie_keys, rating_scale, callback: Callback | None = None) -> "SparkIALS":
        return self._adopt(*fit_ials(ratings, self.config, rating_scale[1], user_keys, movie_keys, callback))


SPARK_MODELS: dict[str, type[Model]] = {"mf": SparkMF, "ials": SparkIALS}


def make_spark_model(name: str, **params: Any) -> Model:
    """The Spark-trained counterpart of registry model ``name`` (mf or ials)."""
    if name not in SPARK_MODELS:
        raise ValueError(
            f"--engine spark trains {' and '.join(SPARK_MODELS)} (Spark MLlib ALS); {name!r} needs --engine local"
        )
    return SPARK_MODELS[name](**params)


def check_ids(low: int, high: int, column: str, where: str) -> None:
    """Spark ALS keys rows by Java int: ids must lie in [0, 2^31)."""
    if low < 0 or high > MAX_ID:
        raise DataError(f"{where}: {column} must lie in 0..{MAX_ID} for Spark ALS, found {low}..{high}")
