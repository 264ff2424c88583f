"""The strongest rating model: Bayesian MF and item kNN, blended by weights fit on held-out training ratings.

rating ~ w0 + w1 * bayesmf(u, i) + w2 * knn(u, i)

The two err differently (global taste factors vs local movie-to-movie evidence), so a linear
blend beats both. The weights are least squares on a ``validation`` slice carved from the
training ratings (never the test set) with both parts trained on the rest; then both parts
are retrained on all training ratings and combined with those weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.dataset import Dataset
from ..eval.splits import random_holdout
from .base import Callback, RatingModel
from .bayesian import BayesianMF
from .composite import Composite, relay
from .knn import ItemKNN


@dataclass(frozen=True)
class BlendConfig:
    factors: int = 32  # bayesmf
    epochs: int = 200  # bayesmf Gibbs sweeps (twice: once for the weights, once on all ratings)
    burn_in: int = 30  # bayesmf
    thin: int = 2  # bayesmf
    neighbors: int = 50  # knn
    shrink: float = 100.0  # knn
    validation: float = 0.1  # share of the training ratings that fits the blend weights
    device: str = "auto"
    seed: int = 42


class Blend(Composite, RatingModel):
    """w0 + w1 * Bayesian MF + w2 * item kNN (see the module docstring).

    Fallbacks for an unknown user or movie (row -1) are the parts' (mean + the known side's
    bias), blended with the same weights.
    """

    name = "blend"
    Config = BlendConfig
    state_attrs = ("weights",)
    part_names = ("bayesmf", "knn")
    min_ratings = 20  # the held-out slice must have enough ratings to fit the weights

    def _make_parts(self) -> tuple[BayesianMF, ItemKNN]:
        c = self.config
        bayes = BayesianMF(factors=c.factors, epochs=c.epochs, burn_in=c.burn_in, thin=c.thin, device=c.device, seed=c.seed)
        return bayes, ItemKNN(neighbors=c.neighbors, shrink=c.shrink)

    bounds = (("in (0, 1)", ("validation",)),)

    def _fit(self, train: Dataset, callback: Callback | None) -> None:
        c = self.config
        total = 2 * c.epochs
        fit_on, held = random_holdout(train, c.validation, seed=c.seed)
        bayes, knn = self._make_parts()
        bayes.fit(fit_on, relay(callback, 0, total))
        knn.fit(fit_on)
        self._set_parts((bayes, knn))
        design = np.column_stack([np.ones(held.n_ratings), bayes.predict(held.users, held.movies), knn.predict(held.users, held.movies)])
        self.weights = np.linalg.lstsq(design.astype(np.float64), held.ratings.astype(np.float64), rcond=None)[0].astype(np.float32)
        if bayes.interrupted or knn.interrupted:  # Ctrl-C: keep the first-phase parts
            self.interrupted = True
            return
        bayes, knn = self._make_parts()
        bayes.fit(train, relay(callback, c.epochs, total))
        if not bayes.interrupted:
            knn.fit(train)
        if bayes.interrupted or knn.interrupted:  # keep the complete first-phase parts
            self.interrupted = True
            return
        self._set_parts((bayes, knn))

    # -- scoring -------------------------------------------------------------------------
    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        self._check_fitted()
        w = self.weights
        return (w[0] + w[1] * self.bayesmf.predict(users, movies) + w[2] * self.knn.predict(users, movies)).astype(np.float32)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        w = self.weights
        return (w[0] + w[1] * self.bayesmf.score_users(users) + w[2] * self.knn.score_users(users)).astype(np.float32)

    def _fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        w = self.weights
        return (w[0] + w[1] * self.bayesmf.fold_in(movies, ratings) + w[2] * self.knn.fold_in(movies, ratings)).astype(np.float32)

    def movie_embeddings(self) -> np.ndarray:
        return self.bayesmf.movie_embeddings()
