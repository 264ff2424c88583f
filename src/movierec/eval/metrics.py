"""Accuracy metrics: rating error (RMSE, MAE) and full-ranking top-N metrics.

Top-N metrics rank *every* movie a user did not rate in train (no sampled negatives).
A test rating >= ``threshold`` (4 stars by default) is relevant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..data.dataset import Dataset


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    diff = np.asarray(predicted, np.float64) - np.asarray(actual, np.float64)
    return float(np.sqrt(np.mean(diff * diff))) if diff.size else float("nan")


def mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    diff = np.asarray(predicted, np.float64) - np.asarray(actual, np.float64)
    return float(np.mean(np.abs(diff))) if diff.size else float("nan")


@dataclass(frozen=True)
class RankingMetrics:
    k: int
    precision: float
    recall: float
    ndcg: float
    hit_rate: float
    coverage: float  # share of the movies that appear in at least one top-k list
    n_users: int  # users with at least one relevant test rating

    def as_dict(self) -> dict[str, float]:
        return {
            f"precision@{self.k}": self.precision,
            f"recall@{self.k}": self.recall,
            f"ndcg@{self.k}": self.ndcg,
            f"hit_rate@{self.k}": self.hit_rate,
            "coverage": self.coverage,
            "users": self.n_users,
        }


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32: cosine becomes a dot product."""
    x = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def mask_rated(scores: np.ndarray, rated: sp.csr_matrix) -> None:
    """Set ``scores[i, j]`` to -inf in place wherever row ``i`` of ``rated`` has movie ``j``."""
    scores[np.repeat(np.arange(rated.shape[0]), np.diff(rated.indptr)), rated.indices] = -np.inf


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` highest scores of each row, best first (int32)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1).astype(np.int32)


def ranking_metrics(
    score_users: Callable[[np.ndarray], np.ndarray],
    train: Dataset,
    test: Dataset,
    k: int = 10,
    threshold: float = 4.0,
    batch_size: int = 1024,
) -> RankingMetrics:
    """Evaluate ``score_users(user_rows) -> scores[len(user_rows), n_movies]`` on ``test``.

    Movies the user rated in ``train`` are excluded from the ranking.
    """
    seen = train.matrix(np.ones(train.n_ratings, np.float32))
    relevant = test.matrix((test.ratings >= threshold).astype(np.float32))
    relevant.eliminate_zeros()
    n_relevant = np.diff(relevant.indptr)
    users = np.flatnonzero(n_relevant > 0).astype(np.int32)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.concatenate(([0.0], np.cumsum(discounts)))
    totals = np.zeros(4)
    recommended = np.zeros(train.n_movies, dtype=bool)
    for start in range(0, users.size, batch_size):
        rows = users[start : start + batch_size]
        scores = np.array(score_users(rows), dtype=np.float32, copy=True)
        mask_rated(scores, seen[rows])
        top = top_k(scores, k)
        recommended[top.ravel()] = True
        hits = np.asarray(relevant[rows].toarray(), dtype=bool)[np.arange(rows.size)[:, None], top]
        n_hits = hits.sum(axis=1)
        n_rel = n_relevant[rows]
        totals += [
            (n_hits / k).sum(),
            (n_hits / n_rel).sum(),
            ((hits * discounts[: top.shape[1]]).sum(axis=1) / ideal[np.minimum(n_rel, k)]).sum(),
            (n_hits > 0).sum(),
        ]
    n = max(users.size, 1)
    precision, recall, ndcg, hit_rate = (totals / n).tolist()
    return RankingMetrics(k, precision, recall, ndcg, hit_rate, float(recommended.mean()), int(users.size))
