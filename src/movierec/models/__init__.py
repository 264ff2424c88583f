"""Model registry: every model by its CLI name, and the defaults of each kind."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .base import MOVIES, Model, RankingModel, RatingModel, TrainingEvent

# name -> "module:Class"; imported on first use so the CLI starts fast.
_REGISTRY: dict[str, str] = {
    # rating models
    "mean": "baselines:GlobalMean",
    "biases": "baselines:Biases",
    "seed": "seed:SeedMF",
    "mf": "mf:BiasedMF",
    "bayesmf": "bayesian:BayesianMF",
    "bayesfm": "bayesfm:BayesFM",
    "knn": "knn:ItemKNN",
    "blend": "blend:Blend",
    # ranking models
    "popularity": "baselines:Popularity",
    "ials": "ials:ImplicitALS",
    "ease": "ease:EASE",
    "hybrid": "hybrid:Hybrid",
}

DEFAULT_RATING = "bayesfm"
DEFAULT_RANKING = "hybrid"
AUTO = "auto"  # the rating model for the data's size: see auto_rating
# bayesfm's 16 Gibbs sweeps take ~2.5 s at 100k ratings; 24 took 29 s at 1M and 3.4 min at 10M (bench/rating.py
# --synthetic, 2 cores): past ml-10m's size mf's ALS with early stopping (~2 min at 32M) takes over.
AUTO_LIMIT, AUTO_LARGE = 12_000_000, "mf"


def auto_rating(n_ratings: int) -> tuple[str, str | None]:
    """The default rating model for ``n_ratings`` ratings, and a note when size decided it."""
    if n_ratings <= AUTO_LIMIT:
        return DEFAULT_RATING, None
    return AUTO_LARGE, (
        f"rating model {AUTO_LARGE}: past {AUTO_LIMIT:,} ratings {DEFAULT_RATING}'s Gibbs sampling would take "
        f"far longer; name it with --rating {DEFAULT_RATING} to train it anyway"
    )


def model_names(kind: str | None = None) -> list[str]:
    return [n for n in _REGISTRY if kind is None or model_class(n).kind == kind]


def model_class(name: str) -> type[Model]:
    try:
        module, cls = _REGISTRY[name].split(":")
    except KeyError:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(_REGISTRY)}") from None
    return getattr(import_module(f".{module}", __name__), cls)


def make_model(name: str, **params: Any) -> Model:
    return model_class(name)(**params)


__all__ = [
    "AUTO",
    "auto_rating",
    "DEFAULT_RANKING",
    "DEFAULT_RATING",
    "MOVIES",
    "Model",
    "RankingModel",
    "RatingModel",
    "TrainingEvent",
    "make_model",
    "model_class",
    "model_names",
]
