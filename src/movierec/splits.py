"""Train/test splits. Every split is a partition: train ∪ test = all ratings, train ∩ test = ∅.

FOUNDATION VERSION: random and per-user holdout; the data-layer work adds k-fold, temporal,
ml-100k's official splits and explicit files.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .dataset import Dataset


class Split(NamedTuple):
    train: Dataset
    test: Dataset


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")


def random_holdout(data: Dataset, test_fraction: float = 0.2, seed: int = 42) -> Split:
    """A uniformly random ``test_fraction`` of all ratings is held out."""
    _check_fraction(test_fraction)
    order = np.random.default_rng(seed).permutation(data.n_ratings)
    n_test = int(round(test_fraction * data.n_ratings))
    test = np.zeros(data.n_ratings, dtype=bool)
    test[order[:n_test]] = True
    return Split(data.subset(~test), data.subset(test))


def user_holdout(data: Dataset, test_fraction: float = 0.2, seed: int = 42) -> Split:
    """A random ``test_fraction`` of each user's ratings is held out (rounded down)."""
    _check_fraction(test_fraction)
    rng = np.random.default_rng(seed)
    # Sort by (user, random key): each user's ratings in random order, vectorized.
    order = np.lexsort((rng.random(data.n_ratings), data.users))
    counts = np.bincount(data.users, minlength=data.n_users)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(data.n_ratings) - np.repeat(starts, counts)
    n_test = np.floor(counts * test_fraction).astype(np.int64)
    test = np.zeros(data.n_ratings, dtype=bool)
    test[order] = rank < np.repeat(n_test, counts)
    return Split(data.subset(~test), data.subset(test))
