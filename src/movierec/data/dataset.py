"""The Dataset: ratings as index arrays, with vocabularies and the movie catalog."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from .catalog import Catalog
from .series import catalog_series
from .vocabulary import Vocabulary


@dataclass(frozen=True, eq=False)
class Dataset:
    """Ratings of one MovieLens release (or a slice of one).

    Orientation is fixed throughout movierec: users are rows, movies are columns.
    ``users[i]`` and ``movies[i]`` are int32 rows of ``user_vocab`` / ``movie_vocab``.
    ``movie_vocab`` holds every *rated* movie of the release; the ``catalog`` also holds
    movies nobody rated. Slices made by :meth:`subset` (train/test splits) keep the full
    vocabularies, so indices mean the same thing in every part of a split.
    """

    users: np.ndarray  # int32
    movies: np.ndarray  # int32
    ratings: np.ndarray  # float32
    timestamps: np.ndarray  # int64, seconds since the epoch
    user_vocab: Vocabulary
    movie_vocab: Vocabulary
    catalog: Catalog
    name: str = "custom"
    rating_scale: tuple[float, float] = (0.5, 5.0)
    source: str = field(default="", compare=False)

    @classmethod
    def from_ids(
        cls,
        user_ids: np.ndarray,
        movie_ids: np.ndarray,
        ratings: np.ndarray,
        timestamps: np.ndarray | None = None,
        catalog: Catalog | None = None,
        **kwargs,
    ) -> "Dataset":
        """Build from external MovieLens ids; vocabularies are the distinct ids seen."""
        user_vocab, users = Vocabulary.from_values(user_ids, "user")
        movie_vocab, movies = Vocabulary.from_values(movie_ids, "movie")
        ratings = np.asarray(ratings, dtype=np.float32)
        if timestamps is None:
            timestamps = np.zeros(ratings.size, dtype=np.int64)
        return cls(
            users=users,
            movies=movies,
            ratings=ratings,
            timestamps=np.asarray(timestamps, dtype=np.int64),
            user_vocab=user_vocab,
            movie_vocab=movie_vocab,
            catalog=catalog if catalog is not None else Catalog.placeholder(movie_vocab.ids),
            **kwargs,
        )

    # -- sizes -------------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return len(self.user_vocab)

    @property
    def n_movies(self) -> int:
        return len(self.movie_vocab)

    @property
    def n_ratings(self) -> int:
        return int(self.ratings.size)

    def __len__(self) -> int:
        return self.n_ratings

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, ratings={self.n_ratings:,}, users={self.n_users:,}, "
            f"movies={self.n_movies:,}, catalog={len(self.catalog):,})"
        )

    # -- derived views -----------------------------------------------------------------
    @cached_property
    def fingerprint(self) -> str:
        """Content hash of the ratings (ids, values, times) and catalog ids: 16 hex digits."""
        h = hashlib.sha256()
        for array in (
            self.user_vocab.ids[self.users],
            self.movie_vocab.ids[self.movies],
            self.ratings,
            self.timestamps,
            self.catalog.movie_ids,
        ):
            h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()[:16]

    @cached_property
    def movie_catalog_rows(self) -> np.ndarray:
        """Catalog row of each movie index (int32)."""
        return self.catalog.rows(self.movie_vocab.ids)

    @cached_property
    def movie_series(self) -> sp.csr_matrix:
        """Which movie indices are of one series (:func:`.series.same_series` over their catalog
        titles), found once: the neighbour build and the hybrid ranker both use them."""
        return catalog_series(self.catalog, self.movie_vocab.ids)

    def matrix(self, values: np.ndarray | None = None) -> sp.csr_matrix:
        """Users x movies CSR matrix of ``values`` (default: the ratings), float32."""
        data = self.ratings if values is None else np.asarray(values, dtype=np.float32)
        m = sp.csr_matrix(
            (data, (self.users, self.movies)), shape=(self.n_users, self.n_movies), dtype=np.float32
        )
        m.sort_indices()
        return m

    def movie_counts(self) -> np.ndarray:
        """Number of ratings of each movie index (int64)."""
        return np.bincount(self.movies, minlength=self.n_movies)

    def user_counts(self) -> np.ndarray:
        return np.bincount(self.users, minlength=self.n_users)

    def subset(self, rows: np.ndarray) -> "Dataset":
        """The ratings at ``rows`` (a boolean mask or integer positions), same vocabularies."""
        rows = np.asarray(rows)
        return replace(
            self,
            users=self.users[rows],
            movies=self.movies[rows],
            ratings=self.ratings[rows],
            timestamps=self.timestamps[rows],
        )

    def with_ratings(
        self, users: np.ndarray, movies: np.ndarray, ratings: np.ndarray, timestamps: np.ndarray
    ) -> "Dataset":
        """A dataset over the same vocabularies and catalog with other ratings."""
        return replace(
            self,
            users=np.asarray(users, np.int32),
            movies=np.asarray(movies, np.int32),
            ratings=np.asarray(ratings, np.float32),
            timestamps=np.asarray(timestamps, np.int64),
        )
