"""Blocked top-N over the whole catalog: many users' best unseen movies without a users x movies matrix.

Scores are made one tile (a block of users x a block of movies) at a time by the model's
:meth:`~movierec.models.base.Model.score_tiles`, sized to stay in cache on a CPU (a few MiB)
and large on a GPU. Movies are visited most-rated first, so after the first tile every user
already has a good k-th best score; a later tile is only ranked (``torch.topk``) for the users
with a score above their current k-th best, and skipped when a model's upper bound says no
score in it can get there (the long tail of factor models). The result is exact: the same top
N as ranking every movie, up to ties.

Tiles live on the model's device (``cpu`` or ``cuda``): the factor products, the masking of
rated movies and the top-k all run there, and only [users, k] comes back per user block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import scipy.sparse as sp

TILE_BYTES = {"cpu": 4 << 20, "cuda": 256 << 20}  # one score tile: L2/L3-sized on a CPU, large on a GPU
USER_BLOCK = {"cpu": 1024, "cuda": 16384}  # users per block: the per-block work (EASE rows, masks) amortizes

# For a block of user rows: tile(start, stop, threshold) -> the scores of movies order[start:stop],
# a float32 tensor [users, stop - start] the caller may overwrite, or None when no user's score
# there can exceed their ``threshold`` (a tensor [users]; None: compute every score).
TileFn = Callable[[int, int, "object"], "object"]
BlockScorer = Callable[[np.ndarray], TileFn]


def visiting_positions(order: np.ndarray) -> np.ndarray:
    """Each movie's place in the visiting ``order`` (its inverse permutation, int64): a tile
    ``start:stop`` holds the movies whose place lies in that range."""
    position = np.empty(order.size, np.int64)
    position[order] = np.arange(order.size)
    return position


def tile_pairs(rows: np.ndarray, movies: np.ndarray, position: np.ndarray, device: str = "cpu"):
    """``part(start, stop)``: the given (row, movie) pairs of a user block whose movie lies in the
    tile ``order[start:stop]``, as tensors (rows, columns in the tile) ready to index it, or None
    when none does. The pairs are sorted by place once, so each tile is one ``searchsorted``."""
    import torch

    at = position[movies]
    by_position = np.argsort(at, kind="stable")
    at = at[by_position]
    rows_t = torch.as_tensor(np.asarray(rows)[by_position], device=device)
    at_t = torch.as_tensor(at, device=device)

    def part(start: int, stop: int):
        lo, hi = np.searchsorted(at, (start, stop))
        return (rows_t[lo:hi], at_t[lo:hi] - start) if hi > lo else None

    return part


def popularity_order(seen: sp.csr_matrix) -> np.ndarray:
    """Movie columns by rating count, most-rated first (ties by column): the visiting order."""
    counts = np.bincount(seen.indices, minlength=seen.shape[1])
    return np.lexsort((np.arange(counts.size), -counts)).astype(np.int64)


def top_unseen(
    block_scorer: BlockScorer,
    users: np.ndarray,
    seen: sp.csr_matrix,
    order: np.ndarray,
    k: int,
    device: str = "cpu",
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """For each block of ``users`` (rows of ``seen``): (offset, movie columns int64 [b, k], scores float32 [b, k]).

    ``block_scorer(rows)`` gives the tile function of those user rows over the movies in ``order``
    (see :meth:`Model.score_tiles`). Movies a user rated in ``seen`` are excluded; a user with fewer
    than ``k`` unseen movies gets column -1 and score -inf in the spare slots. Best first.
    """
    import torch

    users = np.asarray(users, dtype=np.int64)
    n_movies = order.size
    k = max(0, min(int(k), n_movies))
    kind = "cuda" if str(device).startswith("cuda") else "cpu"
    user_block = USER_BLOCK[kind]
    position = visiting_positions(order)
    order_t = torch.as_tensor(order, device=device)
    for offset in range(0, users.size, user_block):
        rows = users[offset : offset + user_block]
        b = rows.size
        best = torch.full((b, k), -torch.inf, device=device)
        best_at = torch.full((b, k), -1, dtype=torch.int64, device=device)
        if k == 0:
            yield offset, best_at.cpu().numpy(), best.cpu().numpy()
            continue
        tile = block_scorer(rows)
        rated = seen[rows]  # each tile masks its slice of the block's rated pairs
        rated_in = tile_pairs(np.repeat(np.arange(b), np.diff(rated.indptr)), rated.indices, position, device)
        width = max(k, TILE_BYTES[kind] // (4 * b))
        for start in range(0, n_movies, width):
            stop = min(start + width, n_movies)
            threshold = best[:, -1]  # the k-th best so far (-inf while fewer than k)
            scores = tile(start, stop, threshold)
            if scores is None:
                continue
            masked = rated_in(start, stop)
            if masked is not None:
                scores[masked] = -torch.inf
            live = (scores > threshold[:, None]).any(1).nonzero().squeeze(1)
            if live.numel() == 0:
                continue
            values, at = torch.topk(scores[live], min(k, stop - start), dim=1)
            merged = torch.cat([best[live], values], 1)
            merged_at = torch.cat([best_at[live], at + start], 1)
            values, pick = torch.topk(merged, k, dim=1)
            best[live], best_at[live] = values, merged_at.gather(1, pick)
        found = torch.isfinite(best) & (best_at >= 0)
        movies = torch.where(found, order_t[best_at.clamp_min(0)], -1)
        yield offset, movies.cpu().numpy(), torch.where(found, best, -torch.inf).cpu().numpy()


def dense_block_scorer(score_users: Callable[[np.ndarray], np.ndarray], order: np.ndarray, device: str = "cpu") -> BlockScorer:
    """Tiles cut from ``score_users(rows)`` (all movies at once, once per user block): for any
    model or callable without its own tiles."""
    import torch

    order_t = torch.as_tensor(order)

    def block(rows: np.ndarray) -> TileFn:
        step = USER_BLOCK["cpu"]  # score_users runs on the CPU: bound its dense rows there
        full = torch.cat(
            [
                torch.from_numpy(np.asarray(score_users(rows[s : s + step]), dtype=np.float32))[:, order_t].to(device)
                for s in range(0, rows.size, step)
            ]
        )
        return lambda start, stop, threshold: full[:, start:stop]

    return block


def factor_block_scorer(
    user_factors: np.ndarray,
    movie_factors: np.ndarray,
    order: np.ndarray,
    device: str = "cpu",
    *,
    user_offset: np.ndarray | None = None,
    movie_offset: np.ndarray | None = None,
    weight: float = 1.0,
) -> BlockScorer:
    """Tiles of ``weight * (u . h + user_offset[u] + movie_offset[m])``.

    A tile is skipped when even its best case, by Cauchy-Schwarz ``u . h <= |u| max|h|``, stays
    at or below every user's threshold; else only the users above it are scored.
    """
    import torch

    h = torch.as_tensor(np.ascontiguousarray(movie_factors[order], dtype=np.float32), device=device)
    h_norm = torch.linalg.vector_norm(h, dim=1)
    u_all = torch.as_tensor(np.asarray(user_factors, dtype=np.float32), device=device)
    m_off = None if movie_offset is None else torch.as_tensor(np.asarray(movie_offset, np.float32)[order], device=device)
    u_off_all = None if user_offset is None else torch.as_tensor(np.asarray(user_offset, np.float32), device=device)
    w = float(weight)

    def block(rows: np.ndarray) -> TileFn:
        at = torch.as_tensor(rows, device=device)
        u = u_all[at]
        u_norm = torch.linalg.vector_norm(u, dim=1)
        u_off = None if u_off_all is None else u_off_all[at]

        def tile(start: int, stop: int, threshold):
            live = slice(None)
            if threshold is not None:
                bound = u_norm * h_norm[start:stop].max()
                if u_off is not None:
                    bound = bound + u_off
                if m_off is not None:
                    bound = bound + m_off[start:stop].max()
                need = w * bound > threshold
                if not bool(need.any()):
                    return None
                if not bool(need.all()):
                    live = need.nonzero().squeeze(1)
            part = u[live] @ h[start:stop].T
            if u_off is not None:
                part += u_off[live][:, None]
            if m_off is not None:
                part += m_off[start:stop]
            if w != 1.0:
                part *= w
            if isinstance(live, slice):
                return part
            out = torch.full((rows.size, stop - start), -torch.inf, device=device)
            out[live] = part
            return out

        return tile

    return block
