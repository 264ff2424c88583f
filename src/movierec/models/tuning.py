"""Hyperparameters chosen by validation inside the training ratings (never the test part)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..data.dataset import Dataset
from ..eval.metrics import rmse
from ..eval.splits import random_holdout


def parse_candidates(text: str, cast: type, name: str) -> list:
    """``"8,16,32"`` -> [8, 16, 32]: a comma-separated list of positive values."""
    try:
        values = [cast(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) <= 0:
        raise ValueError(f"{name} must list values > 0 separated by commas, like '8,16,32'; got {text!r}")
    return values


def best_by_validation(
    candidates: Sequence, error: Callable[[Any], float], budget: float | None = None
) -> tuple[Any, dict]:
    """Score ``candidates`` in order (``error(c)``: validation error) and return the best and
    every score. Stops at the first that does worse than the best so far (the error is
    U-shaped along the list: past its bottom, further ones are worse still) or once
    ``budget`` seconds are spent; the first is always scored."""
    start, scores = time.perf_counter(), {}
    for candidate in candidates:
        if scores and budget is not None and time.perf_counter() - start > budget:
            break
        scores[candidate] = error(candidate)
        if scores[candidate] > min(scores.values()):
            break
    return min(scores, key=scores.get), scores


def validation_rmse(make: Callable[[Any], Any], train: Dataset, share: float, seed: int) -> Callable[[Any], float]:
    """``error`` for :func:`best_by_validation`: fit ``make(candidate)`` on ``train`` less a random
    ``share`` of its ratings, RMSE (clipped to the scale) on that share. Ctrl-C during a fit
    stops the search (raised again) rather than scoring half a model."""
    fit_on, held = random_holdout(train, share, seed=seed)

    def error(candidate: Any) -> float:
        model = make(candidate).fit(fit_on)
        if model.interrupted:
            raise KeyboardInterrupt
        predicted = model.predict_at(held.users, held.movies, held.timestamps)
        return rmse(np.clip(predicted, *train.rating_scale), held.ratings)

    return error
