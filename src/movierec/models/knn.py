"""Item-based k-nearest-neighbours on baseline residuals (Koren's "KNNBaseline").

rating ~ baseline(u, i) + sum_j s_ij (r_uj - baseline(u, j)) / (sum_j s_ij + smoothing)

over the user's rated movies j among the ``neighbors`` most similar to i. The baseline is
the damped biases model; s_ij is the Pearson correlation of the two movies' residuals over
the users who rated both, shrunk toward 0 when few did (n / (n + shrink)); only positive
similarities vote. It errs differently from matrix factorization (local, movie-to-movie
evidence rather than global taste), which is why blending the two helps.

Similarities are computed a chunk of movies at a time with sparse products and only each
movie's top ``neighbors`` are kept: memory is O(movies x neighbors), never movies^2.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from ..data.dataset import Dataset
from ..data.vocabulary import sorted_positions
from .base import Callback, RatingModel, TrainingEvent, known_rows
from .baselines import bias_sum, damped_biases, fold_in_bias


@dataclass(frozen=True)
class ItemKNNConfig:
    neighbors: int = 50  # similar movies kept per movie
    shrink: float = 100.0  # co-rating count at which a correlation keeps half its value
    smoothing: float = 1.0  # added to the similarity sum: few, weak neighbours move little
    damping: float = 5.0  # of the baseline's user and movie biases
    chunk: int = 1 << 22  # similarity entries per chunk (movies per chunk x movies): bounds memory


class ItemKNN(RatingModel):
    """Item-item neighbourhood model on biases residuals (see the module docstring).

    Fallbacks are the baseline's: unknown user (row -1) -> mean + movie bias; unknown movie
    -> mean + user bias; both -> mean. A movie without ratings has no neighbours.
    """

    name = "knn"
    Config = ItemKNNConfig
    state_attrs = ("mean", "user_bias", "movie_bias", "neighbor_rows", "neighbor_sims", "indptr", "indices", "residuals")

    bounds = ((">= 1", ("neighbors",)), (">= 0", ("shrink",)), ("> 0", ("smoothing",)))

    def _fit(self, train: Dataset, callback: Callback | None) -> None:
        c = self.config
        mean, self.user_bias, self.movie_bias = damped_biases(
            train.users, train.movies, train.ratings, self.n_users, self.n_movies, c.damping, c.damping
        )
        self.mean = np.asarray(mean, dtype=np.float32)
        res = (train.ratings - self.mean - self.user_bias[train.users] - self.movie_bias[train.movies]).astype(np.float32)
        matrix = train.matrix(res)
        self.indptr, self.indices, self.residuals = matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32), matrix.data
        self.neighbor_rows, self.neighbor_sims = self._similar(matrix, callback)

    def _similar(self, matrix: sp.csr_matrix, callback: Callback | None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``neighbors`` movies by shrunk residual correlation, for every movie."""
        c = self.config
        n = self.n_movies
        k = min(c.neighbors, max(n - 1, 1))
        ones = matrix.copy()
        ones.data = np.ones_like(ones.data)
        squares = matrix.multiply(matrix).tocsr()
        by_movie = matrix.T.tocsr()
        ones_by_movie, squares_by_movie = ones.T.tocsr(), squares.T.tocsr()
        rows = np.zeros((n, k), dtype=np.int32)
        sims = np.zeros((n, k), dtype=np.float32)
        step = max(1, c.chunk // max(n, 1))
        n_chunks = -(-n // step)
        # Ctrl-C: movies not reached yet keep no neighbours, so they get the baseline.
        with self._stoppable():
            for i, start in enumerate(range(0, n, step)):
                block = slice(start, min(start + step, n))
                dot = (by_movie[block] @ matrix).toarray()
                common = (ones_by_movie[block] @ ones).toarray()
                own = (squares_by_movie[block] @ ones).toarray()  # sum of r_ui^2 over common users
                other = (ones_by_movie[block] @ squares).toarray()  # sum of r_uj^2 over common users
                with np.errstate(divide="ignore", invalid="ignore"):
                    corr = np.where(own * other > 0, dot / np.sqrt(own * other), 0.0)
                sim = corr * (common / (common + c.shrink)) if c.shrink > 0 else corr
                sim[np.arange(block.stop - block.start), np.arange(block.start, block.stop)] = 0.0  # not its own neighbour
                top = np.argpartition(-sim, k - 1, axis=1)[:, :k] if k < n else np.argsort(-sim, axis=1)[:, :k]
                rows[block] = top
                sims[block] = np.maximum(np.take_along_axis(sim, top, axis=1), 0.0)
                if callback is not None:
                    callback(TrainingEvent(i + 1, n_chunks, 0.0, metric="similarity chunks"))
        return rows, sims

    # -- scoring -------------------------------------------------------------------------
    @cached_property
    def _weights(self) -> sp.csr_matrix:
        """Movies x movies: row i holds i's neighbours and their similarities."""
        k = self.neighbor_rows.shape[1]
        return sp.csr_matrix(
            (self.neighbor_sims.ravel(), self.neighbor_rows.ravel(), np.arange(0, self.n_movies * k + 1, k)),
            shape=(self.n_movies, self.n_movies),
        )

    @cached_property
    def _keys(self) -> np.ndarray:
        """user * n_movies + movie of every stored residual: sorted (CSR order), for lookups."""
        users = np.repeat(np.arange(self.n_users, dtype=np.int64), np.diff(self.indptr))
        return users * self.n_movies + self.indices

    def _correction(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """Neighbourhood term for known (user, movie) pairs."""
        out = np.empty(users.size, dtype=np.float32)
        step = max(1, (1 << 20) // max(self.neighbor_rows.shape[1], 1))
        keys = self._keys
        for s in range(0, users.size, step):
            u, m = users[s : s + step], movies[s : s + step]
            nbrs = self.neighbor_rows[m]
            wanted = u[:, None] * self.n_movies + nbrs
            pos = sorted_positions(keys, wanted)
            rated = pos >= 0
            w = np.where(rated, self.neighbor_sims[m], 0.0)
            res = np.where(rated, self.residuals[pos], 0.0) if keys.size else 0.0
            out[s : s + step] = (w * res).sum(1) / (w.sum(1) + self.config.smoothing)
        return out

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        self._check_fitted()
        ku, u = known_rows(users, self.n_users)
        km, m = known_rows(movies, self.n_movies)
        both = ku & km
        corr = np.zeros(users.size, dtype=np.float32)
        corr[both] = self._correction(u[both], m[both])
        return bias_sum(self, users, movies) + corr

    def _scores(self, res: sp.csr_matrix, user_bias: np.ndarray) -> np.ndarray:
        """Scores of every movie for users with residual rows ``res`` (sparse, users x movies)."""
        w = self._weights
        rated = res.copy()
        rated.data = np.ones_like(rated.data)
        num = np.asarray((res @ w.T).todense())
        den = np.asarray((rated @ w.T).todense())
        return ((user_bias[:, None] + self.movie_bias[None, :]) + self.mean + num / (den + self.config.smoothing)).astype(np.float32)

    @cached_property
    def _stored(self) -> sp.csr_matrix:
        """The training residuals as a users x movies matrix, built once (not per scored user)."""
        return sp.csr_matrix((self.residuals, self.indices, self.indptr), shape=(self.n_users, self.n_movies))

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self._scores(self._stored[users], self.user_bias[users])

    def _fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """The new user's bias is their damped mean residual; their residuals then vote as a user's."""
        resid, bias = fold_in_bias(self.mean, self.movie_bias, movies, ratings, self.config.damping)
        row = sp.csr_matrix(((resid - bias).astype(np.float32), (np.zeros(movies.size, int), movies)), shape=(1, self.n_movies))
        return self._scores(row, np.array([bias], dtype=np.float32))[0]
