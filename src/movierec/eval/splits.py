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

From files: ml-100k's official splits (:func:`official_split`: u1..u5, five disjoint 20% test
folds; ua/ub, ten ratings per user held out) and explicit train/test files (:func:`file_split`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..data.archive import open_release
from ..data.dataset import Dataset
from ..data.loading import from_raw
from ..data.readers import read_ratings_csv, read_ratings_delimited
from ..errors import DataError, DataWarning

SPLIT_NAMES = ("random", "user", "kfold", "temporal", "last")
OFFICIAL_SPLITS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")  # ml-100k's <name>.base / <name>.test


class Split(NamedTuple):
    train: Dataset
    test: Dataset


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")


def _split(data: Dataset, test: np.ndarray) -> Split:
    return Split(data.subset(~test), data.subset(test))


def _rank_within_user(users: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """For the ratings taken in an order that groups them by ascending user (a lexsort whose
    last key is the user): each one's rank inside its user, and that user's rating count."""
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


def random_sample(data: Dataset, n_test: int, seed: int = 42) -> Split:
    """``n_test`` ratings drawn uniformly at random are held out: a small validation slice of a
    large dataset in O(n_test), where :func:`random_holdout` permutes every rating (3.7 s at 32M)."""
    if not 0 < n_test < data.n_ratings:
        raise ValueError(f"n_test must be between 0 and the number of ratings ({data.n_ratings}), got {n_test}")
    test = np.zeros(data.n_ratings, dtype=bool)
    test[np.random.default_rng(seed).choice(data.n_ratings, n_test, replace=False)] = True
    return _split(data, test)


def user_holdout(data: Dataset, test_fraction: float = 0.2, seed: int = 42) -> Split:
    """A random ``test_fraction`` of each user's ratings is held out (rounded down, so users with
    fewer than ``1 / test_fraction`` ratings stay wholly in train)."""
    _check_fraction(test_fraction)
    rng = np.random.default_rng(seed)
    # Sort by (user, random key): each user's ratings in random order, vectorized.
    order = np.lexsort((rng.random(data.n_ratings), data.users))
    rank, counts = _rank_within_user(data.users, data.n_users)
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
    rank, counts = _rank_within_user(data.users, data.n_users)
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


# -- splits stored in files ---------------------------------------------------------------------
def official_split(data: Dataset, release: str | os.PathLike, name: str) -> Split:
    """ml-100k's own split ``name`` (u1..u5, ua, ub) of ``data``, the release loaded from the zip or
    folder ``release``: its ``<name>.base`` is the train part and ``<name>.test`` the test part."""

    if name not in OFFICIAL_SPLITS:
        raise ValueError(f"unknown official split {name!r}; expected one of {', '.join(OFFICIAL_SPLITS)}")
    with open_release(release) as files:
        if not (files.has(f"{name}.base") and files.has(f"{name}.test")):
            raise DataError(
                f"{release} has no {name}.base/{name}.test: official splits exist only in ml-100k; "
                "use --split random, user, kfold, temporal or last for other releases"
            )
        parts = [
            read_ratings_delimited(files.opener(f"{name}.{part}"), files.label(f"{name}.{part}"), "\t")
            for part in ("base", "test")
        ]
    train, test = (_on_vocabularies(data, raw) for raw in parts)
    return Split(train, test)


def _on_vocabularies(data: Dataset, raw) -> Dataset:
    """Parsed ratings re-indexed on ``data``'s vocabularies (every id must be in ``data``)."""
    users = data.user_vocab.index(raw.user_ids, missing="negative")
    movies = data.movie_vocab.index(raw.movie_ids, missing="negative")
    bad = np.flatnonzero((users < 0) | (movies < 0))
    if bad.size:
        row = int(bad[0])
        raise DataError(
            f"{raw.label} line {raw.line(row)}: user {int(raw.user_ids[row])} / movie {int(raw.movie_ids[row])} "
            f"is not among the release's ratings; expected the split files of the same release"
        )
    return data.with_ratings(users, movies, raw.ratings, raw.timestamps)


def file_split(train: str | os.PathLike, test: str | os.PathLike) -> Split:
    """A split given as two ratings files: CSV with a ``userId,movieId,rating[,timestamp]`` header,
    or headerless ``user<TAB>movie<TAB>rating<TAB>time`` (u1.base) or ``::``-separated lines.

    Each file is checked as :func:`~movierec.data.loading.load` checks one (ids, ratings, a repeated
    pair keeps its latest rating). Both parts share vocabularies over the ids of both files; the
    rating scale is 1-5 when every rating is a whole star, else 0.5-5 (widened to the data if
    needed); movies get placeholder titles (``Movie <id>``). A pair in both files would show the
    test answer in training: it is dropped from train, with a DataWarning.
    """

    paths = [Path(train), Path(test)]
    raw = [_read_ratings_file(path) for path in paths]
    every = np.concatenate([r.ratings for r in raw])
    low, high = float(np.nanmin(every)), float(np.nanmax(every))
    whole = bool(np.all(every == np.round(every)))
    scale = (1.0, 5.0) if whole and low >= 1 and high <= 5 else (min(low, 0.5), max(high, 5.0))  # MovieLens' two scales
    parts = [from_raw(r, path.stem, scale, str(path)) for r, path in zip(raw, paths)]
    columns = [
        np.concatenate([p.user_vocab.ids[p.users] for p in parts]),
        np.concatenate([p.movie_vocab.ids[p.movies] for p in parts]),
        np.concatenate([p.ratings for p in parts]),
        np.concatenate([p.timestamps for p in parts]),
    ]
    data = Dataset.from_ids(*columns, name=paths[0].stem, rating_scale=scale, source=f"{train} + {test}")
    in_test = np.arange(data.n_ratings) >= parts[0].n_ratings
    pair = data.users.astype(np.int64) * data.n_movies + data.movies
    leaked = ~in_test & np.isin(pair, pair[in_test])
    if leaked.any():
        warnings.warn(
            f"{train}: {int(leaked.sum()):,} (user, movie) pair(s) also rated in {test} "
            f"(first: user {columns[0][leaked.argmax()]}, movie {columns[1][leaked.argmax()]}); "
            "dropped from training so that no test rating is seen in training",
            DataWarning,
            stacklevel=2,
        )
    return Split(data.subset(~in_test & ~leaked), data.subset(in_test))


def _read_ratings_file(path: Path):

    if not path.is_file():
        raise DataError(f"ratings file {path} does not exist: expected a CSV (userId,movieId,rating[,timestamp]) or u.data-style lines")
    with open(path, "rb") as f:
        first = f.readline().decode("utf-8", errors="replace")
    opener, label = (lambda: open(path, "rb")), str(path)
    if "userId" in first:
        raw = read_ratings_csv(opener, label)
    elif "::" in first:
        raw = read_ratings_delimited(opener, label, "::")
    elif "\t" in first:
        raw = read_ratings_delimited(opener, label, "\t")
    else:
        raise DataError(
            f"{path} line 1: expected a header userId,movieId,rating[,timestamp], or tab- or ::-separated "
            f"user, movie, rating, timestamp fields; found {first.strip()[:60]!r}"
        )
    if raw.ratings.size == 0:
        raise DataError(f"{path}: expected at least one rating, found none")
    return raw
