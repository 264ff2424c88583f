"""EASE (Steck 2019): a closed-form item-item model, ``scores = X @ B``.

``B = I - P / diag(P)`` with ``P = (XᵀX + λI)⁻¹`` over the binary users x movies matrix ``X``;
the diagonal of ``B`` is zero so a movie never recommends itself. One dense movies x movies
solve: strong on small catalogues, but quadratic memory (87k movies would need ~30 GB), so
``max_movies`` restricts it to the most-rated movies; the others get no score (``-inf``).

``rating_power`` p > 0 makes the input say *how* a user rated, ``X = (stars / top)^p``
instead of 1: a 5-star rating then speaks louder than a 2-star one, which ranks the movies a
user will *like* (what top-N metrics count as relevant) above those they would merely watch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from ..data.dataset import Dataset
from ..errors import ModelError
from ..eval.topn import visiting_positions
from .base import Callback, RankingModel, TrainingEvent, resolve_device
from .sparse import gram as sparse_gram


@dataclass(frozen=True)
class EASEConfig:
    regularization: float = 400.0  # λ on the Gram matrix diagonal; larger = smoother weights
    max_movies: int | None = None  # model only the N most-rated movies (None: all)
    rating_power: float = 0.0  # input (stars / top)^p; 0 = binary, classic EASE
    device: str = "auto"


def movie_weights(
    matrix: sp.csr_matrix, regularization: float, device: str = "cpu"
) -> np.ndarray:
    """The EASE weight matrix B (float32, zero diagonal) for a users x movies matrix."""
    import torch

    gram = gram_matrix(matrix)
    gram[np.diag_indices_from(gram)] += regularization
    g = torch.from_numpy(gram).to(device)
    del gram
    # Through Cholesky, as G + λI is positive definite; solving against I is about twice as
    # fast as torch.cholesky_inverse on a CPU, for the same P.
    p = torch.cholesky_solve(torch.eye(g.shape[0], device=g.device), torch.linalg.cholesky(g))
    del g
    b = p / (-torch.diagonal(p))
    b.fill_diagonal_(0.0)
    # C order: scipy's sparse @ dense copies a column-major B on every call (~1 s per user at 3k movies).
    return np.ascontiguousarray(b.cpu().numpy())


def gram_matrix(matrix: sp.csr_matrix, dense_share: float = 0.1, rows: int = 1024) -> np.ndarray:
    """XᵀX (float32, dense) of a users x movies matrix. Users who rated more than ``dense_share``
    of the movies go through BLAS, ``rows`` at a time as dense blocks: a sparse product costs
    the square of a row's ratings, and heavy raters hold most of that square."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    heavy = np.diff(matrix.indptr) > dense_share * matrix.shape[1]
    gram = sparse_gram(matrix[~heavy]).astype(np.float32, copy=False)
    heavy = np.flatnonzero(heavy)
    for start in range(0, heavy.size, rows):
        block = matrix[heavy[start : start + rows]].toarray()
        gram += block.T @ block
    return gram


def _available_bytes() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


LIKED = 0.8  # share of the top star that counts as liked: 4 of 5


class EASE(RankingModel):
    """Embarrassingly shallow autoencoder: the best linear item-item model, in one solve."""

    name: ClassVar[str] = "ease"
    Config: ClassVar[type] = EASEConfig
    # weights: B over the modelled movies; modelled: their movie rows; history_*: the training
    # users' rated movies (CSR), which score_users multiplies by B.
    state_attrs: ClassVar[tuple[str, ...]] = (
        "weights",
        "modelled",
        "history_indptr",
        "history_movies",
        "history_values",
        "scale",
    )

    bounds: ClassVar = (("> 0", ("regularization",)), (">= 1", ("max_movies",)))

    def _fit(self, train: Dataset, callback: Callback | None) -> None:
        cfg = self.config
        device = resolve_device(cfg.device)
        counts = train.movie_counts()
        rated = np.flatnonzero(counts > 0)
        n = rated.size if cfg.max_movies is None else min(cfg.max_movies, rated.size)
        # Most-rated first; ties broken by row so the choice is deterministic.
        modelled = np.sort(rated[np.lexsort((rated, -counts[rated]))[:n]]).astype(np.int32)
        need, free = 3 * 4 * n * n, _available_bytes()
        if free is not None and need > free:
            fits = int(np.sqrt(free / 12))
            raise ModelError(
                f"EASE over {n:,} movies needs about {need / 2**30:.1f} GiB but only "
                f"{free / 2**30:.1f} GiB is free; set max_movies to at most {fits:,}"
            )
        self.scale = np.asarray(train.rating_scale[1], dtype=np.float32)
        seen = train.matrix(self.values(train.ratings))
        self.weights = movie_weights(seen[:, modelled], cfg.regularization, device)
        self.modelled = modelled
        self.history_indptr = seen.indptr.astype(np.int64)
        self.history_movies = seen.indices.astype(np.int32)
        self.history_values = seen.data.astype(np.float32)
        if callback is not None:
            callback(TrainingEvent(1, 1, 0.0, None, metric="closed_form"))

    def values(self, ratings: np.ndarray) -> np.ndarray:
        """The input value of each rating: 1, or (stars / top of scale)^rating_power."""
        ratings = np.asarray(ratings, dtype=np.float32)
        if self.config.rating_power == 0:
            return np.ones_like(ratings)
        return (ratings / self.scale) ** np.float32(self.config.rating_power)

    @property
    def liked_value(self) -> np.float32:
        """The input value of a rating of 4 stars of 5 (scaled to the rating scale): a movie rated
        at least this was liked. With ``rating_power`` 0 every value is 1: every rated movie counts."""
        return np.float32(self.values(np.array([LIKED * float(self.scale)]))[0])

    # -- scoring -------------------------------------------------------------------------
    def _scores(self, rows: sp.csr_matrix) -> np.ndarray:
        """Scores of every movie for users given as rows over the modelled movies."""
        out = np.full((rows.shape[0], self.n_movies), -np.inf, dtype=np.float32)
        out[:, self.modelled] = np.asarray(rows @ self._weights_c(), dtype=np.float32)
        return out

    def _weights_c(self) -> np.ndarray:
        """B in C order: scipy copies an F-ordered B on every sparse product (~1 s)."""
        if not self.weights.flags.c_contiguous:
            self.weights = np.ascontiguousarray(self.weights)
        return self.weights

    @cached_property
    def _history(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """The training users' rows over the modelled movies, and each movie's column there
        (-1 when not modelled); built once per model, so a user's scores cost only their row."""
        column = np.full(self.n_movies, -1, dtype=np.int64)
        column[self.modelled] = np.arange(self.modelled.size)
        history = sp.csr_matrix(
            (self.history_values, self.history_movies, self.history_indptr), shape=(self.n_users, self.n_movies)
        )
        return history[:, self.modelled].tocsr(), column

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self._scores(self._history[0][users])

    def score_tiles(self, order: np.ndarray, device: str = "cpu"):
        import torch

        parts = self.tile_parts(order, device)

        def block(rows: np.ndarray):
            part = parts(rows)

            def tile(start: int, stop: int, threshold):
                found = part(start, stop)
                if found is None:  # no modelled movie here: every score is -inf
                    return None
                columns, values = found
                out = torch.full((rows.size, stop - start), -torch.inf, device=device)
                out[:, columns] = values
                return out

            return tile

        return block

    def tile_parts(self, order: np.ndarray, device: str = "cpu"):
        """For blocked top-N: ``block(user_rows) -> part(start, stop)``, the scores of the modelled
        movies among ``order[start:stop]`` as (their columns in the tile, values [users, n]),
        or None when the tile has none. A block's scores over all modelled movies are one
        product, done once per block: sparse on a CPU, dense on a GPU."""
        import torch

        self._check_fitted()
        at = visiting_positions(order)[self.modelled]
        by_position = np.argsort(at)
        at, column = at[by_position], torch.as_tensor(by_position, device=device)
        history = self._history[0]
        on_gpu = not str(device).startswith("cpu")
        weights = self._weights_c()
        weights_t = torch.as_tensor(weights, device=device) if on_gpu else None

        def block(rows: np.ndarray):
            rated = history[np.asarray(rows, dtype=np.int64)]
            if on_gpu:
                scores = torch.as_tensor(rated.toarray(), device=device) @ weights_t
            else:
                scores = torch.from_numpy(np.asarray(rated @ weights, dtype=np.float32))

            def part(start: int, stop: int):
                lo, hi = np.searchsorted(at, (start, stop))
                if lo == hi:
                    return None
                return torch.as_tensor(at[lo:hi] - start, device=device), scores[:, column[lo:hi]]

            return part

        return block

    def _fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """EASE needs no solve for a new user: their input row times B. Unmodelled movies
        contribute nothing; a movie given twice keeps its last rating."""
        columns = self._history[1][movies[::-1]]  # reversed: np.unique keeps the first, i.e. the last given
        columns, first = np.unique(columns, return_index=True)
        values = self.values(ratings[::-1][first])
        keep = columns >= 0
        row = sp.csr_matrix((values[keep], columns[keep], [0, int(keep.sum())]), shape=(1, self.modelled.size))
        return self._scores(row)[0]  # sparse: a few rows of B, not a dense row @ B

    def contributions(self, movies: np.ndarray, ratings: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """``x_i · B[i, t]``: the score is exactly the sum of these terms (0 off the modelled movies)."""
        self._check_fitted()
        column = self._history[1]
        rated, wanted = column[np.asarray(movies, np.int64)], column[np.asarray(targets, np.int64)]
        values = self.values(np.asarray(ratings))
        out = np.zeros((wanted.size, rated.size), np.float32)
        r, t = np.flatnonzero(rated >= 0), np.flatnonzero(wanted >= 0)
        out[np.ix_(t, r)] = (self.weights[np.ix_(rated[r], wanted[t])] * values[r, None]).T
        return out
