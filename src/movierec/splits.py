"""Train/test splits. Every split is a partition: train ∪ test = all ratings, train ∩ test = ∅.

Both parts keep the full vocabularies (see :meth:`Dataset.subset`), so a movie index means the
same in train and test. Every split is deterministic under its ``seed``; ties in time are
broken by the ratings' order in the dataset, so temporal splits need no seed.

=========  ==========================================================================
random     a uniformly random ``test_fraction`` of all ratings (rating metrics)
user       a random ``test_fraction`` of each user's ratings (ranking metrics)
kfold      ``k`` random folds; each rating is in exactly one test fold
temporal   the latest ``test_fraction`` of all ratings, or those at/after a timestamp
last       each user's last ``n`` ratings (leave-last-out)
=========  ==========================================================================

ml-100k's official u1..u5/ua/ub splits and explicit train/test files come from files on disk
and live in :mod:`movierec.loading`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from .dataset import Dataset

SPLIT_NAMES = ("random", "user", "kfold", "temporal", "last")


class Split(NamedTuple):
    train: Dataset
    test: Dataset


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")


def _split(data: Dataset, test: np.ndarray) -> Split:
    return Split(data.subset(~test), data.subset(test))


def _rank_within_user(users: np.ndarray, order: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """For ratings visited in ``order`` (grouped by user): each one's rank inside its user, and
    the user's rating count, both aligned with ``order``."""
    counts = np.bincount(users, minlength=n_users)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(users.size) - np.repeat(starts, counts)
    return rank, np.repeat(counts, counts)


def random_holdout(data: Dataset, test_fraction: float = 0.2, seed: int = 42) -> Split:
    """A uniformly random ``test_fraction`` of all ratings is held out."""
    _check_fraction(test_fraction)
    order = np.random.default_rng(seed).permutation(data.n_ratings)
    n_test = int(round(test_fraction * data.n_ratings))
    test = np.zeros(data.n_ratings, dtype=bool)
    test[order[:n_test]] = True
    return _split(data, test)


def user_holdout(data: Dataset, test_fraction: float = 0.2, seed: int = 42) -> Split:
    """A random ``test_fraction`` of each user's ratings is held out (rounded down, so users with
    fewer than ``1 / test_fraction`` ratings stay wholly in train)."""
    _check_fraction(test_fraction)
    rng = np.random.default_rng(seed)
    # Sort by (user, random key): each user's ratings in random order, vectorized.
    order = np.lexsort((rng.random(data.n_ratings), data.users))
    rank, counts = _rank_within_user(data.users, order, data.n_users)
    test = np.zeros(data.n_ratings, dtype=bool)
    test[order] = rank < np.floor(counts * test_fraction)
    return _split(data, test)


def kfold(data: Dataset, k: int = 5, seed: int = 42) -> Iterator[Split]:
    """``k`` splits whose test parts partition the ratings (random folds, sizes within one)."""
    if not 2 <= k <= data.n_ratings:
        raise ValueError(f"k must be between 2 and the number of ratings ({data.n_ratings}), got {k}")
    fold = np.empty(data.n_ratings, dtype=np.int32)
    fold[np.random.default_rng(seed).permutation(data.n_ratings)] = np.arange(data.n_ratings) % k
    return (_split(data, fold == f) for f in range(k))  # checked now, made lazily


def temporal(data: Dataset, test_fraction: float = 0.2, *, at: int | None = None) -> Split:
    """Hold out the latest ratings: those with timestamp >= ``at`` when given, else the latest
    ``test_fraction`` of all ratings (ratings sharing the cut's timestamp go by dataset order)."""
    if at is not None:
        return _split(data, data.timestamps >= at)
    _check_fraction(test_fraction)
    order = np.argsort(data.timestamps, kind="stable")
    test = np.zeros(data.n_ratings, dtype=bool)
    test[order[data.n_ratings - int(round(test_fraction * data.n_ratings)) :]] = True
    return _split(data, test)


def last_n(data: Dataset, n: int = 1) -> Split:
    """Hold out each user's ``n`` latest ratings (leave-last-out). A user with ``n`` or fewer
    ratings keeps the earliest in train, so every test user is known to the model."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    order = np.lexsort((np.arange(data.n_ratings), data.timestamps, data.users))  # by user, then time
    rank, counts = _rank_within_user(data.users, order, data.n_users)
    test = np.zeros(data.n_ratings, dtype=bool)
    test[order] = rank >= np.maximum(counts - n, 1)
    return _split(data, test)


def make_splits(
    data: Dataset, name: str, test_fraction: float = 0.2, seed: int = 42, folds: int = 5, n: int = 1
) -> Iterator[Split]:
    """The split(s) called ``name`` (one of :data:`SPLIT_NAMES`), made lazily: k-fold yields
    ``folds`` splits one at a time, so only one copy of the ratings is alive at once."""
    if name == "kfold":
        return kfold(data, folds, seed)
    if name == "random":
        return iter([random_holdout(data, test_fraction, seed)])
    if name == "user":
        return iter([user_holdout(data, test_fraction, seed)])
    if name == "temporal":
        return iter([temporal(data, test_fraction)])
    if name == "last":
        return iter([last_n(data, n)])
    raise ValueError(f"unknown split {name!r}; expected one of {', '.join(SPLIT_NAMES)}")
