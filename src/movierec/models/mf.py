"""Biased matrix factorization trained by alternating least squares: the default rating model.

rating ~ mean + user bias + movie bias + user factors . movie factors

With the movie side fixed, each user's [bias, factors] is a small ridge regression, and
vice versa; ALS solves all of them at once, by a few warm-started conjugate-gradient steps
per half-sweep over *padded blocks* of ratings grouped by entity. Blocks are sorted by
rating count so padding stays small, and never hold more than ``block_size`` ratings:
memory is bounded whatever the number of ratings (25M fits in a few GB), with no
per-rating outer product and no Python loop over users or ratings.

Length: the padded-block ALS solver and the model it trains; other models reuse the blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..data.dataset import Dataset
from ..eval.metrics import rmse
from ..eval.splits import random_holdout, random_sample
from .base import Callback, RatingModel, TrainingEvent, check_finite, known_rows, resolve_device
from .baselines import bias_sum, damped_biases
from .sparse import grouping_order
from .svd import svd_factors
from .tuning import best_by_validation, parse_candidates, validation_rmse


@dataclass
class Block:
    """Ratings of ``rows`` (B entities), padded to the longest: partner rows (B, L), values (B, L).

    Padding slots point at partner row ``n_partner``, a zero row of the design table.
    """

    rows: torch.Tensor  # int64 [B]
    partners: torch.Tensor  # int32 [B, L]
    values: torch.Tensor  # float32 [B, L]
    counts: torch.Tensor  # float32 [B]


BLOCK_SLOTS = 1 << 17  # rating slots per padded block: a block's design rows stay near the L2/L3
# caches (1.7x faster sweeps than 1 << 20 on 4M ratings) and memory stays bounded at any size


def rating_blocks(
    entity: np.ndarray,
    partner: np.ndarray,
    values: np.ndarray,
    n_entity: int,
    n_partner: int,
    device: str,
    block_size: int = BLOCK_SLOTS,
    growth: float = 1.5,
) -> list[Block]:
    """Group ratings by ``entity`` into padded blocks of at most ``block_size`` slots.

    Entities are sorted by rating count and a block's longest row is at most ``growth``
    times its shortest (plus 1), so padding wastes little. Entities without ratings are
    left out (their solution is the prior: zero).
    """
    counts = np.bincount(entity, minlength=n_entity)
    order = grouping_order(entity, n_entity)
    starts = np.cumsum(counts) - counts
    rows = np.argsort(counts, kind="stable")
    rows = rows[counts[rows] > 0]
    sorted_counts = counts[rows]
    blocks: list[Block] = []
    i = 0
    while i < rows.size:
        # counts ascend, so the padded size (b entities x the b-th count) grows with b.
        padded = np.arange(1, rows.size - i + 1) * sorted_counts[i:]
        fits = min(
            int(np.searchsorted(padded, block_size, side="right")),
            int(np.searchsorted(sorted_counts[i:], growth * sorted_counts[i] + 1, side="right")),
        )
        j = i + max(fits, 1)
        block_rows, c = rows[i:j], sorted_counts[i:j]
        slots = np.arange(c[-1])
        mask = slots[None, :] < c[:, None]
        idx = order[np.where(mask, starts[block_rows][:, None] + slots, 0)]
        blocks.append(
            Block(
                rows=torch.as_tensor(block_rows, dtype=torch.int64, device=device),
                partners=torch.as_tensor(np.where(mask, partner[idx], n_partner).astype(np.int32), device=device),
                values=torch.as_tensor(np.where(mask, values[idx], 0).astype(np.float32), device=device),
                counts=torch.as_tensor(c.astype(np.float32), device=device),
            )
        )
        i = j
    return blocks


def design_table(partner_params: torch.Tensor) -> torch.Tensor:
    """From partner parameters [bias, factors] (n, k+1): the rows [1, factors, bias] of the
    design and the partner's bias (n + 1, k+2), a zero padding row appended."""
    n = partner_params.shape[0]
    table = partner_params.new_zeros(n + 1, partner_params.shape[1] + 1)
    table[:n, 0] = 1.0
    table[:n, 1:-1] = partner_params[:, 1:]
    table[:n, -1] = partner_params[:, 0]
    return table


def block_system(table: torch.Tensor, block: Block) -> torch.Tensor:
    """[D, t] of a block (B, L, k+2): its partners' design rows and targets value - partner
    bias, zero at padding. One ``index_select`` (3x faster than indexing) and one pass."""
    b, width = block.partners.shape
    out = table.index_select(0, block.partners.flatten()).view(b, width, table.shape[1])
    out[..., -1] = block.values - out[..., -1]
    return out


def ridge_penalty(reg: float, bias_reg: float, dim: int, device: str | torch.device) -> torch.Tensor:
    penalty = torch.full((dim,), float(reg), device=device)
    penalty[0] = bias_reg
    return penalty


def solve_side(
    blocks: list[Block],
    params: torch.Tensor,
    partner_params: torch.Tensor,
    penalty: torch.Tensor,
    weighted: bool,
    cg_steps: int,
) -> float:
    """Update ``params[rows]`` toward the ridge solution of every block; returns the data SSE.

    Each entity minimizes |t - D x|^2 + x' diag(penalty) x, with D its partners' design rows
    and t = value - partner bias. ``cg_steps`` of conjugate gradient, warm-started from the
    current parameters, replace an exact solve: no factorization, and every step is one
    batched product (bmm) for the whole block, with no [B, k, k] or [B, L, k] temporaries.
    Products go through the Gram matrix D'D when rows are longer than wide, else through D.
    Both start from one gather of [D, t] per block (``block_system``), whose own Gram matrix
    holds D'D, D't and t't at once: one pass over the block's ratings builds the system and
    its SSE.
    ``weighted``: the penalty is multiplied by each entity's rating count (ALS-WR).
    """
    table = design_table(partner_params)
    dim = table.shape[1] - 1
    sse = 0.0
    for block in blocks:
        dt_ = block_system(table, block)
        width = dt_.shape[1]
        lam = penalty * (block.counts[:, None] if weighted else 1.0)
        if width >= dim:
            full = torch.bmm(dt_.transpose(1, 2), dt_)  # [[D'D, D't], [t'D, t't]]
            gram, rhs, tt = full[:, :dim, :dim], full[:, :dim, dim], full[:, dim, dim]

            def apply(v: torch.Tensor) -> torch.Tensor:
                return torch.bmm(gram, v.unsqueeze(2)).squeeze(2) + lam * v

        else:
            d, target = dt_[..., :dim], dt_[..., dim]
            rhs = torch.bmm(d.transpose(1, 2), target.unsqueeze(2)).squeeze(2)

            def apply(v: torch.Tensor) -> torch.Tensor:
                return torch.bmm(d.transpose(1, 2), torch.bmm(d, v.unsqueeze(2))).squeeze(2) + lam * v

        x = params[block.rows]
        r = rhs - apply(x)
        p = r.clone()
        rr = (r * r).sum(1)
        for _ in range(cg_steps):
            ap = apply(p)
            alpha = rr / (p * ap).sum(1).clamp_min(1e-30)
            x = x + alpha[:, None] * p
            r = r - alpha[:, None] * ap
            rr_new = (r * r).sum(1)
            p = r + (rr_new / rr.clamp_min(1e-30))[:, None] * p
            rr = rr_new
        params[block.rows] = x
        if width >= dim:  # |t - Dx|^2 = t't - 2 x'D't + x'D'Dx, without another pass over D
            sse += float(tt.sum() - 2 * (x * rhs).sum() + (x * torch.bmm(gram, x.unsqueeze(2)).squeeze(2)).sum())
        else:
            resid = target - torch.bmm(d, x.unsqueeze(2)).squeeze(2)
            sse += float((resid * resid).sum())
    return sse


@dataclass(frozen=True)
class BiasedMFConfig:
    factors: int = 32
    reg: float | str = "auto"  # L2 on factors, times the entity's rating count (see weighted); "auto": see auto_regs
    auto_regs: str = "0.24,0.12,0.06,0.03"  # reg="auto" tries these in turn on a validation slice, until one does worse
    auto_sample: int = 1_000_000  # ...fitting on the ratings of a random sample of users up to this many
    bias_reg: float = 0.1  # L2 on biases, times the rating count likewise
    weighted: bool = True  # ALS-WR: scale the penalty by each user's / movie's rating count
    epochs: int = 20  # maximum ALS sweeps (one sweep solves users, then movies)
    patience: int = 1  # stop after this many sweeps without validation improvement...
    tol: float = 5e-4  # ...by more than this (RMSE): the last sweeps of ALS gain almost nothing
    validation: float = 0.05  # share of the training ratings held out to choose the sweep count...
    max_validation: int = 100_000  # ...at most this many (RMSE to about ±0.002); past the cap the
    # held-out ratings are a negligible share, so the refit below is skipped
    refit_sweeps: int = 2  # then this many sweeps on all training ratings, from the best state
    cg_steps: int = 3  # conjugate-gradient steps per ALS half-sweep (warm-started)
    svd_init: bool = True  # start from the residuals' truncated SVD: half the sweeps of a random start
    init_scale: float = 0.1  # std of the random initial factors when svd_init is off
    block_size: int = BLOCK_SLOTS
    device: str = "auto"
    seed: int = 42


class BiasedMF(RatingModel):
    """Matrix factorization with biases, trained by ALS with early stopping.

    The sweep count is chosen on a ``validation`` slice carved from the training ratings
    (never the test set); the best state then takes ``refit_sweeps`` more sweeps on all of
    them, so the held-out ratings are not wasted.

    Fallbacks: unknown user (row -1) -> mean + movie bias; unknown movie -> mean + user bias;
    both -> mean. A movie with no training ratings has zero bias and zero factors.
    """

    name = "mf"
    Config = BiasedMFConfig
    state_attrs = ("mean", "user_bias", "movie_bias", "user_factors", "movie_factors")

    # -- training ------------------------------------------------------------------------
    bounds = ((">= 1", ("factors", "epochs", "auto_sample")), (">= 0", ("bias_reg",)), ("in [0, 1)", ("validation",)))

    def _check_config(self) -> None:
        super()._check_config()
        reg = self.config.reg
        if reg != "auto" and (isinstance(reg, (str, bool)) or not reg >= 0):
            raise ValueError(f"reg must be a number >= 0 or 'auto', got {reg!r}")

    def _fit(self, train: Dataset, callback: Callback | None) -> None:
        if self.config.reg == "auto":
            self.config = replace(self.config, reg=self._choose_reg(train))
        c = self.config
        device = resolve_device(c.device)
        fit_on, held, capped = train, None, False
        share = min(c.validation, c.max_validation / train.n_ratings)
        if share > 0 and train.n_ratings >= 20:
            capped = share < c.validation  # then drawn directly: permuting every rating costs seconds
            fit_on, held = random_sample(train, c.max_validation, c.seed) if capped else random_holdout(train, share, c.seed)
        users, movies = self._init(fit_on, device)
        users, movies, swept = self._sweeps(fit_on, held, users, movies, c.epochs, 0, callback)
        if held is not None and c.refit_sweeps > 0 and not capped and not self.interrupted:
            self._sweeps(train, None, users, movies, c.refit_sweeps, swept, callback)

    def _choose_reg(self, train: Dataset) -> float:
        """The best of ``auto_regs`` by RMSE on a 10% slice of (a user sample of) ``train``.
        It matters: 0.12 is best on ml-latest-small, 0.03-0.06 on ml-1m-shaped data (0.571
        against 0.642). Sampling users keeps the search to seconds at any size; ALS-WR's
        penalty scales with each entity's ratings, so the choice carries to all of them."""
        c = self.config
        regs = parse_candidates(c.auto_regs, float, "auto_regs")
        if train.n_ratings < 100:
            return regs[0]
        sample = train
        if train.n_ratings > c.auto_sample:
            order = np.random.default_rng(c.seed).permutation(train.n_users)
            chosen = np.zeros(train.n_users, bool)
            chosen[order[np.cumsum(train.user_counts()[order]) <= c.auto_sample]] = True
            sample = train.subset(chosen[train.users])
        # Each candidate stops at its best sweep, without the refit: the choice needs only their order.
        error = validation_rmse(lambda reg: BiasedMF(replace(c, reg=reg, refit_sweeps=0)), sample, 0.1, c.seed)
        best, self.auto_scores = best_by_validation(regs, error)
        return best

    def _init(self, data: Dataset, device: str) -> tuple[torch.Tensor, torch.Tensor]:
        """[bias, factors] per user and movie: damped-mean biases, then factors from the SVD of
        what the biases leave unexplained (or small random ones)."""
        c = self.config
        mean, user_bias, movie_bias = damped_biases(
            data.users, data.movies, data.ratings, self.n_users, self.n_movies, 5.0, 5.0
        )
        self.mean = np.asarray(mean, dtype=np.float32)
        if c.svd_init:
            residuals = data.ratings - (self.mean + user_bias[data.users] + movie_bias[data.movies])
            user_factors, movie_factors = map(torch.from_numpy, svd_factors(data.matrix(residuals), c.factors, c.seed))
        else:
            gen = torch.Generator().manual_seed(c.seed)
            user_factors = torch.randn(self.n_users, c.factors, generator=gen) * c.init_scale
            movie_factors = torch.randn(self.n_movies, c.factors, generator=gen) * c.init_scale
        users = torch.cat([torch.from_numpy(user_bias)[:, None], user_factors], 1)
        movies = torch.cat([torch.from_numpy(movie_bias)[:, None], movie_factors], 1)
        # Entities without ratings are never solved: they keep zero factors (the fallback).
        users[torch.from_numpy(data.user_counts() == 0)] = 0
        movies[torch.from_numpy(data.movie_counts() == 0)] = 0
        self._set(users, movies)
        return users.to(device), movies.to(device)

    def _sweeps(
        self,
        data: Dataset,
        held: Dataset | None,
        users: torch.Tensor,
        movies: torch.Tensor,
        epochs: int,
        done: int,
        callback: Callback | None,
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Up to ``epochs`` ALS sweeps on ``data``, continuing from ``users``/``movies``.

        With ``held``, stops after ``patience`` sweeps without improvement on it and keeps
        the best sweep. Returns the kept parameters and the number of sweeps done in all
        (sweeps are numbered from ``done + 1``).
        """
        c = self.config
        device = users.device
        values = data.ratings - self.mean
        by_user = rating_blocks(data.users, data.movies, values, self.n_users, self.n_movies, device, c.block_size)
        by_movie = rating_blocks(data.movies, data.users, values, self.n_movies, self.n_users, device, c.block_size)
        penalty = ridge_penalty(c.reg, c.bias_reg, c.factors + 1, device)
        best, since_best, sweep = np.inf, 0, done
        kept = users.clone(), movies.clone()
        with self._stoppable():
            for sweep in range(done + 1, done + epochs + 1):
                solve_side(by_user, users, movies, penalty, c.weighted, c.cg_steps)
                loss = solve_side(by_movie, movies, users, penalty, c.weighted, c.cg_steps) / data.n_ratings
                check_finite(loss, self.name, sweep)
                score = None
                if held is not None:
                    score = rmse(self._predict_known(held.users, held.movies, users, movies), held.ratings)
                    since_best = 0 if score < best - c.tol else since_best + 1
                if score is None or score < best:
                    best, kept = (np.inf if score is None else score), (users.clone(), movies.clone())
                    self._set(*kept)
                if callback is not None:
                    callback(TrainingEvent(sweep, done + epochs, loss, score))
                if since_best >= c.patience:
                    break
        return kept[0], kept[1], sweep

    def _set(self, users: torch.Tensor, movies: torch.Tensor) -> None:
        u, m = users.cpu().numpy(), movies.cpu().numpy()
        self.user_bias, self.user_factors = u[:, 0].copy(), np.ascontiguousarray(u[:, 1:])
        self.movie_bias, self.movie_factors = m[:, 0].copy(), np.ascontiguousarray(m[:, 1:])

    def _predict_known(self, u: np.ndarray, m: np.ndarray, users: torch.Tensor, movies: torch.Tensor) -> np.ndarray:
        out = np.empty(len(u), dtype=np.float32)
        step = 1 << 18
        for s in range(0, len(u), step):
            uu = torch.as_tensor(u[s : s + step], dtype=torch.int64, device=users.device)
            mm = torch.as_tensor(m[s : s + step], dtype=torch.int64, device=users.device)
            x, y = users[uu], movies[mm]
            out[s : s + step] = (float(self.mean) + x[:, 0] + y[:, 0] + (x[:, 1:] * y[:, 1:]).sum(1)).cpu().numpy()
        return out

    # -- scoring -------------------------------------------------------------------------
    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return biased_predict(self, self.user_factors, self.movie_factors, users, movies)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return biased_scores(self, self.user_factors, self.movie_factors, users)

    def score_tiles(self, order: np.ndarray, device: str = "cpu"):
        from ..eval.topn import factor_block_scorer

        self._check_fitted()
        return factor_block_scorer(
            self.user_factors, self.movie_factors, order, device,
            user_offset=self.mean + self.user_bias, movie_offset=self.movie_bias,
        )

    def _fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """Ridge-solve the new user's [bias, factors] against the fixed movie parameters."""
        x = fold_in_user(
            movies,
            ratings.astype(np.float64) - float(self.mean),
            self.movie_bias,
            self.movie_factors,
            self.config,
        )
        x = x.astype(np.float32)  # a float64 vector would upcast a copy of every movie factor
        return self.movie_bias + (self.mean + x[0]) + self.movie_factors @ x[1:]

    def contributions(self, movies: np.ndarray, ratings: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """The fold-in is a ridge solve, linear in the residuals ``r_i - mean - b_i``: movie i adds
        ``[1, h_t] · A⁻¹ d_i · residual_i`` to target t (a rating below what the movie usually
        gets subtracts). Only the constant ``mean + b_t`` belongs to no rated movie."""
        self._check_fitted()
        movies = np.asarray(movies, dtype=np.int64)
        d, a = fold_in_system(movies, self.movie_factors, self.config)
        residuals = np.asarray(ratings, np.float64) - float(self.mean) - self.movie_bias[movies]
        t = np.asarray(targets, dtype=np.int64)
        rows = np.concatenate([np.ones((t.size, 1)), self.movie_factors[t].astype(np.float64)], 1)
        return (rows @ np.linalg.solve(a, d.T) * residuals).astype(np.float32)

    def movie_embeddings(self) -> np.ndarray:
        self._check_fitted()
        return self.movie_factors


def fold_in_system(movies: np.ndarray, movie_factors: np.ndarray, c) -> tuple[np.ndarray, np.ndarray]:
    """A new user's design ``d`` ([1, factors] per rated movie) and ridge matrix ``A = dᵀd + penalty``."""
    k = movie_factors.shape[1]
    d = np.concatenate([np.ones((movies.size, 1)), movie_factors[movies].astype(np.float64)], 1)
    penalty = np.full(k + 1, c.reg)
    penalty[0] = c.bias_reg
    if c.weighted:
        penalty *= max(movies.size, 1)
    return d, d.T @ d + np.diag(penalty)


def fold_in_user(movies: np.ndarray, centered: np.ndarray, movie_bias: np.ndarray, movie_factors: np.ndarray, c) -> np.ndarray:
    """[bias, factors] of a new user from centered ratings, with the training penalty."""
    d, a = fold_in_system(movies, movie_factors, c)
    return np.linalg.solve(a, d.T @ (centered - movie_bias[movies]))


def biased_predict(model: RatingModel, user_factors: np.ndarray, movie_factors: np.ndarray, users, movies) -> np.ndarray:
    """mean + user bias + movie bias + <user, movie> for pairs of rows; an unknown user or
    movie (-1) drops its own terms, so it falls back to the other side's bias (or the mean)."""
    ku, u = known_rows(users, model.n_users)
    km, m = known_rows(movies, model.n_movies)
    dot = np.einsum("ij,ij->i", user_factors[u], movie_factors[m])
    return bias_sum(model, users, movies) + np.where(ku & km, dot, 0).astype(np.float32)


def biased_scores(model: RatingModel, user_factors: np.ndarray, movie_factors: np.ndarray, users) -> np.ndarray:
    """Predicted ratings of every movie for known user rows."""
    out = user_factors[users] @ movie_factors.T
    out += bias_sum(model, users)
    return out.astype(np.float32, copy=False)
