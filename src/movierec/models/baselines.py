"""Baselines every other model must beat: the global mean, damped biases, popularity.

They train in one vectorized pass (bincount), so they are also the fallbacks the
factor models share: an unknown user or movie falls back to the same bias terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.dataset import Dataset
from .base import Callback, Model, RankingModel, RatingModel, known_rows


def damped_biases(
    users: np.ndarray,
    movies: np.ndarray,
    ratings: np.ndarray,
    n_users: int,
    n_movies: int,
    user_damping: float,
    movie_damping: float,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Global mean, then movie biases, then user biases, each a damped mean of residuals.

    Damping ``d`` shrinks an entity with ``n`` ratings by ``n / (n + d)`` toward zero, so a
    movie rated once does not get that one rating's full deviation.
    """
    mean = float(np.mean(ratings, dtype=np.float64))
    resid = ratings.astype(np.float64) - mean
    movie_bias = _damped_mean(movies, resid, n_movies, movie_damping)
    user_bias = _damped_mean(users, resid - movie_bias[movies], n_users, user_damping)
    return mean, user_bias.astype(np.float32), movie_bias.astype(np.float32)


def _damped_mean(rows: np.ndarray, values: np.ndarray, n: int, damping: float) -> np.ndarray:
    """Per-row sum / (count + damping); rows without values get 0 (even with damping 0)."""
    total = np.bincount(rows, values, n)
    denom = np.bincount(rows, minlength=n) + damping
    return np.divide(total, denom, out=np.zeros(n), where=denom > 0)


def bias_sum(model: Model, users: np.ndarray, movies: np.ndarray | None = None) -> np.ndarray:
    """mean + user bias + movie bias (float32), the base every biased model adds its term to.

    For pairs of rows (``movies`` given), an unknown row (-1) drops its own bias, so it falls
    back to the other side's (or the mean). Without ``movies``: every movie for each of the
    known user rows ``users`` (a [len(users), n_movies] array).
    """
    if movies is None:
        return (model.user_bias[users][:, None] + model.movie_bias[None, :]) + model.mean
    ku, u = known_rows(users, model.n_users)
    km, m = known_rows(movies, model.n_movies)
    return (model.mean + np.where(ku, model.user_bias[u], 0) + np.where(km, model.movie_bias[m], 0)).astype(np.float32)


@dataclass(frozen=True)
class GlobalMeanConfig:
    pass


class GlobalMean(RatingModel):
    """Predicts the mean training rating for everyone: the floor any model must beat.

    Unknown users and movies get the same prediction, the global mean.
    """

    name = "mean"
    Config = GlobalMeanConfig
    state_attrs = ("mean",)

    def _fit(self, train: Dataset, callback: Callback | None) -> None:
        self.mean = np.asarray(np.mean(train.ratings, dtype=np.float64), dtype=np.float32)

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return np.full(np.shape(users), self.mean, dtype=np.float32)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return np.full((len(users), self.n_movies), self.mean, dtype=np.float32)

    def _fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        return np.full(self.n_movies, self.mean, dtype=np.float32)


@dataclass(frozen=True)
class BiasesConfig:
    user_damping: float = 5.0  # pseudo-ratings pulling each user bias toward 0
    movie_damping: float = 5.0  # pseudo-ratings pulling each movie bias toward 0


class Biases(RatingModel):
    """Global mean + damped movie bias + damped user bias (LensKit's ``Bias``, Surprise's baseline).

    Unknown user (row -1): mean + movie bias. Unknown movie: mean + user bias. Both: the mean.
    A movie in the vocabulary with no training rating has bias 0.
    """

    name = "biases"
    Config = BiasesConfig
    state_attrs = ("mean", "user_bias", "movie_bias")

    bounds = ((">= 0", ("user_damping", "movie_damping")),)

    def _fit(self, train: Dataset, callback: Callback | None) -> None:
        c = self.config
        mean, self.user_bias, self.movie_bias = damped_biases(
            train.users, train.movies, train.ratings, train.n_users, train.n_movies, c.user_damping, c.movie_damping
        )
        self.mean = np.asarray(mean, dtype=np.float32)

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return bias_sum(self, users, movies)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return bias_sum(self, users)

    def _fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """The new user's bias is the damped mean of their residuals against the movie biases."""
        _, user_bias = fold_in_bias(self.mean, self.movie_bias, movies, ratings, self.config.user_damping)
        return (self.mean + user_bias + self.movie_bias).astype(np.float32)


def fold_in_bias(mean, movie_bias: np.ndarray, movies, ratings, damping: float) -> tuple[np.ndarray, float]:
    """A new user's residuals against the mean and movie biases (float64), and their damped
    mean: the user's bias."""
    resid = np.asarray(ratings, dtype=np.float64) - float(mean) - movie_bias[np.asarray(movies, dtype=np.int64)]
    return resid, resid.sum() / (resid.size + damping) if resid.size else 0.0


@dataclass(frozen=True)
class PopularityConfig:
    threshold: float | None = None  # count only ratings >= threshold (e.g. 4.0); None counts all


class Popularity(RankingModel):
    """Ranks movies by how many training ratings they have (optionally only ratings >= threshold).

    Everyone, including an unknown user and a folded-in new user, gets the same scores.
    """

    name = "popularity"
    Config = PopularityConfig
    state_attrs = ("counts",)

    def _fit(self, train: Dataset, callback: Callback | None) -> None:
        t = self.config.threshold
        weights = None if t is None else (train.ratings >= t).astype(np.float64)
        self.counts = np.bincount(train.movies, weights, train.n_movies).astype(np.float32)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(users), self.n_movies)).copy()

    def _fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        return self.counts.copy()
