"""Implicit ALS (Hu, Koren & Volinsky 2008), tuned as in Rendle et al. 2021 "Revisiting iALS".

Every (user, movie) pair is a training example: the rated ones with target 1 and weight
``1 + confidence(rating)``, all the others with target 0 and a small weight ``α₀``
(``unobserved_weight``). Regularization grows with a row's weighted count to the power ν
(``frequency_exponent``). Each half-iteration solves every user (then every movie) exactly
in the limit, here with a few warm-started conjugate-gradient steps batched over all rows at
once. One CG step costs O(nnz·k + rows·k²) through a sampled dense product (x_u · h_i only at
the rated pairs) and a sparse product, so memory stays O(nnz + rows·k) on ml-32m-sized data;
both halves share one users x movies pattern and the dots at the ratings (see ``_solve``).

Low ratings can carry negative signal: with ``negative_below`` set, ratings under it get target
0 (with their confidence), so "watched and disliked" is pushed down harder than "never seen".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from ..data.dataset import Dataset
from .base import Callback, RankingModel, TrainingEvent, check_finite, resolve_device
from .sparse import transposed_product


@dataclass(frozen=True)
class ImplicitALSConfig:
    factors: int = 64
    iterations: int = 12
    regularization: float = 0.03  # λ, scaled per row by (weighted count)^ν
    frequency_exponent: float = 1.0  # ν: 0 = plain λ, 1 = proportional to activity
    unobserved_weight: float = 0.1  # α₀: weight of every unrated (user, movie) pair
    confidence: float = 1.0  # extra weight of a rating: confidence * (stars / top of scale)
    negative_below: float | None = 3.0  # ratings under this get target 0 (None: all target 1)
    tol: float = 5e-4  # stop once an iteration lowers the loss by less than this share of it
    cg_steps: int = 2  # conjugate-gradient steps per half-iteration (warm-started; 3 gains nothing here)
    init_scale: float = 0.1  # initial factors ~ N(0, init_scale² / factors)
    device: str = "auto"
    seed: int = 0


class _Ratings:
    """The ratings as one users x movies CSR pattern (int32 indices on ml-32m's scale), with each
    rating's confidence ``1 + w`` and target. Both half-iterations use this one pattern, the
    movies' through its transpose: per-rating values (the dots below) keep one order from one
    half to the next, and no movie-ordered copy exists. (A movie-ordered pattern was also
    slower: its products gather the larger users' table at random, 2x the cost on ml-32m.)
    Per-rating temporaries go to two buffers made once: a fresh 128 MB array per step cost
    iALS a third of its CPU time in page faults on ml-32m's shape."""

    def __init__(self, users, movies, n_users, n_movies, weight, target, device):
        import torch

        order = np.argsort(users.astype(np.int64) * n_movies + movies, kind="stable")  # O(n) when sorted already
        index = np.int32 if users.size < 2**31 else np.int64
        self.indptr = np.concatenate(([0], np.cumsum(np.bincount(users, minlength=n_users)))).astype(index)
        self.indices = movies[order].astype(index)
        self.shape = (n_users, n_movies)
        self.device = torch.device(device)
        self.crow, self.cols = torch.from_numpy(self.indptr).to(device), torch.from_numpy(self.indices).to(device)
        self.rows = torch.from_numpy(users[order].astype(index)).to(device)  # each rating's user
        self.confidence = torch.from_numpy(1.0 + weight[order].astype(np.float32)).to(device)  # 1 + w
        self.target = torch.from_numpy(target[order].astype(np.float32)).to(device)  # 1 or 0
        self.pattern = self.matrix(self.confidence)
        self.work = torch.empty_like(self.confidence)  # per-rating scratch
        self._step_dots = self.matrix(torch.empty_like(self.confidence))  # dots of a CG direction

    def matrix(self, values):
        """The users x movies CSR matrix of this pattern with ``values`` (one per rating)."""
        import torch

        with warnings.catch_warnings():  # torch flags CSR tensors as beta; they are all we use
            warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
            return torch.sparse_csr_tensor(self.crow, self.cols, values, size=self.shape, check_invariants=False)

    def dots(self, users, movies, reuse: bool = False):
        """x_u · h_i for every rating (u, i), without forming the dense product; ``reuse``: into
        the one buffer kept for a CG direction's dots (overwritten by the next such call)."""
        import torch

        out = self._step_dots if reuse else None
        return torch.sparse.sampled_addmm(self.pattern, users, movies.T, beta=0.0, out=out).values()

    def movie_sums(self, values, users):
        """Σ_u values_ui x_u for every movie i: the transposed product. On a CPU through SciPy's
        kernel in row bands on every core (:mod:`.sparse`), reading the users' rows in order
        (torch's transposed CSR product is 5x slower there)."""
        import torch

        if self.device.type != "cpu":
            return self.matrix(values).t() @ users
        csr = sp.csr_matrix((values.numpy(), self.indices, self.indptr), shape=self.shape)
        return torch.from_numpy(transposed_product(csr, users.numpy()))


class _Side:
    """One half-iteration's view of the shared ratings: rows are users (``by_user``) or movies."""

    def __init__(self, ratings: _Ratings, by_user: bool):
        self.ratings, self.by_user = ratings, by_user

    def dots(self, x, other):
        """x_row · other_col at every rating (in the pattern's order), in the CG direction's buffer."""
        r = self.ratings
        return r.dots(x, other, reuse=True) if self.by_user else r.dots(other, x, reuse=True)

    def sums(self, values, other):
        """Σ over each row's ratings of ``values`` times the partner's row of ``other``."""
        r = self.ratings
        return r.matrix(values) @ other if self.by_user else r.movie_sums(values, other)

    def scale_by_row(self, values, row_values) -> None:
        """``values`` (one per rating) times their row's value, in place."""
        import torch

        r = self.ratings
        values.mul_(torch.index_select(row_values, 0, r.rows if self.by_user else r.cols, out=r.work))


def _solve(side: _Side, x, other, dots, alpha0: float, reg, cg_steps: int):
    """A few conjugate-gradient steps on every row's normal equations, warm-started at ``x``:
    (α₀ HᵀH + Σ_i (1 + w_ui) h_i h_iᵀ + λ_u I) x_u = Σ_i (1 + w_ui) t_ui h_i.

    ``dots`` holds x_u · h_i at every rating; it is updated in place for the new x, which is
    returned. CG moves x along p, so the dots move along p's, which each step computes
    anyway: no pass over the ratings goes to the starting residual's dots or to the loss. A
    pass (a sampled or a sparse product, O(nnz·k)) costs far more than the O(rows·k²) rest.
    """
    import torch

    r = side.ratings
    gram = alpha0 * (other.T @ other)
    x = x.clone()
    # b - A x: the targets' and the rated part's sums over h_i make one sparse product
    torch.sub(r.target, dots, out=r.work).mul_(r.confidence)
    res = side.sums(r.work, other) - x @ gram - reg[:, None] * x
    p = res.clone()
    rs = (res * res).sum(1)
    for _ in range(cg_steps):
        p_dots = side.dots(p, other)
        ap = p @ gram + reg[:, None] * p + side.sums(torch.mul(p_dots, r.confidence, out=r.work), other)
        denom = (p * ap).sum(1)
        step = torch.where(denom > 0, rs / torch.where(denom > 0, denom, 1.0), 0.0)
        x += step[:, None] * p
        side.scale_by_row(p_dots, step)
        dots += p_dots
        res -= step[:, None] * ap
        rs_new = (res * res).sum(1)
        beta = torch.where(rs > 0, rs_new / torch.where(rs > 0, rs, 1.0), 0.0)
        p = res + beta[:, None] * p
        rs = rs_new
    return x


def _loss(ratings: _Ratings, x, other, dots, alpha0: float, reg, reg_other) -> float:
    """The weighted loss over all (user, movie) pairs, per rating, given the ``dots`` x_u · h_i."""
    import torch

    unobserved = alpha0 * float(((x.T @ x) * (other.T @ other)).sum())
    squares = torch.sub(dots, ratings.target, out=ratings.work).square_().mul_(ratings.confidence)
    observed = float(squares.sum())
    penalty = float((reg * (x * x).sum(1)).sum()) + float((reg_other * (other * other).sum(1)).sum())
    return (unobserved + observed + penalty) / max(int(ratings.cols.numel()), 1)


class ImplicitALS(RankingModel):
    """Implicit-feedback matrix factorization: users and movies as ``factors``-d vectors."""

    name: ClassVar[str] = "ials"
    Config: ClassVar[type] = ImplicitALSConfig
    state_attrs: ClassVar[tuple[str, ...]] = ("user_factors", "movie_factors", "scale")

    bounds: ClassVar = (
        (">= 1", ("factors", "iterations", "cg_steps")),
        (">= 0", ("regularization", "unobserved_weight", "confidence", "init_scale", "tol")),
    )

    def _weights(self, ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Extra confidence and target of each rating ("how" the user rated, not only "what")."""
        cfg = self.config
        weight = (cfg.confidence / float(self.scale)) * ratings.astype(np.float32)
        target = np.ones(ratings.size, np.float32)
        if cfg.negative_below is not None:
            target[ratings < cfg.negative_below] = 0.0
        return weight, target

    def _row_regularization(self, weighted_counts, n_other: int):
        """λ (count + α₀·n_other)^ν as in Rendle et al.: busier rows get more shrinkage."""
        cfg = self.config
        return cfg.regularization * (weighted_counts + cfg.unobserved_weight * n_other) ** cfg.frequency_exponent

    def _regularization(self, train: Dataset, weight: np.ndarray, device):
        """Each user's and movie's λ, counting each rating by its weight, so confident rows shrink more."""
        import torch

        w = torch.from_numpy(1.0 + weight).to(device)
        counts = []
        for rows, n in ((train.users, train.n_users), (train.movies, train.n_movies)):
            index = torch.from_numpy(rows.astype(np.int64)).to(device)
            counts.append(torch.zeros(n, device=device).index_add_(0, index, w))
        return self._row_regularization(counts[0], train.n_movies), self._row_regularization(counts[1], train.n_users)

    def _fit(self, train: Dataset, callback: Callback | None) -> None:
        import torch

        cfg = self.config
        device = resolve_device(cfg.device)
        self.scale = np.asarray(train.rating_scale[1], dtype=np.float32)
        n_users, n_movies = train.n_users, train.n_movies
        weight, target = self._weights(train.ratings)
        ratings = _Ratings(train.users, train.movies, n_users, n_movies, weight, target, device)
        users, movies = _Side(ratings, by_user=True), _Side(ratings, by_user=False)
        user_reg, movie_reg = self._regularization(train, weight, device)
        del weight, target  # _Ratings holds them in its order; these copies are 256 MB at ml-32m's size
        gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
        std = cfg.init_scale / np.sqrt(cfg.factors)
        user_f = (torch.randn(n_users, cfg.factors, generator=gen) * std).to(device)
        movie_f = (torch.randn(n_movies, cfg.factors, generator=gen) * std).to(device)
        self._keep(user_f, movie_f)  # Ctrl-C keeps the factors of the last finished iteration
        dots = ratings.dots(user_f, movie_f)  # kept current by _solve from here on
        previous = np.inf
        with self._stoppable():
            for epoch in range(1, cfg.iterations + 1):
                user_f = _solve(users, user_f, movie_f, dots, cfg.unobserved_weight, user_reg, cfg.cg_steps)
                movie_f = _solve(movies, movie_f, user_f, dots, cfg.unobserved_weight, movie_reg, cfg.cg_steps)
                loss = _loss(ratings, user_f, movie_f, dots, cfg.unobserved_weight, user_reg, movie_reg)
                check_finite(loss, self.name, epoch)
                self._keep(user_f, movie_f)
                if callback is not None:
                    callback(TrainingEvent(epoch, cfg.iterations, loss, None, metric="loss"))
                if previous - loss < cfg.tol * loss:  # converged (on ml-32m's shape after 7 of 8)
                    break
                previous = loss

    def _keep(self, user_f, movie_f) -> None:
        self.user_factors = user_f.cpu().numpy().astype(np.float32)
        self.movie_factors = movie_f.cpu().numpy().astype(np.float32)

    # -- scoring -------------------------------------------------------------------------
    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors[users] @ self.movie_factors.T

    def score_tiles(self, order: np.ndarray, device: str = "cpu", weight: float = 1.0):
        from ..eval.topn import factor_block_scorer

        self._check_fitted()
        return factor_block_scorer(self.user_factors, self.movie_factors, order, device, weight=weight)

    @cached_property
    def _gram(self) -> np.ndarray:
        """HᵀH of the movie factors (float64), shared by every fold-in: computed once."""
        h = self.movie_factors.astype(np.float64)
        return h.T @ h

    def _normal_equations(self, movies: np.ndarray, ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A new user's ``A`` (k x k), their movies' factors ``H`` and weights ``c·t``: ``u = A⁻¹ Hᵀ (c·t)``."""
        self._check_fitted()
        cfg = self.config
        movies = np.asarray(movies, dtype=np.int64)
        ratings = np.asarray(ratings, dtype=np.float32)
        if movies.shape != ratings.shape:
            raise ValueError(f"movies and ratings must have the same length, got {movies.size} and {ratings.size}")
        weight, target = self._weights(ratings)
        hu = self.movie_factors[movies].astype(np.float64)
        c = 1.0 + weight
        reg = self._row_regularization(float(c.sum()), self.n_movies)
        a = cfg.unobserved_weight * self._gram + (hu.T * c) @ hu + reg * np.eye(hu.shape[1])
        return a, hu, c * target

    def user_vector(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """Exact least-squares factors of a new user against the fixed movie factors."""
        a, hu, weights = self._normal_equations(movies, ratings)
        return np.linalg.solve(a, hu.T @ weights).astype(np.float32)

    def contributions(self, movies: np.ndarray, ratings: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """``c_i t_i · h_tᵀ A⁻¹ h_i`` (Hu, Koren & Volinsky 2008, section 5): the fold-in score is
        their sum. A disliked movie (target 0) adds nothing directly; it only enters ``A``."""
        a, hu, weights = self._normal_equations(movies, ratings)
        shares = self.movie_factors[np.asarray(targets, np.int64)].astype(np.float64) @ np.linalg.solve(a, hu.T)
        return (shares * weights).astype(np.float32)

    def _fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        return self.movie_factors @ self.user_vector(movies, ratings)

    def movie_embeddings(self) -> np.ndarray:
        self._check_fitted()
        return self.movie_factors
