"""Id lookups with the errors a caller can act on: one place for "not in the catalog"."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data.catalog import Catalog
from ..data.vocabulary import Vocabulary
from ..errors import UnknownIdError


def not_in_catalog(movie_id: Any) -> UnknownIdError:
    return UnknownIdError(f"unknown movie {movie_id}: it is not in the catalog")


def catalog_rows(catalog: Catalog, movie_ids: np.ndarray) -> np.ndarray:
    """Catalog rows of ``movie_ids`` (int64 array); the first id not in the catalog raises."""
    try:
        ids = np.asarray(movie_ids, np.int64)
    except OverflowError:  # a Python int past int64 is in no catalog
        raise not_in_catalog(max(np.ravel(np.asarray(movie_ids, object)), key=abs)) from None
    rows = catalog.rows(ids)
    unknown = rows < 0
    if unknown.any():
        raise not_in_catalog(int(np.asarray(movie_ids)[unknown][0]))
    return rows


def movie_index(catalog: Catalog, movies: Vocabulary, movie_id: Any) -> int:
    """The model's row of a movie id: unknown ids and catalog movies nobody rated raise."""
    try:
        movie_id = int(movie_id)
    except (TypeError, ValueError):
        raise UnknownIdError(f"expected a movie id (an integer), got {movie_id!r}") from None
    row = int(movies.index([movie_id], missing="negative")[0])
    if row < 0:
        catalog_rows(catalog, np.array([movie_id]))
        raise UnknownIdError(f"movie {movie_id} has no ratings in the training data, so the model does not know it")
    return row


def user_index(users: Vocabulary, user_id: Any) -> int:
    """The model's row of a training user id; unknown ids raise with the known range."""
    try:
        row = int(users.index([int(user_id)], missing="negative")[0])
    except (TypeError, ValueError):
        row = -1
    if row < 0:
        ids = users.ids
        raise UnknownIdError(
            f"unknown user {user_id!r}: the model knows {ids.size} users"
            + (f" (ids {ids[0]}..{ids[-1]})" if ids.size else "")
            + "; a new user can get recommendations from their own ratings instead"
        )
    return row
