"""Similar movies and the reasons for a recommendation.

**Neighbours** come from who rated what, not from the ranking model's embeddings (those are
tuned for clusters: a few broad taste dimensions put Toy Story next to every 1990s family
hit). The similarity of movie ``j`` to movie ``t`` is a shrunk, popularity-aware cosine of
their binary rater columns::

    sim(t, j) = c / (n_t^(1-a) · n_j^a) · c / (c + λ)

with ``c`` the number of users who rated both and ``n`` each movie's rating count. ``a`` > 1/2
(``POPULARITY_EXPONENT``) charges a neighbour for its own popularity, so a movie that everyone
rated is not everyone's neighbour; the shrinkage ``c / (c + λ)`` (``SHRINKAGE``) discounts
pairs resting on a handful of shared raters, so a rarely rated movie keeps the neighbours its
raters agree on instead of noise. The value lies in [0, 1], times ``1 + SERIES_BOOST`` for two
movies of one series (:mod:`movierec.data.series`: titles sharing a franchise name). ``a`` and ``λ`` were
chosen on half of ml-latest-small's sequel pairs (``bench/trust.py``). A user who rated more than
``MAX_PER_USER`` movies counts with a random ``MAX_PER_USER`` of them (seeded): such a profile
says little about any one pair, and its pairs grow with the square of its length (on ml-32m's
shape, capping at 1,000 cuts the co-rating work 13-fold; ml-latest-small barely notices). Past
``PAIR_BUDGET`` co-rated pairs the cap is lowered until the work fits it (only past ~20M ratings:
on ml-32m's shape to ~520, a third less CPU time). Each movie's ``K`` best are
computed once at training (blocked over movies, so memory stays O(block · movies)) and saved
with the model; a model folder without them computes them when first asked.

**Explanations** are the rated movies that add most to a recommendation's score under the
model that scored it (:meth:`Model.contributions`), only those that add a positive amount.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..data.series import SERIES_BOOST, borne_out
from ..eval.metrics import top_k
from ..models.base import Model

SHRINKAGE = 7.0  # λ: shared raters at which a pair's similarity counts half
POPULARITY_EXPONENT = 0.75  # a: how much a neighbour's own popularity is charged (0.5 = cosine)
N_NEIGHBOURS = 100  # K kept per movie; a query wanting more (after filters) computes its row
BLOCK_MOVIES = 512  # target movies per block while building
N_BECAUSE = 3  # rated movies shown as the reason for a recommendation
MAX_PER_USER = 1000  # a heavier rater's co-ratings come from a random sample of this many
PAIR_BUDGET = 5e9  # at most this many co-rated (user, movie, movie) triples: the cap is lowered to fit
MAX_POOL = 256  # rated movies weighed per explanation (the most highly rated of heavy raters)


class CoRatings:
    """Who rated what (binary users x movies, as CSR and CSC) and each movie's rating count:
    built once, then any movie's similarity row costs a product over its raters only.
    ``series`` (movies x movies, :func:`movierec.data.series.same_series`; None: no titles) marks the pairs
    whose similarity is boosted."""

    def __init__(self, seen: sp.csr_matrix, series: sp.csr_matrix | None = None, max_per_user: int = MAX_PER_USER):
        counts = np.diff(seen.indptr)
        max_per_user = affordable_cap(counts, max_per_user, PAIR_BUDGET)
        rows = np.repeat(np.arange(seen.shape[0]), counts)
        indices = seen.indices
        if counts.max(initial=0) > max_per_user:  # each of a heavy rater's ratings kept with chance cap / n
            share = np.minimum(1.0, max_per_user / np.maximum(counts, 1)).astype(np.float32)
            keep = np.random.default_rng(0).random(seen.nnz, dtype=np.float32) < share[rows]
            rows, indices = rows[keep], indices[keep]
        indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=seen.shape[0]))))
        self.by_user = sp.csr_matrix((np.ones(indices.size, np.float32), indices, indptr), seen.shape)
        self.by_movie = self.by_user.tocsc()
        self.counts = np.bincount(indices, minlength=seen.shape[1]).astype(np.float32)
        self.shape = seen.shape
        self.series = series if series is not None and series.nnz else None
        counts = np.maximum(self.counts, np.float32(1))
        self._target_scale = np.power(counts, np.float32(1 - POPULARITY_EXPONENT))
        self._neighbour_scale = np.power(counts, np.float32(POPULARITY_EXPONENT))

    def rows(self, targets: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``sim(t, j)`` for every target and movie (float32 [len(targets), n_movies]; self: 0),
        written into ``out`` when given (a block reused: at ml-32m's size a fresh one is 170 MB
        of page faults)."""
        columns = self.by_movie[:, targets].T.tocsr()  # targets x users
        raters = np.unique(columns.indices)
        shared = columns[:, raters] @ self.by_user[raters]  # c at the pairs sharing a rater (CSR)
        series = self._series_pairs(targets, shared)
        # c² / ((c + λ) n_t^(1-a) n_j^a) at those pairs only, a sixth of the block at ml-32m's shape
        c = shared.data
        denominator = c + np.float32(SHRINKAGE)
        denominator *= np.repeat(self._target_scale[targets], np.diff(shared.indptr))
        denominator *= self._neighbour_scale[shared.indices]
        c *= c
        c /= denominator
        if out is None:
            out = np.zeros(shared.shape, np.float32)
        else:
            out.fill(0.0)
        sims = shared.toarray(out=out)
        sims[np.arange(targets.size), targets] = 0.0
        sims[series] *= np.float32(1 + SERIES_BOOST)
        return sims

    def _series_pairs(self, targets: np.ndarray, shared: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """(target positions, movies) of the block's pairs of one series that the co-ratings
        ``shared`` bear out (:func:`movierec.data.series.borne_out`); pairs without a shared rater stay 0."""
        if self.series is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        pairs = self.series[targets].tocoo()
        common = np.asarray(shared[pairs.row, pairs.col], np.float32).ravel()
        smaller = np.minimum(self.counts[targets[pairs.row]], self.counts[pairs.col])
        keep = borne_out(pairs.data, common, smaller)
        return pairs.row[keep], pairs.col[keep]

    def top(self, movie: int, n: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` movies most similar to ``movie`` among ``allowed`` (bool [n_movies]; None:
        all), best first, and their similarities; only movies sharing a rater with it."""
        row = self.rows(np.array([movie]))[0]
        if allowed is not None:
            row[~allowed] = 0.0
        best = top_k(row[None, :], n)[0]
        best = best[row[best] > 0]
        return best, row[best]


def affordable_cap(counts: np.ndarray, cap: int, budget: float) -> int:
    """The largest cap <= ``cap`` with sum(min(counts, cap)^2) <= ``budget`` (at least 1): the
    co-rating work of users with ``counts`` ratings each, each capped."""
    work = lambda c: float(np.square(np.minimum(counts, c), dtype=np.float64).sum())  # noqa: E731
    if work(cap) <= budget:
        return cap
    low, high = 1, cap  # work(low) may exceed the budget too: 1 is the floor
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if work(middle) <= budget else (low, middle)
    return low


@dataclass(frozen=True)
class Neighbours:
    """Each movie's ``K`` most similar movies, best first: indices int32 [n_movies, K] (-1 pads
    a movie with fewer than K movies sharing a rater) and similarities float32 [n_movies, K]."""

    indices: np.ndarray
    similarities: np.ndarray

    @classmethod
    def build(
        cls,
        seen: sp.csr_matrix,
        series: sp.csr_matrix | None = None,
        k: int = N_NEIGHBOURS,
        progress: Callable[[int, int], None] | None = None,
    ) -> Neighbours:
        """From who rated what (and which movies are of one series, see :class:`CoRatings`);
        ``progress(done, n_movies)`` after each block of movies, on this thread."""
        import torch  # here, not at import: loading torch before SciPy/NumPy's own pools halved bayesfm's speed

        job = NeighbourBuild(CoRatings(seen, series), k)
        # Blocks on as many threads as torch may use: SciPy's sparse products release the GIL
        pool = ThreadPoolExecutor(max(1, torch.get_num_threads()))
        try:
            for _ in pool.map(job.fill, job.starts):
                if progress is not None:
                    progress(job.done, job.n_movies)
        finally:  # Ctrl-C: drop the blocks not started
            pool.shutdown(wait=True, cancel_futures=True)
        return job.result()

    def top(self, movie: int, n: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """As :meth:`CoRatings.top`, from the stored K; None when filters leave fewer than ``n``
        of a full row (the caller then computes the row)."""
        indices, sims = self.indices[movie], self.similarities[movie]
        ok = indices >= 0
        if allowed is not None:
            ok &= allowed[np.maximum(indices, 0)]
        if ok.sum() >= n or not (indices >= 0).all():  # enough, or the row holds every movie sharing a rater
            return indices[ok][:n], sims[ok][:n]
        return None

    def arrays(self) -> dict[str, np.ndarray]:
        return {"indices": self.indices, "similarities": self.similarities}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], n_movies: int) -> Neighbours:
        indices, sims = np.asarray(arrays["indices"], np.int32), np.asarray(arrays["similarities"], np.float32)
        if indices.ndim != 2 or indices.shape != sims.shape or indices.shape[0] != n_movies:
            raise ValueError(f"neighbours are {indices.shape} and {sims.shape}, expected ({n_movies}, K) both")
        if indices.size and (indices.min() < -1 or indices.max() >= n_movies):
            raise ValueError(f"neighbour indices must lie in -1..{n_movies - 1}")
        return cls(indices, sims)


class NeighbourBuild:
    """The work of :meth:`Neighbours.build`, shared by any threads: ``fill(start)`` does one block
    of target movies, and ``work`` takes blocks not yet taken until none is left. A thread at
    low priority can start it beside other work and the caller join in when that work is done.
    ``done``: the movies finished so far by every thread (it only grows)."""

    def __init__(self, co: CoRatings, k: int = N_NEIGHBOURS):
        self.co = co
        self.n_movies = n_movies = co.shape[1]
        self.k = max(0, min(k, n_movies - 1))
        self.indices = np.full((n_movies, self.k), -1, np.int32)
        self.similarities = np.zeros((n_movies, self.k), np.float32)
        self.starts = range(0, n_movies, BLOCK_MOVIES) if self.k else range(0)
        self._untaken = iter(self.starts)
        self._lock = threading.Lock()
        self.done = 0
        self._local = threading.local()  # each thread's block, reused

    def fill(self, start: int) -> None:
        """One block's neighbours."""
        n_movies, k = self.n_movies, self.k
        targets = np.arange(start, min(start + BLOCK_MOVIES, n_movies))
        if not hasattr(self._local, "buffer"):
            self._local.buffer = np.empty((min(BLOCK_MOVIES, n_movies), n_movies), np.float32)
        block = self.co.rows(targets, self._local.buffer[: targets.size])
        best = top_k(block, k)
        values = np.take_along_axis(block, best, axis=1)
        self.indices[targets] = np.where(values > 0, best, -1)
        self.similarities[targets] = np.where(values > 0, values, 0.0)
        with self._lock:
            self.done += targets.size

    def work(self, after_block: Callable[[], None] | None = None) -> None:
        """Fill blocks nobody has taken until none is left, calling ``after_block()`` after each
        (it may raise to stop)."""
        while True:
            with self._lock:
                start = next(self._untaken, None)
            if start is None:
                return
            self.fill(start)
            if after_block is not None:
                after_block()

    def result(self) -> Neighbours:
        """The neighbours, once every block is done (by whichever threads)."""
        return Neighbours(self.indices, self.similarities)


def explain(
    model: Model, movies: np.ndarray, stars: np.ndarray, picks: np.ndarray, n: int = N_BECAUSE
) -> list[list[int]]:
    """For each pick, positions in ``movies`` of the (up to ``n``) rated movies that add most to
    its score under ``model``, largest first; a movie that adds nothing or lowers it is never one."""
    if movies.size == 0 or picks.size == 0:
        return [[] for _ in range(picks.size)]
    pool = np.arange(movies.size)
    if pool.size > MAX_POOL:  # heavy raters: weigh their best-rated movies
        pool = np.sort(np.argsort(-stars, kind="stable")[:MAX_POOL])
    shares = np.asarray(model.contributions(movies[pool], stars[pool], picks), np.float32)  # [picks, pool]
    best = top_k(shares, min(n, pool.size))
    values = np.take_along_axis(shares, best, axis=1)
    return [pool[b[v > 0]].tolist() for b, v in zip(best, values)]


def counterfactual(
    model: Model, movies: np.ndarray, stars: np.ndarray, pick: int, because: list[int], rng: np.random.Generator,
    draws: int = 20,
) -> tuple[float, float]:
    """How much ``pick``'s fold-in score falls without the explaining movies (positions
    ``because`` in ``movies``), and on average without as many random rated movies: the test
    that an explanation is true is that the first is larger."""
    full = model.fold_in(movies, stars)[pick]
    keep = np.ones(movies.size, dtype=bool)
    keep[because] = False
    explained = full - model.fold_in(movies[keep], stars[keep])[pick]
    random = []
    for _ in range(draws):  # a few fold-ins: a measurement, not a serving path
        keep = np.ones(movies.size, dtype=bool)
        keep[rng.choice(movies.size, len(because), replace=False)] = False
        random.append(full - model.fold_in(movies[keep], stars[keep])[pick])
    return float(explained), float(np.mean(random))
