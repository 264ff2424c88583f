"""What every movierec model is: fit on a Dataset, score movies for users, fold in new users.

Models work on *indices* of the training dataset's vocabularies (users are rows, movies are
columns) and never see MovieLens ids; the Recommender maps ids and titles. Hyperparameters
live in one dataclass per model (``Config``), stored unchanged and round-tripped through the
saved artifact together with the fitted arrays named in ``state_attrs``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from ..data.dataset import Dataset
from ..errors import ModelError


@dataclass(frozen=True)
class TrainingEvent:
    """Reported to the ``callback`` of ``fit`` after each epoch (or iteration)."""

    epoch: int
    n_epochs: int
    loss: float
    validation: float | None = None  # e.g. validation RMSE, when the model keeps a slice
    metric: str = "val_rmse"


MOVIES = "movies"  # TrainingEvent.metric of a step over movies (the neighbours): epoch = movies done


Callback = Callable[[TrainingEvent], None]

#: Parameters that older versions saved and that are gone from some configs (e.g. ``seed`` of
#: deterministic models); a saved model that still has them loads without them.
RETIRED_PARAMS = frozenset({"seed"})


_RULES: dict[str, Callable[[float], bool]] = {
    ">= 1": lambda v: v >= 1,
    ">= 0": lambda v: v >= 0,
    "> 0": lambda v: v > 0,
    "in [0, 1)": lambda v: 0 <= v < 1,
    "in (0, 1)": lambda v: 0 < v < 1,
}


class Model(ABC):
    """Base of every model. Subclasses set ``name``, ``kind``, ``Config`` and ``state_attrs``
    and implement ``_fit``, ``_score_users`` and ``_fold_in``; the public methods here wrap
    them with the checks and policies every model shares (a template, as scikit-learn's
    ``_fit_context`` wraps each ``fit``).

    Unknown rows: a user row outside the model (-1 or >= ``n_users``) is scored as a user with
    no ratings, i.e. ``fold_in([], [])``: for rating models that is the documented bias
    fallback, for ranking models the model's cold-start ranking. Movie rows outside the model
    are ignored by ``fold_in``; rating models' ``predict`` gives them the fallback too.
    """

    name: ClassVar[str]
    kind: ClassVar[str]  # "rating" or "ranking"
    Config: ClassVar[type]
    state_attrs: ClassVar[tuple[str, ...]] = ()  # fitted numpy arrays, saved with the model
    min_ratings: ClassVar[int] = 1  # the fewest training ratings ``fit`` accepts

    def __init__(self, config: Any = None, **params: Any):
        base = config if config is not None else self.Config()
        known = {f.name for f in fields(self.Config)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(
                f"{self.name} has no parameter {', '.join(unknown)}; expected one of {', '.join(sorted(known))}"
            )
        self.config = replace(base, **params)
        self.n_users = 0
        self.n_movies = 0
        self.interrupted = False  # set when Ctrl-C ended training early (best state kept)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"

    # -- training ------------------------------------------------------------------------
    def fit(self, train: Dataset, callback: Callback | None = None) -> "Model":
        """Train on ``train``; ``callback(TrainingEvent)`` after each epoch. Returns self.

        Checks the config, rejects too few ratings, sets ``n_users``/``n_movies`` to the
        vocabulary sizes and drops the views cached from a previous fit, then runs ``_fit``.
        """
        self._check_config()
        if train.n_ratings < self.min_ratings:
            raise ModelError(
                f"{self.name} needs at least {self.min_ratings} training rating(s) to fit, got {train.n_ratings}"
            )
        self.n_users, self.n_movies = train.n_users, train.n_movies
        self.interrupted = False
        for attr, value in vars(type(self)).items():
            if isinstance(value, cached_property):
                self.__dict__.pop(attr, None)
        self._fit(train, callback)
        return self

    #: Hyperparameter bounds checked by ``fit``: (rule, names), a rule being a key of
    #: ``_RULES`` (">= 1", "in [0, 1)", ...); a None value (an "off" setting) passes.
    bounds: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = ()

    def _check_config(self) -> None:
        """Raise ``ValueError`` naming the first hyperparameter out of ``bounds``."""
        for rule, names in self.bounds:
            for name in names:
                value = getattr(self.config, name)
                if value is not None and not _RULES[rule](value):
                    raise ValueError(f"{name} must be {rule}, got {value}")

    @abstractmethod
    def _fit(self, train: Dataset, callback: Callback | None) -> None:
        """The model's own training, after the shared checks of ``fit``."""

    @contextmanager
    def _stoppable(self) -> Iterator[None]:
        """Around a training loop: Ctrl-C ends it early and sets ``interrupted``; the model
        keeps the state its last finished step stored. Never re-raises."""
        try:
            yield
        except KeyboardInterrupt:
            self.interrupted = True

    # -- scoring -------------------------------------------------------------------------
    def score_users(self, users: np.ndarray) -> np.ndarray:
        """Scores of every movie for user rows ``users``: float32 [len(users), n_movies].

        Higher is better. Rating models return predicted ratings (unclipped). Movies the
        user already rated are *not* masked here; callers do that. Unknown rows get the
        scores of a user with no ratings.
        """
        self._check_fitted()
        known, rows = known_rows(users, self.n_users)
        scores = self._score_users(rows)
        if not known.all():
            scores[~known] = self._fold_in(np.empty(0, np.int64), np.empty(0, np.float32))
        return scores

    def fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """Scores of every movie (float32 [n_movies]) for a new user who rated ``movies``.

        Solved against the fixed movie parameters: no retraining. Movie rows outside the
        model are ignored.
        """
        self._check_fitted()
        movies = np.asarray(movies, dtype=np.int64)
        ratings = np.asarray(ratings, dtype=np.float32)
        if movies.shape != ratings.shape or movies.ndim != 1:
            raise ValueError(f"movies and ratings must be 1-D and the same length, got {movies.shape} and {ratings.shape}")
        known = (movies >= 0) & (movies < self.n_movies)
        return self._fold_in(movies[known], ratings[known])

    @abstractmethod
    def _score_users(self, users: np.ndarray) -> np.ndarray:
        """``score_users`` for known rows (int64), as a new writable float32 array."""

    @abstractmethod
    def _fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """``fold_in`` for known movie rows (int64) and float32 ratings, possibly empty."""

    def score_tiles(self, order: np.ndarray, device: str = "cpu"):
        """Scores by tiles, for blocked top-N over the catalog (:mod:`movierec.eval.topn`).

        Returns ``block(user_rows) -> tile(start, stop, threshold)``: the scores of movies
        ``order[start:stop]`` as a float32 tensor on ``device``, or None when no user's score
        there can exceed ``threshold``. This default cuts tiles from :meth:`score_users`;
        models with factors override it to score each tile directly.
        """
        from ..eval.topn import dense_block_scorer

        return dense_block_scorer(self.score_users, order, device)

    def contributions(self, movies: np.ndarray, ratings: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """What each rated movie adds to each target's :meth:`fold_in` score: float32
        [len(targets), len(movies)]; it explains a recommendation ("because you rated ...").

        This default is the exact counterfactual, ``score(all) - score(all but movie i)``: one
        fold-in per rated movie, so callers keep ``movies`` short. Models whose score is a sum
        over the rated movies override it with those terms (EASE, iALS).
        """
        movies, ratings = np.asarray(movies), np.asarray(ratings)
        targets = np.asarray(targets, np.int64)
        full = self.fold_in(movies, ratings)[targets]
        out = np.empty((targets.size, movies.size), np.float32)
        keep = np.ones(movies.size, dtype=bool)
        for i in range(movies.size):  # one fold-in per rated movie: a short list by contract
            keep[i] = False
            out[:, i] = full - self.fold_in(movies[keep], ratings[keep])[targets]
            keep[i] = True
        return out

    def movie_embeddings(self) -> np.ndarray | None:
        """Movie vectors (float32 [n_movies, d]) for similarity and clustering, if any."""
        return None

    # -- persistence ---------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        return asdict(self.config)

    def get_state(self) -> dict[str, np.ndarray]:
        """Fitted arrays by name (scalars as 0-d arrays); no Python objects."""
        self._check_fitted()
        state = {name: np.asarray(getattr(self, name)) for name in self.state_attrs}
        state["n_users"] = np.asarray(self.n_users, dtype=np.int64)
        state["n_movies"] = np.asarray(self.n_movies, dtype=np.int64)
        return state

    @classmethod
    def from_state(cls, params: dict[str, Any], state: dict[str, np.ndarray]) -> "Model":
        known = {f.name for f in fields(cls.Config)}
        model = cls(**{k: v for k, v in params.items() if k in known or k not in RETIRED_PARAMS})
        missing = [name for name in (*cls.state_attrs, "n_users", "n_movies") if name not in state]
        if missing:
            raise ModelError(f"saved {cls.name} model lacks arrays: {', '.join(missing)}")
        for name in cls.state_attrs:
            setattr(model, name, state[name])
        model.n_users = int(state["n_users"])
        model.n_movies = int(state["n_movies"])
        return model

    def _check_fitted(self) -> None:
        if self.n_movies == 0:
            raise ModelError(f"{self.name} model is not fitted; call fit() first")


class RatingModel(Model):
    """Predicts star ratings. Unknown users or movies (index -1) get the documented fallback."""

    kind: ClassVar[str] = "rating"

    @abstractmethod
    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """Predicted ratings (float32, unclipped) for pairs of rows; -1 marks an unknown row."""

    def predict_at(self, users: np.ndarray, movies: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        """:meth:`predict` for ratings made at ``timestamps`` (seconds); models without a time
        term ignore them."""
        return self.predict(users, movies)


class RankingModel(Model):
    """Ranks movies for top-N recommendation; its scores are not ratings."""

    kind: ClassVar[str] = "ranking"


def known_rows(index: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Which rows of ``index`` are known (0 <= row < n), and the rows with unknowns (-1)
    replaced by 0 so they can gather safely; callers then apply their fallback by mask."""
    index = np.asarray(index, dtype=np.int64)
    known = (index >= 0) & (index < n)
    return known, np.where(known, index, 0)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("device 'cuda' was requested but no CUDA GPU is available; use --device cpu or auto")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    return device


def check_finite(value: float, model: str, epoch: int) -> None:
    """Fail loudly on divergence instead of saving NaN factors."""
    if not np.isfinite(value):
        raise ModelError(
            f"{model} diverged at epoch {epoch} (loss {value}); lower the learning rate or raise regularization"
        )
