"""The default ranking model: rating-weighted EASE on the most-rated movies plus implicit ALS.

EASE is the most accurate model we have for top-N on MovieLens, but its movies x movies solve
is quadratic in memory, so it covers only the ``max_movies`` most-rated movies (which hold
most ratings, and most of what users go on to like). Implicit ALS covers every movie, scales
linearly with the ratings, and gives the movie embeddings used for similar movies and clusters.
The score is ``EASE + ials_weight * iALS`` on the EASE movies and ``ials_weight * iALS`` on the
rest: both predict "the user will rate this (highly)" on a comparable 0..1 scale, so the tail
is ranked by iALS, below the head unless iALS is confident.

Both parts send most users the same well-known movies. So the sum is divided by
``(1 + exposure)^exposure_discount``, a movie's exposure being how many training users' top
``exposure_depth`` (by the undiscounted score, unseen movies) hold it, counted once at fit time;
a negative score is multiplied instead, so the discount always moves a movie down. A movie
on nearly every list gives way, for each user, to the close runner-up that suits them more
than most. On validation splits carved from ml-latest-small's training part (mean of three,
``bench/coverage.py``), 0.06 over the top 50 with ``ease_regularization`` 75 put 7.0% of the
movies in someone's top 10, against 4.4% for the previous default (no discount, 200, explore
0.2), at the same NDCG@10 (0.2131 against 0.2130).

People watch series: someone who liked "Toy Story" is likely to rate "Toy Story 2". A movie of
one series with a movie the user liked (4 stars of 5 or more; :func:`movierec.data.series.by_name`:
titles with one franchise name) has its score multiplied by ``1 + series_boost`` (divided, when
negative), before the exposure discount. On the validation splits it lifts NDCG@10 from
0.2131 to 0.2251 at the same coverage (0.3 was the best of 0.2, 0.3 and 0.5), and the discount
0.06 still makes the most accurate lists (``bench/coverage.py``).

Movie embeddings (similar movies, clusters) are the top ``embedding_dim`` right singular
vectors of the users x movies who-rated-what matrix (PureSVD, Cremonesi et al. 2010). A few
broad dimensions of co-rating capture genre-like taste better than the 64 iALS factors tuned
for ranking: on ml-latest-small, KMeans (k=20) genre purity 0.69 against 0.61 for iALS.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from ..data.dataset import Dataset
from ..data.series import by_name
from ..eval.topn import tile_pairs, visiting_positions
from .base import Callback, RankingModel, TrainingEvent, resolve_device
from .composite import Composite, relay
from .ease import EASE
from .ials import ImplicitALS
from .svd import randomized_svd

EXPOSURE_USERS = 20_000  # training users whose lists count toward exposure (a sample beyond)


@dataclass(frozen=True)
class HybridConfig:
    # Defaults tuned on per-user validation splits carved from ml-latest-small *training* data
    # (never the test ratings); 3000 movies keep the EASE solve within a few CPU-seconds.
    max_movies: int | None = 3000  # EASE covers the N most-rated movies (None: all)
    ease_regularization: float = 75.0
    rating_power: float = 1.5  # EASE input (stars / top)^p: how the user rated, not only what
    factors: int = 64
    iterations: int = 8
    ials_regularization: float = 0.03
    unobserved_weight: float = 0.1
    negative_below: float | None = 3.0  # iALS: ratings under this are "seen and disliked"
    ials_weight: float = 0.5  # weight of the iALS score added to EASE's
    exposure_discount: float = 0.06  # scores / (1 + exposure)^this; 0: no discount
    exposure_depth: int = 50  # exposure counts the training users' top this many
    series_boost: float = 0.3  # score x (1 + this) for a movie of one series with one the user liked; 0: off
    embedding_dim: int = 16  # dimensions of the movie embeddings (similar movies, clusters)
    device: str = "auto"
    seed: int = 0


class Hybrid(Composite, RankingModel):
    """EASE on the head of the catalogue, implicit ALS everywhere; see the module docstring."""

    name: ClassVar[str] = "hybrid"
    Config: ClassVar[type] = HybridConfig
    # plus the parts' arrays, prefixed; series_*: the movies of one series with each movie (CSR)
    state_attrs: ClassVar[tuple[str, ...]] = ("movie_vectors", "exposure", "series_indptr", "series_movies")
    part_names: ClassVar[tuple[str, ...]] = ("ease", "ials")

    def _make_parts(self) -> tuple[EASE, ImplicitALS]:
        cfg = self.config
        ease = EASE(
            regularization=cfg.ease_regularization,
            max_movies=cfg.max_movies,
            rating_power=cfg.rating_power,
            device=cfg.device,
        )
        ials = ImplicitALS(
            factors=cfg.factors,
            iterations=cfg.iterations,
            regularization=cfg.ials_regularization,
            unobserved_weight=cfg.unobserved_weight,
            negative_below=cfg.negative_below,
            device=cfg.device,
            seed=cfg.seed,
        )
        return ease, ials

    bounds: ClassVar = ((">= 0", ("ials_weight", "exposure_discount", "series_boost")), (">= 1", ("exposure_depth",)))

    def _fit(self, train: Dataset, callback: Callback | None) -> None:
        ease, ials = self._make_parts()
        n_epochs = ials.config.iterations + 2
        ease.fit(train)  # one solve: Ctrl-C here leaves nothing to keep, so it propagates
        if callback is not None:
            callback(TrainingEvent(1, n_epochs, 0.0, None, metric="ease"))
        ials.fit(train, relay(callback, 1, n_epochs))
        self._set_parts((ease, ials))
        series = by_name(train.movie_series)
        self.series_indptr, self.series_movies = series.indptr.astype(np.int64), series.indices.astype(np.int32)
        self.movie_vectors = _co_rating_vectors(train, self.config.embedding_dim, self.config.seed)
        self.exposure = np.zeros(self.n_movies, np.float32)  # Ctrl-C while counting: no discount
        self.interrupted = ials.interrupted
        if not self.interrupted:
            with self._stoppable():
                self.exposure = self._count_exposure(train)
                if callback is not None:
                    callback(TrainingEvent(n_epochs, n_epochs, 0.0, None, metric="exposure"))

    def _count_exposure(self, train: Dataset) -> np.ndarray:
        """How many training users' top ``exposure_depth`` unseen movies (undiscounted) hold each
        movie (float32). Over at most ``EXPOSURE_USERS`` of them, scaled up: blocked top-N,
        so the cost is that of ranking for a sample of users, whatever the catalogue."""
        from ..eval.topn import popularity_order, top_unseen

        seen = train.matrix(np.ones(train.n_ratings, np.float32))
        users = np.flatnonzero(train.user_counts() > 0)
        active = users.size
        if users.size > EXPOSURE_USERS:
            users = np.sort(np.random.default_rng(self.config.seed).choice(users, EXPOSURE_USERS, replace=False))
        order = popularity_order(seen)
        device = resolve_device(self.config.device)
        lists = np.zeros(self.n_movies, np.int64)
        tiles = self._tiles(order, device, None)
        for _, top, _ in top_unseen(tiles, users, seen, order, self.config.exposure_depth, device):
            lists += np.bincount(top[top >= 0], minlength=self.n_movies)
        return (lists * (active / max(users.size, 1))).astype(np.float32)

    @classmethod
    def from_state(cls, params, state) -> "Hybrid":
        n_movies = int(state["n_movies"])
        if "exposure" not in state:  # saved before the discount existed: it ranks as it did
            state = {**state, "exposure": np.zeros(n_movies, np.float32)}
        if "series_indptr" not in state:  # saved before series: none
            state = {**state, "series_indptr": np.zeros(n_movies + 1, np.int64), "series_movies": np.zeros(0, np.int32)}
        return super().from_state(params, state)

    # -- scoring -------------------------------------------------------------------------
    @cached_property
    def _kept(self) -> np.ndarray:
        """Each movie's share of its score kept by the discount, ``(1 + exposure)^-γ`` (float32, <= 1)."""
        exposure = np.asarray(self.exposure, np.float64)
        return ((1.0 + exposure) ** -self.config.exposure_discount).astype(np.float32)

    @cached_property
    def _series(self) -> sp.csr_matrix:
        n = self.n_movies
        return sp.csr_matrix((np.ones(self.series_movies.size, np.float32), self.series_movies, self.series_indptr), (n, n))

    @cached_property
    def _liked(self) -> sp.csr_matrix:
        """The training users' liked movies (0/1 CSR): EASE's input values of 4 stars of 5 or
        more. Built without a per-rating row index (256 MB at ml-32m's size)."""
        ease = self.ease
        keep = ease.history_values >= ease.liked_value
        before = np.concatenate(([0], np.cumsum(keep, dtype=np.int64 if keep.size >= 2**31 else np.int32)))
        indptr = before[ease.history_indptr].astype(np.int64)
        movies = ease.history_movies[keep]
        return sp.csr_matrix((np.ones(movies.size, np.float32), movies, indptr), (self.n_users, self.n_movies))

    def _boosting(self) -> bool:
        return self.config.series_boost > 0 and self.series_movies.size > 0

    def _boosted(self, liked: sp.csr_matrix | None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, movies) of the movies of one series with a liked one, for rows of ``liked``
        (None: no boost)."""
        if liked is None or not self._boosting():
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        found = (liked @ self._series).tocoo()
        return found.row.astype(np.int64), found.col.astype(np.int64)

    def _users_liked(self, users: np.ndarray) -> sp.csr_matrix | None:
        return self._liked[np.asarray(users, np.int64)] if self._boosting() else None

    def _profile_liked(self, movies: np.ndarray, ratings: np.ndarray) -> sp.csr_matrix:
        liked = np.unique(np.asarray(movies, np.int64)[self.ease.values(np.asarray(ratings)) >= self.ease.liked_value])
        return sp.csr_matrix((np.ones(liked.size, np.float32), liked, [0, liked.size]), (1, self.n_movies))

    def _combine(self, ease_scores: np.ndarray, ials_scores: np.ndarray, liked: sp.csr_matrix | None) -> np.ndarray:
        out = np.float32(self.config.ials_weight) * ials_scores
        modelled = self.ease.modelled
        out[..., modelled] += ease_scores[..., modelled]
        rows, movies = self._boosted(liked)
        view = out.reshape(-1, self.n_movies)
        view[rows, movies] = _rescale(view[rows, movies], np.float32(1 + self.config.series_boost))
        return _rescale(out, self._kept)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self._combine(self.ease.score_users(users), self.ials.score_users(users), self._users_liked(users))

    def score_tiles(self, order: np.ndarray, device: str = "cpu"):
        """iALS tiles (skipped in the tail when they cannot reach the top) plus EASE where it models, discounted."""
        self._check_fitted()
        return self._tiles(order, device, self._kept)

    def _tiles(self, order: np.ndarray, device: str, kept: np.ndarray | None):
        """:meth:`score_tiles` with the discount ``kept`` (None: undiscounted). The discount never
        raises a score, so iALS's bound on the undiscounted ones still skips tail tiles soundly."""
        import torch

        ials = self.ials.score_tiles(order, device, weight=self.config.ials_weight)
        ease = self.ease.tile_parts(order, device)
        keep = torch.as_tensor(np.ones(order.size, np.float32) if kept is None else kept[order], device=device)

        position = visiting_positions(order)
        boost = np.float32(1 + self.config.series_boost)

        def block(rows: np.ndarray):
            ials_tile, ease_part = ials(rows), ease(rows)
            boosted_in = tile_pairs(*self._boosted(self._users_liked(rows)), position, device)

            def tile(start: int, stop: int, threshold):
                found, lifted = ease_part(start, stop), boosted_in(start, stop)
                share = keep[start:stop]
                if found is None and lifted is None:
                    out = ials_tile(start, stop, threshold)
                    return None if out is None else _rescale(out, share)
                out = ials_tile(start, stop, None)  # EASE adds to it, a boost lifts it: no iALS bound holds
                if found is not None:
                    columns, values = found
                    out[:, columns] += values
                if lifted is not None:
                    out[lifted] = _rescale(out[lifted], boost)
                return _rescale(out, share)

            return tile

        return block

    def _fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        liked = self._profile_liked(movies, ratings)
        return self._combine(self.ease.fold_in(movies, ratings), self.ials.fold_in(movies, ratings), liked)

    def contributions(self, movies: np.ndarray, ratings: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Each part's exact shares, weighted, boosted and discounted as in the score (EASE's
        are 0 off its movies): a target's shares sum to its score."""
        self._check_fitted()
        targets = np.asarray(targets, np.int64)
        ials = self.ials.contributions(movies, ratings, targets)
        shares = self.ease.contributions(movies, ratings, targets) + np.float32(self.config.ials_weight) * ials
        factor = self._kept[targets].copy()
        boosted = np.zeros(self.n_movies, bool)
        boosted[self._boosted(self._profile_liked(movies, ratings))[1]] = True
        factor[boosted[targets]] *= np.float32(1 + self.config.series_boost)
        return shares * np.where(shares.sum(axis=1) > 0, factor, 1 / factor)[:, None]

    def movie_embeddings(self) -> np.ndarray:
        self._check_fitted()
        return self.movie_vectors


def _rescale(scores, keep):
    """``scores * keep`` where positive, ``scores / keep`` elsewhere (NumPy or torch; a new
    array): a score moves down (``keep < 1``) or up (``keep > 1``) in proportion to its size."""
    if isinstance(scores, np.ndarray):
        return np.where(scores > 0, scores * keep, scores / keep)
    import torch

    return torch.where(scores > 0, scores * keep, scores / keep)


def _co_rating_vectors(train: Dataset, dim: int, seed: int) -> np.ndarray:
    """Top right singular vectors of the binary users x movies matrix (randomized SVD)."""
    presence = train.matrix(np.ones(train.n_ratings, np.float32))
    _, _, vt = randomized_svd(presence, max(1, min(dim, min(presence.shape) - 1)), seed, n_iter=5)
    return np.ascontiguousarray(vt.T, dtype=np.float32)
