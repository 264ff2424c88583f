"""The strongest rating model: Bayesian factorization and item kNN, blended by weights fit on held-out training ratings.

rating ~ w0 + w1 * bayesfm(u, i, t) + w2 * knn(u, i)

The base is ``bayesfm`` (implicit sets and time); model folders saved with the older
``bayesmf`` base still load (the base is read from the saved arrays' prefix).
The two err differently (global taste factors vs local movie-to-movie evidence), so a linear
blend beats both. The weights are least squares on a ``validation`` slice carved from the
training ratings (never the test set) with both parts trained on the rest; then both parts
are retrained on all training ratings and combined with those weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.dataset import Dataset
from ..eval.splits import random_holdout
from .base import Callback, RatingModel
from .bayesfm import BayesFM
from .bayesian import BayesianMF
from .composite import Composite, relay
from .knn import ItemKNN

BASES = {"bayesfm": BayesFM, "bayesmf": BayesianMF}


@dataclass(frozen=True)
class BlendConfig:
    factors: int = 10  # base model's rank
    epochs: int = 80  # base model's Gibbs sweeps per chain (twice: once for the weights, once on all ratings)
    burn_in: int = 2  # base model's first sweeps, not kept (bayesfm: ALS steps from an SVD start)
    thin: int = 2  # bayesmf base only (older model folders)
    base: str = "bayesfm"  # or "bayesmf" (older model folders)
    neighbors: int = 50  # knn
    shrink: float = 100.0  # knn
    validation: float = 0.1  # share of the training ratings that fits the blend weights
    device: str = "auto"
    seed: int = 42


class Blend(Composite, RatingModel):
    """w0 + w1 * Bayesian factorization + w2 * item kNN (see the module docstring).

    Fallbacks for an unknown user or movie (row -1) are the parts' (mean + the known side's
    bias), blended with the same weights.
    """

    name = "blend"
    Config = BlendConfig
    state_attrs = ("weights",)
    part_names = ("base", "knn")
    min_ratings = 20  # the held-out slice must have enough ratings to fit the weights
    bounds = (("in (0, 1)", ("validation",)),)

    @property
    def part_prefixes(self) -> tuple[str, ...]:
        return (self.config.base, "knn")  # the saved arrays say which base model they are

    def _make_parts(self) -> tuple[RatingModel, ItemKNN]:
        c = self.config
        if c.base not in BASES:
            raise ValueError(f"blend base must be one of {', '.join(BASES)}, got {c.base!r}")
        sampling = dict(factors=c.factors, epochs=c.epochs, burn_in=c.burn_in, device=c.device, seed=c.seed)
        bayes = BASES[c.base](**sampling, **({"thin": c.thin} if c.base == "bayesmf" else {}))
        return bayes, ItemKNN(neighbors=c.neighbors, shrink=c.shrink)

    def _fit(self, train: Dataset, callback: Callback | None) -> None:
        c = self.config
        total = 2 * c.epochs
        fit_on, held = random_holdout(train, c.validation, seed=c.seed)
        base, knn = self._make_parts()
        base.fit(fit_on, relay(callback, 0, total))
        knn.fit(fit_on)
        self._set_parts((base, knn))
        design = np.column_stack(
            [np.ones(held.n_ratings), base.predict_at(held.users, held.movies, held.timestamps), knn.predict(held.users, held.movies)]
        )
        self.weights = np.linalg.lstsq(design.astype(np.float64), held.ratings.astype(np.float64), rcond=None)[0].astype(np.float32)
        if base.interrupted or knn.interrupted:  # Ctrl-C: keep the first-phase parts
            self.interrupted = True
            return
        base, knn = self._make_parts()
        base.fit(train, relay(callback, c.epochs, total))
        if not base.interrupted:
            knn.fit(train)
        if base.interrupted or knn.interrupted:  # keep the complete first-phase parts
            self.interrupted = True
            return
        self._set_parts((base, knn))

    @classmethod
    def from_state(cls, params: dict[str, Any], state: dict[str, np.ndarray]) -> "Blend":
        if "base" not in params:  # saved before bayesfm: its arrays are under "bayesmf."
            params = {**params, "base": "bayesmf"}
        return super().from_state(params, state)

    # -- scoring -------------------------------------------------------------------------
    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        self._check_fitted()
        w = self.weights
        return (w[0] + w[1] * self.base.predict(users, movies) + w[2] * self.knn.predict(users, movies)).astype(np.float32)

    def predict_at(self, users: np.ndarray, movies: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        self._check_fitted()
        w = self.weights
        base = self.base.predict_at(users, movies, timestamps)
        return (w[0] + w[1] * base + w[2] * self.knn.predict(users, movies)).astype(np.float32)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        w = self.weights
        return (w[0] + w[1] * self.base.score_users(users) + w[2] * self.knn.score_users(users)).astype(np.float32)

    def _fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        w = self.weights
        return (w[0] + w[1] * self.base.fold_in(movies, ratings) + w[2] * self.knn.fold_in(movies, ratings)).astype(np.float32)

    def movie_embeddings(self) -> np.ndarray:
        return self.base.movie_embeddings()
