"""What every movierec model is: fit on a Dataset, score movies for users, fold in new users.

Models work on *indices* of the training dataset's vocabularies (users are rows, movies are
columns) and never see MovieLens ids; the Recommender maps ids and titles. Hyperparameters
live in one dataclass per model (``Config``), stored unchanged and round-tripped through the
saved artifact together with the fitted arrays named in ``state_attrs``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
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


Callback = Callable[[TrainingEvent], None]


class Model(ABC):
    """Base of every model. Subclasses set ``name``, ``kind``, ``Config`` and ``state_attrs``."""

    name: ClassVar[str]
    kind: ClassVar[str]  # "rating" or "ranking"
    Config: ClassVar[type]
    state_attrs: ClassVar[tuple[str, ...]] = ()  # fitted numpy arrays, saved with the model

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

    # -- training and scoring ------------------------------------------------------------
    @abstractmethod
    def fit(self, train: Dataset, callback: Callback | None = None) -> "Model":
        """Train on ``train``; set ``n_users``/``n_movies`` to its vocabulary sizes."""

    @abstractmethod
    def score_users(self, users: np.ndarray) -> np.ndarray:
        """Scores of every movie for user rows ``users``: float32 [len(users), n_movies].

        Higher is better. Rating models return predicted ratings (unclipped). Movies the
        user already rated are *not* masked here; callers do that.
        """

    @abstractmethod
    def fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """Scores of every movie (float32 [n_movies]) for a new user who rated ``movies``.

        Solved against the fixed movie parameters: no retraining.
        """

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
        model = cls(**params)
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


def parts_state(parts: dict[str, Model]) -> dict[str, np.ndarray]:
    """The arrays of a composite model's fitted parts, each under ``"<prefix>."``."""
    return {f"{prefix}.{k}": v for prefix, part in parts.items() for k, v in part.get_state().items()}


def parts_from_state(state: dict[str, np.ndarray], fresh: dict[str, Model]) -> list[Model]:
    """Each unfitted part in ``fresh`` loaded from the arrays under its prefix (see :func:`parts_state`)."""
    loaded = []
    for prefix, part in fresh.items():
        sub = {k[len(prefix) + 1 :]: v for k, v in state.items() if k.startswith(prefix + ".")}
        loaded.append(type(part).from_state(part.get_params(), sub))
    return loaded


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
