"""Accuracy metrics: rating error (RMSE, MAE) and full-ranking top-N metrics.

Top-N metrics rank *every* movie a user did not rate in train (no sampled negatives).
A test rating >= ``threshold`` (4 stars by default) is relevant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..data.dataset import Dataset

if TYPE_CHECKING:
    from ..models.base import Model


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
    novelty: float = float("nan")  # mean self-information of the recommended movies, in bits
    diversity: float = float("nan")  # mean genre distance between two movies of a list (0..1)

    def as_dict(self) -> dict[str, float]:
        return {
            f"precision@{self.k}": self.precision,
            f"recall@{self.k}": self.recall,
            f"ndcg@{self.k}": self.ndcg,
            f"hit_rate@{self.k}": self.hit_rate,
            "coverage": self.coverage,
            "novelty": self.novelty,
            "diversity": self.diversity,
            "users": self.n_users,
        }


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32: cosine becomes a dot product."""
    x = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` highest scores of each row, best first (int32); ties in no
    promised order. torch's multi-threaded top-k: 8x NumPy's argpartition and sort on
    512 x 83k (a block of the neighbours at ml-32m's size)."""
    import torch

    k = max(0, min(k, scores.shape[1]))
    if k == 0 or scores.shape[0] == 0:
        return np.zeros((scores.shape[0], k), np.int32)
    _, columns = torch.topk(torch.from_numpy(np.ascontiguousarray(scores)), k, dim=1)
    return columns.numpy().astype(np.int32)


def ranking_metrics(
    scorer: "Model | Callable[[np.ndarray], np.ndarray]",
    train: Dataset,
    test: Dataset,
    k: int = 10,
    threshold: float = 4.0,
    device: str = "cpu",
) -> RankingMetrics:
    """Evaluate a model (or ``score_users(user_rows) -> scores[len(user_rows), n_movies]``) on ``test``.

    Movies the user rated in ``train`` are excluded from the ranking, which covers every other
    movie; a model is ranked by its own tiles (see :mod:`movierec.eval.topn`), without ever
    holding a users x movies matrix.
    """
    from .topn import dense_block_scorer, popularity_order, top_unseen

    seen = train.matrix(np.ones(train.n_ratings, np.float32))
    relevant = test.matrix((test.ratings >= threshold).astype(np.float32))
    relevant.eliminate_zeros()
    n_relevant = np.diff(relevant.indptr)
    users = np.flatnonzero(n_relevant > 0).astype(np.int32)
    order = popularity_order(seen)
    if hasattr(scorer, "score_tiles"):
        blocks = scorer.score_tiles(order, device)
    else:
        blocks = dense_block_scorer(scorer, order, device)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.concatenate(([0.0], np.cumsum(discounts)))
    totals = np.zeros(4)
    recommended = np.zeros(train.n_movies, dtype=bool)
    beyond = ListQuality(train)
    for offset, top, _ in top_unseen(blocks, users, seen, order, k, device):
        rows = users[offset : offset + top.shape[0]]
        recommended[top[top >= 0]] = True
        beyond.add(top)
        hits = _lookup(relevant[rows], top)
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
    return RankingMetrics(k, precision, recall, ndcg, hit_rate, float(recommended.mean()), int(users.size), *beyond.means())


def _lookup(relevant: sp.csr_matrix, top: np.ndarray) -> np.ndarray:
    """bool [users, k]: whether each picked movie (-1: none) is in the user's row of ``relevant``."""
    n_movies = relevant.shape[1]
    rows = np.repeat(np.arange(relevant.shape[0], dtype=np.int64), np.diff(relevant.indptr))
    keys = np.sort(rows * n_movies + relevant.indices)  # CSR rows ascend; indices within a row may not
    if keys.size == 0:
        return np.zeros(top.shape, bool)
    picks = np.arange(top.shape[0], dtype=np.int64)[:, None] * n_movies + top
    found = np.minimum(np.searchsorted(keys, picks), keys.size - 1)
    return (top >= 0) & (keys[found] == picks)


# -- beyond accuracy: how novel and how varied the lists are --------------------------------
def self_information(movie_counts: np.ndarray, n_users: int) -> np.ndarray:
    """``-log2(share of users who rated the movie)`` per movie (float32, bits): 0 for a movie
    everyone rated; a movie nobody rated counts as rated once."""
    share = np.maximum(np.asarray(movie_counts, np.float64), 1.0) / max(int(n_users), 1)
    return (-np.log2(np.minimum(share, 1.0))).astype(np.float32)


def genre_diversity(genres: np.ndarray) -> np.ndarray:
    """Intra-list diversity of lists given as genre rows (bool [lists, k, genres]): the mean
    Jaccard distance of their genre sets over every pair of movies in a list (float64 [lists])."""
    g = np.asarray(genres, np.float32)
    k = g.shape[1]
    if k < 2:
        return np.zeros(g.shape[0])
    shared = np.einsum("lig,ljg->lij", g, g)
    sizes = g.sum(axis=2)
    union = sizes[:, :, None] + sizes[:, None, :] - shared
    distance = 1.0 - np.divide(shared, union, out=np.ones_like(shared), where=union > 0)  # no genres: distinct
    return distance.sum(axis=(1, 2)) / (k * (k - 1))  # the diagonal is 0


class ListQuality:
    """Accumulates novelty and genre diversity over batches of top-k lists (movie rows of ``train``)."""

    def __init__(self, train: Dataset):
        self.information = self_information(train.movie_counts(), train.n_users)
        rows = train.movie_catalog_rows
        self.genres = train.catalog.genres[np.maximum(rows, 0)] & (rows >= 0)[:, None]
        self.sums, self.lists = np.zeros(2), 0

    def add(self, top: np.ndarray) -> None:
        top = top[(top >= 0).all(axis=1)]  # lists padded with -1 (fewer unseen movies than k) are left out
        if top.size == 0:
            return
        self.sums += [self.information[top].mean(axis=1).sum(), genre_diversity(self.genres[top]).sum()]
        self.lists += top.shape[0]

    def means(self) -> tuple[float, float]:
        novelty, diversity = (self.sums / self.lists).tolist() if self.lists else (float("nan"),) * 2
        return novelty, diversity
