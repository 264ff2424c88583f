"""The genre and year filters of a recommendation list, over the model's movies."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..data.catalog import Catalog
from ..errors import DataError


class MovieFilter:
    """Genres (bool [n_movies, genres]) and years (int32, 0 when unknown) of the model's movies,
    from their catalog rows (-1: a rated movie missing from the catalog: no genres, no year)."""

    def __init__(self, catalog: Catalog, catalog_rows: np.ndarray):
        known = catalog_rows >= 0
        rows = np.where(known, catalog_rows, 0)
        self.genre_names = catalog.genre_names
        self.genres = catalog.genres[rows] & known[:, None]
        self.years = np.where(known, catalog.years[rows], 0).astype(np.int32)

    def keep(self, genres: Iterable[str], year_from: int | None, year_to: int | None) -> np.ndarray | None:
        """Movies having *all* ``genres`` (case-insensitive) released in ``year_from``..``year_to``
        (inclusive; a bound drops movies without a year): bool [n_movies], or None for no filter."""
        if isinstance(genres, str):
            genres = (genres,)
        wanted = [g for g in genres if g]
        if not wanted and year_from is None and year_to is None:
            return None
        keep = np.ones(self.years.size, dtype=bool)
        if wanted:
            lower = {name.lower(): j for j, name in enumerate(self.genre_names)}
            missing = [g for g in wanted if g.lower() not in lower]
            if missing:
                raise DataError(f"unknown genre {missing[0]!r}: expected one of {', '.join(self.genre_names) or 'none'}")
            keep &= self.genres[:, [lower[g.lower()] for g in wanted]].all(axis=1)
        if year_from is not None:
            keep &= self.years >= int(year_from)
        if year_to is not None:
            keep &= (self.years <= int(year_to)) & (self.years > 0)
        return keep
