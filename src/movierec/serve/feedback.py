"""Fold the ratings visitors left on ``movierec serve`` into the next training run."""

from __future__ import annotations

import os
import warnings

import numpy as np

from ..data.dataset import Dataset
from ..errors import DataWarning
from .store import feedback_ratings


def feedback_user_ids(dataset: Dataset, profiles: np.ndarray) -> np.ndarray:
    """User ids for profile numbers: past the dataset's largest user id, so none can collide."""
    base = int(dataset.user_vocab.ids.max()) if dataset.n_users else 0
    return base + 1 + np.asarray(profiles, dtype=np.int64)


def merge_feedback(dataset: Dataset, db_path: str | os.PathLike) -> Dataset:
    """``dataset`` plus every rating stored in the feedback database, each profile a new user.

    Ratings of movies missing from the dataset's catalog, or outside its rating scale, are
    dropped with a DataWarning (the server only accepts catalog movies, but the database may
    come from a server that ran another release).
    """
    profiles, movie_ids, ratings, timestamps = feedback_ratings(db_path)
    low, high = dataset.rating_scale
    keep = (dataset.catalog.rows(movie_ids) >= 0) & (ratings >= low) & (ratings <= high)
    if not keep.all():
        warnings.warn(
            f"dropped {int((~keep).sum())} of {keep.size} feedback ratings: their movie is not in "
            f"{dataset.name}'s catalog or the rating is outside {low}..{high}",
            DataWarning,
            stacklevel=2,
        )
    if not keep.any():
        return dataset
    user_ids = np.concatenate([dataset.user_vocab.ids[dataset.users], feedback_user_ids(dataset, profiles[keep])])
    return Dataset.from_ids(
        user_ids,
        np.concatenate([dataset.movie_vocab.ids[dataset.movies], movie_ids[keep]]),
        np.concatenate([dataset.ratings, ratings[keep]]),
        np.concatenate([dataset.timestamps, timestamps[keep]]),
        catalog=dataset.catalog,
        name=dataset.name,
        rating_scale=dataset.rating_scale,
        source=dataset.source,
    )
