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
from ..errors import ModelError
from ..eval.splits import random_holdout
from .base import Callback, RatingModel, TrainingEvent, parts_from_state, parts_state
from .bayesfm import BayesFM
from .bayesian import BayesianMF
from .knn import ItemKNN

BASES = {"bayesfm": BayesFM, "bayesmf": BayesianMF}


@dataclass(frozen=True)
class BlendConfig:
    factors: int = 10  # base model's rank
    epochs: int = 120  # base model's Gibbs sweeps (twice: once for the weights, once on all ratings)
    burn_in: int = 20  # base model
    thin: int = 2  # bayesmf base only (older model folders)
    base: str = "bayesfm"  # or "bayesmf" (older model folders)
    neighbors: int = 50  # knn
    shrink: float = 100.0  # knn
    validation: float = 0.1  # share of the training ratings that fits the blend weights
    device: str = "auto"
    seed: int = 42


class Blend(RatingModel):
    """w0 + w1 * Bayesian factorization + w2 * item kNN (see the module docstring).

    Fallbacks for an unknown user or movie (row -1) are the parts' (mean + the known side's
    bias), blended with the same weights.
    """

    name = "blend"
    Config = BlendConfig
    state_attrs = ("weights",)

    @property
    def parts(self) -> tuple[str, str]:
        return (self.config.base, "knn")

    def _make_parts(self) -> tuple[RatingModel, ItemKNN]:
        c = self.config
        if c.base not in BASES:
            raise ValueError(f"blend base must be one of {', '.join(BASES)}, got {c.base!r}")
        sampling = dict(factors=c.factors, epochs=c.epochs, burn_in=c.burn_in, device=c.device, seed=c.seed)
        bayes = BASES[c.base](**sampling, **({"thin": c.thin} if c.base == "bayesmf" else {}))
        return bayes, ItemKNN(neighbors=c.neighbors, shrink=c.shrink, seed=c.seed)

    def fit(self, train: Dataset, callback: Callback | None = None) -> "Blend":
        c = self.config
        if not 0 < c.validation < 1:
            raise ValueError(f"validation must be between 0 and 1 (exclusive), got {c.validation}")
        if train.n_ratings < 20:
            raise ModelError(f"blend needs at least 20 training ratings to fit its weights, got {train.n_ratings}")
        self.n_users, self.n_movies = train.n_users, train.n_movies
        self.interrupted = False
        total = 2 * c.epochs

        def relay(offset: int) -> Callback | None:
            if callback is None:
                return None
            return lambda e: callback(TrainingEvent(offset + e.epoch, total, e.loss, e.validation, e.metric))

        fit_on, held = random_holdout(train, c.validation, seed=c.seed)
        self.bayes, self.knn = self._make_parts()
        self.bayes.fit(fit_on, relay(0))
        self.knn.fit(fit_on)
        design = np.column_stack(
            [np.ones(held.n_ratings), self.bayes.predict_at(held.users, held.movies, held.timestamps), self.knn.predict(held.users, held.movies)]
        )
        self.weights = np.linalg.lstsq(design.astype(np.float64), held.ratings.astype(np.float64), rcond=None)[0].astype(np.float32)
        if self.bayes.interrupted or self.knn.interrupted:  # Ctrl-C: keep the first-phase parts
            self.interrupted = True
            return self
        bayes, knn = self._make_parts()
        bayes.fit(train, relay(c.epochs))
        if not bayes.interrupted:
            knn.fit(train)
        if bayes.interrupted or knn.interrupted:  # keep the complete first-phase parts
            self.interrupted = True
            return self
        self.bayes, self.knn = bayes, knn
        return self

    # -- persistence: the parts' arrays, prefixed -----------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        return {**super().get_state(), **parts_state(dict(zip(self.parts, (self.bayes, self.knn))))}

    @classmethod
    def from_state(cls, params: dict[str, Any], state: dict[str, np.ndarray]) -> "Blend":
        if "base" not in params:  # saved before bayesfm: its arrays are under "bayesmf."
            params = {**params, "base": "bayesmf"}
        model = super().from_state(params, state)
        model.bayes, model.knn = parts_from_state(state, dict(zip(model.parts, model._make_parts())))
        return model

    # -- scoring -------------------------------------------------------------------------
    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        self._check_fitted()
        w = self.weights
        return (w[0] + w[1] * self.bayes.predict(users, movies) + w[2] * self.knn.predict(users, movies)).astype(np.float32)

    def predict_at(self, users: np.ndarray, movies: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        self._check_fitted()
        w = self.weights
        base = self.bayes.predict_at(users, movies, timestamps)
        return (w[0] + w[1] * base + w[2] * self.knn.predict(users, movies)).astype(np.float32)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        self._check_fitted()
        w = self.weights
        return (w[0] + w[1] * self.bayes.score_users(users) + w[2] * self.knn.score_users(users)).astype(np.float32)

    def fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        self._check_fitted()
        w = self.weights
        return (w[0] + w[1] * self.bayes.fold_in(movies, ratings) + w[2] * self.knn.fold_in(movies, ratings)).astype(np.float32)

    def movie_embeddings(self) -> np.ndarray:
        return self.bayes.movie_embeddings()
