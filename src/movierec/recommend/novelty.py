"""The ``explore`` control: trade a little accuracy for movies fewer people have seen.

``explore = 0`` keeps the model's order. Above 0, the ``POOL`` best-scored movies of each list
are re-ranked by ``(1 - explore) · score + explore · novelty``, both scaled to [0, 1] within
the pool: novelty is the movie's self-information ``-log2(share of users who rated it)``
(:func:`movierec.eval.metrics.self_information`), so at ``explore = 1`` a list holds the least known
of the movies the model already found relevant, never a random obscure one.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from ..eval.metrics import top_k

# 0: the default ranking model already discounts popularity, which bought more coverage per NDCG
# than any explore on validation (bench/coverage.py); every explore above 0 then costs NDCG there.
DEFAULT_EXPLORE = 0.0
POOL = 100  # best-scored movies of a list that exploring may reorder


def check_explore(explore: float) -> float:
    """``explore`` as a float in [0, 1]; anything else raises DataError (a ValueError)."""
    try:
        value = float(explore)
    except (TypeError, ValueError):
        raise DataError(f"explore must be a number from 0 to 1, got {explore!r}") from None
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise DataError(f"explore must be from 0 (accuracy first) to 1 (most novel), got {explore!r}")
    return value


def explore_top(scores: np.ndarray, novelty: np.ndarray, n: int, explore: float) -> np.ndarray:
    """Column indices of each row's top ``n`` (int32 [rows, ≤n]) after re-ranking by novelty.

    ``scores`` float32 [rows, movies] with -inf for excluded movies (rated, filtered);
    ``novelty`` float32 [movies]. Slots beyond a row's finite scores come back with -inf
    scores in ``scores`` at those columns, as with :func:`top_k`.
    """
    explore = check_explore(explore)
    if explore == 0.0 or n <= 0:
        return top_k(scores, n)
    pool = top_k(scores, max(POOL, n))
    s = np.take_along_axis(scores, pool, axis=1).astype(np.float64)
    finite = np.isfinite(s)
    low = np.where(finite, s, np.inf).min(axis=1, keepdims=True)
    high = np.where(finite, s, -np.inf).max(axis=1, keepdims=True)
    s01 = np.where(finite, (s - low) / np.where(high > low, high - low, 1.0), 0.0)
    nov = novelty[pool].astype(np.float64)
    nlow, nhigh = nov.min(axis=1, keepdims=True), nov.max(axis=1, keepdims=True)
    nov01 = (nov - nlow) / np.where(nhigh > nlow, nhigh - nlow, 1.0)
    mixed = np.where(finite, (1.0 - explore) * s01 + explore * nov01, -np.inf)
    order = top_k(mixed, n)
    return np.take_along_axis(pool, order, axis=1)

