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

DEFAULT_RATING = "mf"
DEFAULT_RANKING = "hybrid"


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
