"""Bayesian factorization with implicit feedback and time, by Gibbs sampling: the most accurate rating model.

rating ~ N(mean + b_user + b_movie + b_day + (user + day) . movie, 1 / noise precision)

where each side's vector is centred on what *who rated what* says about it (SVD++ both ways,
Rendle et al. 2019, "On the difficulty of evaluating baselines"), and a movie's also on its
genres and decade (so a movie nobody rated yet still gets a vector: its prior mean):

    user  ~ N(mu_U + |N(u)|^-1/2 sum_{j in N(u)} y_j, Lambda_U^-1)     N(u): movies u rated
    movie ~ N(mu_M + |N(i)|^-1/2 sum_{v in N(i)} z_v                  N(i): users who rated i
                   + |G(i)|^-1/2 sum_{g in G(i)} c_g, Lambda_M^-1)     G(i): its genres and decade
    day   ~ N(mu_D, Lambda_D^-1)                                         the rating's day (a category)

Vectors carry their bias in column 0 ([b, factors]). The implicit sums are one sparse product
per sweep (``A @ Y``, A the row-normalized rated-or-not matrix): O(ratings), never per rating.

Every conditional is Gaussian, so a sweep is ALS with draws instead of solves: users, days
and movies each in padded blocks of ratings with one batched Cholesky per block; the link
matrices Y and Z are drawn whole by "noise injection" (Simm et al. 2015, Macau): a draw of
N((A'A + l I)^-1 A'R, ...) is the solution of (A'A + l I) X = A'(R + E1) + sqrt(l) E2, with
E noise of the prior's covariance: solved exactly through one eigendecomposition (made at
the start) of the implicit set's small Gram matrix when it has at most ``exact_link`` users or
movies, else by a few warm-started conjugate-gradient steps. The movies' link is also drawn
from the ratings with each movie's own deviation fixed (``shift_link``, non-centred).
Users differ in how consistently they rate: each has a noise precision noise * w_u, w_u ~
Gamma(a, a) (mean 1, a = ``user_noise`` ratings' worth), drawn from their residuals, so erratic
raters weigh less in the movies' draws (cf. Lakshminarayanan et al. 2011, robust BPMF).
Hyperparameters (means, precisions, noise) get BPMF's vague Normal-Wishart / Gamma priors, so
nothing but the rank and the number of sweeps is tuned (``factors="auto"`` picks the rank on
a validation slice of the training ratings).

Chains: ``chains`` independent chains from one SVD start run side by side, one thread each,
and pool their samples; their first ``burn_in`` sweeps are ALS steps (conditional means, not
draws), so a chain's samples are useful from its third sweep.

Compact posterior: the prediction is the *average over samples* of dot products, each sample
holding the entities' conditional means at their draws (Rao-Blackwellized). Rather than
storing every sample, the kept samples' side-by-side factors (whose one dot product is that
average) are compressed to ``serve_rank`` columns by a randomized range finder: tiny loss,
a fixed-size artifact. Fold-in uses the posterior means.

Length: the model and its Gibbs sampler (``_Sampler``, ``_Kept``) share every array layout;
splitting them would spread one algorithm over two files.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
import torch
from threadpoolctl import threadpool_limits

from ..data.dataset import Dataset
from ..errors import ModelError
from .base import Callback, RatingModel, TrainingEvent, check_finite, known_rows, resolve_device
from .baselines import damped_biases
from .bayesian import sample_prior
from .mf import rating_blocks
from .svd import svd_factors
from .tuning import best_by_validation, parse_candidates, validation_rmse

DAY = 86_400


@dataclass(frozen=True)
class BayesFMConfig:
    factors: int | str = 10  # rank; "auto": chosen on a validation slice (see auto_ranks, auto_budget)
    epochs: int = 16  # Gibbs sweeps per chain: the most within 3 s on ml-latest-small; 80: ~0.011 RMSE better in ~11 s
    chains: int = 2  # independent chains, side by side on their own threads, samples pooled (memory: one state each)
    burn_in: int = 2  # first sweeps (at most half of epochs): ALS steps from the residuals' SVD, not kept (see _Sampler.run)
    implicit: bool = True  # centre users on the movies they rated, movies on their raters
    content: bool = True  # centre movies also on their genres and decade: movies with few or no ratings start there
    user_noise: float = 20.0  # prior weight (in ratings) of each user's own noise level around the common one; 0: one level
    time_bin: float = 1.0  # days per time category; 0: no time term (also when timestamps are all equal)
    serve_rank: int = 48  # columns the averaged interactions are compressed to (0: store the posterior means only)
    shift: str = "movie"  # sides whose link is also drawn from the ratings (the non-centred move): "user,movie", "movie", ""
    cg_steps: int = 4  # conjugate-gradient steps per CG link draw (past exact_link) and shift draw; warm-started (20: no better)
    exact_link: int = 2048  # implicit sets with at most this many users or movies: link drawn exactly, not by CG
    auto_ranks: str = "8,16,32"  # ranks factors="auto" tries
    auto_budget: float = 60.0  # seconds factors="auto" may spend on validation fits before it stops trying ranks
    validation: float = 0.05  # share of training ratings held out when factors="auto"
    block_size: int = 1 << 19  # rating slots per padded block: bounds memory on large datasets
    device: str = "auto"
    seed: int = 42


class BayesFM(RatingModel):
    """Bayesian MF with implicit user/movie sets and a day term, by Gibbs sampling (module docstring).

    ``predict`` takes optional timestamps (the rating's time); without them, or for a day
    not seen in training, the day term is its prior mean. Fallbacks: unknown user (row -1)
    -> mean + movie bias (+ day); unknown movie -> mean + user bias (+ day); both -> mean.
    """

    name = "bayesfm"
    Config = BayesFMConfig
    state_attrs = (
        "mean",
        "user_bias",
        "movie_bias",
        "day_bias",
        "day_keys",
        "user_vectors",
        "movie_vectors",
        "day_vectors",
        "movie_factors",
        "implicit_factors",
        "user_prior_mean",
        "user_prior_precision",
        "noise_precision",
    )

    # -- training ------------------------------------------------------------------------
    def _check_config(self) -> None:
        c = self.config
        if c.factors != "auto" and (not isinstance(c.factors, int) or c.factors < 1):
            raise ValueError(f"factors must be >= 1 or 'auto', got {c.factors!r}")
        if min(c.epochs, c.chains, c.cg_steps) < 1 or min(c.burn_in, c.exact_link) < 0:
            raise ValueError(
                f"epochs, chains and cg_steps must be >= 1, burn_in and exact_link >= 0; got epochs={c.epochs}, "
                f"chains={c.chains}, cg_steps={c.cg_steps}, burn_in={c.burn_in}, exact_link={c.exact_link}"
            )
        if not set(filter(None, c.shift.split(","))) <= {"user", "movie"}:
            raise ValueError(f"shift lists sides among 'user' and 'movie', like 'user,movie' or ''; got {c.shift!r}")
        if min(c.time_bin, c.serve_rank, c.user_noise) < 0:
            raise ValueError(
                f"time_bin, serve_rank and user_noise must be >= 0, got {c.time_bin}, {c.serve_rank} and {c.user_noise}"
            )

    def _fit(self, train: Dataset, callback: Callback | None) -> None:
        if self.config.factors == "auto":
            self.config = replace(self.config, factors=self._choose_rank(train))
        self._run_chains(train, callback).summarize(self)

    def _run_chains(self, train: Dataset, callback: Callback | None) -> _Kept:
        """``chains`` independent chains (seeds seed, seed + 1, ...), one thread each, their kept
        samples pooled. A sweep is many small kernels whose second thread idles, so two chains on
        two cores run in the time of one: validation RMSE at 16 sweeps 0.8205 -> 0.8167. Chain 0 runs
        here and reports progress; Ctrl-C stops every chain after its current sweep."""
        c = self.config
        stop, errors = threading.Event(), []
        samplers: list[_Sampler | None] = [None] * c.chains

        def work(i: int) -> None:
            try:
                samplers[i] = _Sampler(c, train, c.seed + i)
                samplers[i].run(None, stop)
            except BaseException as error:  # re-raised in the calling thread
                errors.append(error)
                stop.set()

        workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(1, c.chains)]
        with one_thread_each(c.chains > 1):
            for worker in workers:
                worker.start()
            try:
                samplers[0] = _Sampler(c, train, c.seed)
                with self._stoppable():
                    samplers[0].run(callback, stop)
                if self.interrupted:
                    stop.set()
            except BaseException:
                stop.set()
                raise
            finally:
                for worker in workers:
                    worker.join()
        if errors:
            raise errors[0]
        kept = samplers[0].kept
        for sampler in samplers[1:]:
            kept.merge(sampler.kept)
        return kept

    def _choose_rank(self, train: Dataset) -> int:
        """The rank with the best RMSE on a validation slice of ``train``, trying ``auto_ranks``
        in order until one does worse or ``auto_budget`` seconds are spent."""
        c = self.config
        ranks = parse_candidates(c.auto_ranks, int, "auto_ranks")
        if train.n_ratings < 100:
            return ranks[0]
        error = validation_rmse(lambda rank: BayesFM(replace(c, factors=rank)), train, c.validation, c.seed)
        best, self.auto_scores = best_by_validation(ranks, error, c.auto_budget)
        return best

    # -- scoring -------------------------------------------------------------------------
    def day_rows(self, timestamps: np.ndarray | None, n: int) -> np.ndarray:
        """Row of each rating's day in ``day_vectors``; the last row (prior mean) for unseen days."""
        fallback = self.day_keys.size
        if timestamps is None or fallback == 0 or self.config.time_bin == 0:
            return np.full(n, fallback, dtype=np.int64)
        keys = day_keys(np.asarray(timestamps), self.config.time_bin)
        pos = np.minimum(np.searchsorted(self.day_keys, keys), fallback - 1)
        return np.where(self.day_keys[pos] == keys, pos, fallback)

    def predict(self, users: np.ndarray, movies: np.ndarray, timestamps: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        ku, u = known_rows(users, self.n_users)
        km, m = known_rows(movies, self.n_movies)
        d = self.day_rows(timestamps, u.size)
        mv = self.movie_vectors[m]
        inter = np.einsum("ij,ij->i", np.where(ku[:, None], self.user_vectors[u], 0) + self.day_vectors[d], mv)
        out = (
            self.mean
            + np.where(ku, self.user_bias[u], 0)
            + np.where(km, self.movie_bias[m], 0)
            + self.day_bias[d]
            + np.where(km, inter, 0)
        )
        return out.astype(np.float32)

    def predict_at(self, users: np.ndarray, movies: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        return self.predict(users, movies, timestamps)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        """Predicted ratings of every movie, today (the day term at its prior mean)."""
        out = (self.user_vectors[users] + self.day_vectors[-1]) @ self.movie_vectors.T
        out += self.mean + self.day_bias[-1] + self.movie_bias[None, :] + self.user_bias[users][:, None]
        return out.astype(np.float32, copy=False)

    def _fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """Posterior mean of a new user's [bias, factors]: prior centred on the implicit term of the
        movies they rated, likelihood against the posterior-mean movie parameters (float32 throughout).
        No ratings: the documented fallback, as ``predict`` gives an unknown user today."""
        if movies.size == 0:
            return (self.mean + self.day_bias[-1] + self.movie_bias + self.movie_vectors @ self.day_vectors[-1]).astype(np.float32)
        k = self.movie_factors.shape[1]
        lam = self.user_prior_precision
        prior = self.user_prior_mean.copy()
        if self.config.implicit:
            prior += self.implicit_factors[movies].sum(0) / np.float32(np.sqrt(movies.size))
        design = np.ones((movies.size, k + 1), np.float32)
        design[:, 1:] = self.movie_factors[movies]
        target = ratings - self.mean - self.day_bias[-1] - self.movie_bias[movies]
        alpha = self.noise_precision
        x = np.linalg.solve(lam + alpha * design.T @ design, lam @ prior + alpha * design.T @ target).astype(np.float32)
        return (self.mean + self.day_bias[-1] + x[0] + self.movie_bias + self.movie_factors @ x[1:]).astype(np.float32)

    def movie_embeddings(self) -> np.ndarray:
        self._check_fitted()
        return self.movie_factors


@contextmanager
def one_thread_each(on: bool) -> Iterator[None]:
    """When ``on``, torch and BLAS run single-threaded inside (the chains are the parallelism)."""
    if not on:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(threads)


def gather(table: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``table[rows]``; on the CPU through NumPy, whose take is several times faster than torch indexing."""
    if table.device.type == "cpu":
        return torch.from_numpy(np.take(table.numpy(), rows.numpy(), axis=0))
    return table[rows.long()]


def entity_groups(blocks: list, limit: int) -> list[tuple[torch.Tensor, list]]:
    """Consecutive blocks grouped while their entities number at most ``limit`` (a block alone
    may exceed it): (the group's entity rows, its blocks)."""
    groups, size = [], limit + 1
    for block in blocks:
        if size + len(block.rows) > limit:
            groups.append([])
            size = 0
        groups[-1].append(block)
        size += len(block.rows)
    return [(torch.cat([b.rows for b in group]), group) for group in groups]


def content_flags(data: Dataset) -> np.ndarray:
    """Movies x (genres + decades 1890s..2020s) booleans from the catalog; all False where unknown."""
    rows = data.movie_catalog_rows
    known = rows >= 0
    genres = data.catalog.genres[np.maximum(rows, 0)] & known[:, None]
    years = np.where(known, data.catalog.years[np.maximum(rows, 0)], 0).astype(np.int64)
    decades = (np.clip((years - 1890) // 10, 0, 13)[:, None] == np.arange(14)) & (years > 0)[:, None]
    return np.hstack([genres, decades])


def day_keys(timestamps: np.ndarray, time_bin: float) -> np.ndarray:
    return np.floor(timestamps / (DAY * time_bin)).astype(np.int64)


class _Sampler:
    """One Gibbs chain for a BayesFM: the state of the sweeps, and the kept samples' summary."""

    def __init__(self, config: BayesFMConfig, train: Dataset, seed: int):
        c = config
        self.train, self.c = train, c
        self.device = resolve_device(c.device)
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator().manual_seed(seed)
        n, k1 = train.n_ratings, c.factors + 1
        self.n, self.k1 = n, k1
        mean, user_bias, movie_bias = damped_biases(
            train.users, train.movies, train.ratings, train.n_users, train.n_movies, 5.0, 5.0
        )
        self.mean = np.asarray(mean, dtype=np.float32)
        # Days: the distinct time bins of training; none when timestamps carry no time.
        keys = day_keys(train.timestamps, c.time_bin) if c.time_bin > 0 else np.zeros(n, np.int64)
        self.day_keys, day = np.unique(keys, return_inverse=True)
        if self.day_keys.size < 2:
            self.day_keys = np.zeros(0, np.int64)
            day = np.zeros(n, np.int64)
        self.n_days = self.day_keys.size
        dev = self.device
        t = lambda a, dtype=torch.int64: torch.as_tensor(np.asarray(a), dtype=dtype, device=dev)  # noqa: E731
        # Per-rating entity rows, with a padding slot n pointing at each table's zero row.
        self.user_of = t(np.append(train.users, train.n_users))
        self.movie_of = t(np.append(train.movies, train.n_movies))
        self.day_of = t(np.append(day, self.n_days) if self.n_days else np.full(n + 1, 0))
        values = (train.ratings - self.mean).astype(np.float32)
        self.values = t(np.append(values, 0), torch.float32)
        self.valid = t(np.arange(n + 1) < n, torch.float32)[:, None]
        index = np.arange(n, dtype=np.int64)
        # growth 2: fewer, slightly more padded blocks than mf's 1.5; per-block overhead dominates here
        blocks = lambda rows, m: rating_blocks(rows, index, values, m, n, dev, c.block_size, growth=2.0)  # noqa: E731
        self.blocks = {"user": blocks(train.users, train.n_users), "movie": blocks(train.movies, train.n_movies)}
        if self.n_days:
            self.blocks["day"] = blocks(day, self.n_days)
        # Consecutive blocks whose entities' Grams, (k+2)^2 floats each, fit in one block's
        # block_size x (k+2) gathered rows: one draw per group (small data: one per side).
        self.groups = {side: entity_groups(b, max(1, c.block_size // (k1 + 1))) for side, b in self.blocks.items()}
        residuals = train.ratings - self.mean - user_bias[train.users] - movie_bias[train.movies]
        start = svd_factors(train.matrix(residuals), c.factors, c.seed)  # the chain needs no burn-in from here
        self.params = {
            "user": torch.from_numpy(np.column_stack([user_bias, start[0]])).to(dev),
            "movie": torch.from_numpy(np.column_stack([movie_bias, start[1]])).to(dev),
            "day": torch.zeros(max(self.n_days, 1), k1, device=dev),
        }
        self.rated = {
            "user": np.flatnonzero(train.user_counts() > 0),
            "movie": np.flatnonzero(train.movie_counts() > 0),
            "day": np.arange(self.n_days),
        }
        self.deviation = {side: torch.zeros_like(p) for side, p in self.params.items()}  # see conditional_means
        for side in ("user", "movie"):  # entities without ratings keep zeros: the fallback (see content)
            unrated = np.ones(self.params[side].shape[0], bool)
            unrated[self.rated[side]] = False
            self.params[side][torch.from_numpy(unrated).to(dev)] = 0
            if side == "movie":
                self.unrated_movies = torch.from_numpy(unrated).to(dev)
        # Implicit sets, each row scaled by 1/sqrt(its size): A (users x movies) and its transpose.
        ones = np.ones(n, np.float32)
        a = sp.csr_matrix((ones, (train.users, train.movies)), shape=(train.n_users, train.n_movies))
        a.data[:] = 1.0  # duplicate pairs count once
        self.implicit = {}
        if c.implicit:
            for side, m in (("user", a), ("movie", a.T.tocsr())):
                size = np.asarray(m.sum(1)).ravel()
                scale = np.divide(1.0, np.sqrt(size), out=np.zeros_like(size), where=size > 0).astype(np.float32)
                m = (sp.diags(scale) @ m).astype(np.float32).tocsr()
                self.implicit[side] = _Link(m, k1, c.exact_link)
        # Content: each movie's genres and decade, a row scaled 1/sqrt(its count); the link is drawn
        # from rated movies only (an unrated movie's vector is its prior mean: no evidence of its own).
        self.content = None
        flags = content_flags(train) if c.content else np.zeros((train.n_movies, 0), bool)
        if flags.any():
            g = flags / np.sqrt(np.maximum(flags.sum(1, keepdims=True), 1)).astype(np.float32)
            self.content = (g, _Link(sp.csr_matrix(g[self.rated["movie"]]), k1, c.exact_link))
        # The non-centred move pays where entities have few ratings (movies: as few as one);
        # MovieLens users have 20 or more, and their side's CG barely converged in 20 steps.
        self.shifted = set(self.implicit) & set(c.shift.split(","))
        self.hyper = {side: (np.zeros(k1), np.eye(k1)) for side in self.params}
        self.user_counts = train.user_counts().astype(np.float64)
        self.user_sse = np.zeros(train.n_users)
        self.noise = 2.0
        # Each user's noise precision is noise * weight[u]; rows are scaled by sqrt(weight) (see terms).
        self.user_weight = np.ones(train.n_users, np.float32)
        self.row_scale = None

    # -- one sweep -----------------------------------------------------------------------
    def sweep(self, draw: bool = True) -> float:
        for side in ("user", "day", "movie"):
            if side == "day" and not self.n_days:
                continue
            prior_mean = self.sample_hyper(side)
            sse = self.sample_side(side, prior_mean, draw)
            if side in self.shifted:
                self.shift_link(side)
            if side == "user" and self.c.user_noise > 0:
                self.sample_user_weights()
        self.noise = float(self.rng.gamma(1.0 + self.n / 2, 1.0 / (1.0 + sse / 2)))
        return sse / self.n

    def sample_hyper(self, side: str) -> torch.Tensor:
        """Draw the side's link matrices (implicit set, content), each given the other, then its
        prior mean and precision given the entities' deviations from their links; returns each
        entity's prior mean. Unrated movies take theirs as their vector."""
        x = self.params[side].cpu().numpy()
        rows = self.rated[side]
        mu, precision = self.hyper[side]
        link = np.zeros_like(x)
        content = self.content if side == "movie" else None
        by_content = content[0] @ content[1].y if content is not None else np.zeros_like(x)
        if side in self.implicit:
            self.sample_link(self.implicit[side], x - mu - by_content, precision)
            link = self.implicit[side].a @ self.implicit[side].y
        if content is not None:
            self.sample_link(content[1], (x - mu - link)[rows], precision)
            by_content = content[0] @ content[1].y
        mu, precision = sample_prior((x - link - by_content)[rows].astype(np.float64), self.rng)
        self.hyper[side] = (mu, precision)
        prior = torch.as_tensor((link + by_content + mu).astype(np.float32), device=self.device)
        if content is not None:
            self.params[side][self.unrated_movies] = prior[self.unrated_movies]
        return prior, precision

    def sample_link(self, link: _Link, resid: np.ndarray, precision: np.ndarray) -> None:
        """Noise-injection draw of the link Y | entities (module docstring), then its scale l | Y."""
        a, at, lam = link.a, link.at, link.lam
        chol = np.linalg.cholesky(precision)
        inv = np.linalg.inv(chol).astype(np.float32)  # precision = L L': rows z L^-1 have covariance precision^-1
        noise = lambda rows: self.rng.standard_normal((rows, self.k1), dtype=np.float32) @ inv  # noqa: E731
        rhs = at @ (resid.astype(np.float32) + noise(a.shape[0])) + np.float32(np.sqrt(lam)) * noise(a.shape[1])
        if link.basis is not None:
            link.y = link.solve(rhs)
        else:
            op = lambda v: at @ (a @ v) + np.float32(lam) * v  # noqa: E731
            link.y = conjugate_gradient(op, rhs, link.y, self.c.cg_steps)
        quad = float(np.square(link.y @ chol).sum())  # trace(Y Lambda Y')
        link.lam = float(self.rng.gamma(1.0 + link.y.size / 2, 1.0 / (1.0 + quad / 2)))

    def shift_link(self, side: str) -> None:
        """Draw the link Y again, now from the ratings with each entity's own deviation fixed
        (the non-centred move: with few ratings an entity hugs its prior mean A Y, so drawing Y
        only from the entities would move it slowly). Entity x = base + (A Y)_e, base fixed;
        rating targets give, per entity, the Gram G_e and D't of the block pass, so

            (noise A' G A + l Y Lambda) Y = A' (noise (D't - G base) + sqrt(noise) eta) + sqrt(l) Z L'

        with eta_e ~ N(0, G_e) and Z standard normal is an exact draw; solved by a few CG
        steps preconditioned by each row's own block (A*A)' G + l Lambda.
        """
        link = self.implicit[side]
        a, at, y, lam = link.a, link.at, link.y, link.lam
        _, precision = self.hyper[side]
        k1, alpha = self.k1, np.float32(self.noise)
        gram, dtt = (g.cpu().numpy() for g in self.grams)
        blocks = (link.squares @ gram.reshape(len(gram), -1)).reshape(-1, k1, k1)  # before gram's new layout
        gram = batch_last(gram)
        x = self.params[side].cpu().numpy()
        base = x - a @ y
        # eta_e = sum over e's ratings of design row * standard normal: covariance G_e
        rows = self.rows_design[: self.n, :k1]
        z = torch.randn(self.n, generator=self.gen).to(rows.device)
        owner = self.user_of if side == "user" else self.movie_of
        eta = rows.new_zeros(len(x), k1).index_add_(0, owner[: self.n], rows * z[:, None]).cpu().numpy()
        g_rhs = alpha * (dtt - batched(gram, base)) + np.sqrt(alpha) * eta
        chol = np.linalg.cholesky(precision).astype(np.float32)
        rhs = at @ g_rhs + np.float32(np.sqrt(lam)) * (self.rng.standard_normal(y.shape, dtype=np.float32) @ chol.T)
        lam_p = (np.float32(lam) * precision).astype(np.float32)
        op = lambda v: alpha * (at @ batched(gram, a @ v)) + v @ lam_p  # noqa: E731
        inverse = batch_last(np.linalg.inv(alpha * blocks + lam_p).astype(np.float32))
        link.y = preconditioned_cg(op, rhs, y, self.c.cg_steps, lambda r: batched(inverse, r))
        self.params[side] = torch.as_tensor(base + a @ link.y, device=self.device)

    def sample_side(self, side: str, prior_mean_and_precision, draw: bool = True) -> float:
        """Draw every rated entity of ``side`` from its Gaussian conditional, group by group.

        One batched product of the augmented rows [design, target] gives D'D, D't and t't at
        once; posterior precision P = prior + noise D'D, and with P = L L' and z standard normal,
        L^-T (L^-1 rhs + z) is a draw, L^-T z its deviation from the conditional mean (z = 0 when
        not ``draw``: the conditional mean itself). Returns the residual sum of squares after the draw.
        """
        prior_mean, precision = prior_mean_and_precision
        k1 = self.k1
        lam = torch.as_tensor(precision, dtype=torch.float32, device=self.device)
        alpha = self.noise
        rows_design = self.rows_design = self.terms(side)
        params = self.params[side]
        keep = side in self.shifted  # shift_link needs each entity's G and D't
        if keep:
            self.grams = (params.new_zeros(len(params), k1, k1), params.new_zeros(len(params), k1))
        sse = 0.0
        for rows, blocks in self.groups[side]:
            augs = (gather(rows_design, block.partners) for block in blocks)  # each (B, L, k+2)
            gram = torch.cat([torch.bmm(aug.transpose(1, 2), aug) for aug in augs])
            dtd, dtt, ttt = gram[:, :k1, :k1], gram[:, :k1, k1:], gram[:, k1, k1]
            rhs = (prior_mean[rows] @ lam).unsqueeze(2) + alpha * dtt
            z = torch.randn(rhs.shape, generator=self.gen).to(rhs.device) if draw else torch.zeros_like(rhs)
            chol, info = torch.linalg.cholesky_ex(lam + alpha * dtd)
            if bool(info.any()):
                raise ModelError("bayesfm posterior precision is not positive definite (numerical breakdown)")
            half = torch.linalg.solve_triangular(chol, rhs, upper=False)
            x = torch.linalg.solve_triangular(chol.transpose(1, 2), half + z, upper=True)
            params[rows] = x.squeeze(2)
            self.deviation[side][rows] = torch.linalg.solve_triangular(chol.transpose(1, 2), z, upper=True).squeeze(2)
            if keep:
                self.grams[0][rows], self.grams[1][rows] = dtd, dtt.squeeze(2)
            # |t - D x|^2 = t't - 2 x'D't + x'D'D x, per entity
            each = ttt - 2 * (x * dtt).sum((1, 2)) + (x * torch.bmm(dtd, x)).sum((1, 2))
            if side == "user":
                self.user_sse[rows.cpu().numpy()] = each.cpu().numpy()
            sse += float(each.sum())
        return sse

    def sample_user_weights(self) -> None:
        """Each user's noise weight given their residuals: Gamma(a + n_u/2, a + noise * sse_u/2)
        with a = user_noise (prior mean 1); then the rows' scales for the next draws."""
        a, counts = self.c.user_noise, self.user_counts
        sse = self.user_sse / self.user_weight  # the residuals, unweighted
        self.user_weight = self.rng.gamma(a + counts / 2, 1.0 / (a + self.noise * sse / 2)).astype(np.float32)
        scale = np.append(np.sqrt(self.user_weight)[self.train.users], 0)
        self.row_scale = torch.as_tensor(scale, dtype=torch.float32, device=self.device)[:, None]

    def terms(self, side: str) -> torch.Tensor:
        """Per rating (plus a zero padding row): [design row, target] (n+1, k+2) of ``side``'s
        conditional, where rating - offset = design . [bias, factors] of the side's entity."""
        def table(name: str, rows: torch.Tensor) -> torch.Tensor | None:
            if name == side or (name == "day" and not self.n_days):
                return None  # not needed, or no day term
            return gather(torch.cat([self.params[name], self.params[name].new_zeros(1, self.k1)]), rows)

        u, m, d = table("user", self.user_of), table("movie", self.movie_of), table("day", self.day_of)
        if side == "movie":
            factors = u[:, 1:] if d is None else u[:, 1:] + d[:, 1:]
            offset = u[:, 0] if d is None else u[:, 0] + d[:, 0]
            out = torch.cat([self.valid, factors, (self.values - offset)[:, None]], 1)
        else:
            other = d if side == "user" else u
            offset = m[:, 0]
            if other is not None:
                offset = offset + other[:, 0] + (other[:, 1:] * m[:, 1:]).sum(1)
            out = torch.cat([self.valid, m[:, 1:], (self.values - offset)[:, None]], 1)
        return out if self.row_scale is None else out * self.row_scale

    def conditional_means(self, side: str) -> np.ndarray:
        """The side's last draws less their deviations: each entity's mean given everything else
        at its draw (shifted with its draw by ``shift_link``). Kept samples store these rather than
        the draws (Rao-Blackwellization): the same expectation with less Monte Carlo noise, so a
        short chain predicts as well as a long one did (24 sweeps: validation RMSE 0.834 -> 0.828)."""
        return (self.params[side] - self.deviation[side]).cpu().numpy()

    # -- the chain -------------------------------------------------------------------------
    def run(self, callback: Callback | None, stop: threading.Event) -> _Kept:
        """Sweep until ``epochs`` or ``stop``; the kept samples (at least the current state).

        Burn-in sweeps set entities to their conditional means instead of drawing them: from
        the SVD start, draws wander ~10 sweeps before their predictions settle, these ALS
        steps take 2 (validation RMSE after 16 sweeps 0.819 -> 0.810)."""
        total = self.c.epochs
        burn_in = min(self.c.burn_in, total // 2)
        self.kept = kept = _Kept(self)
        for sweep in range(1, total + 1):
            if stop.is_set():
                break
            loss = self.sweep(draw=sweep > burn_in)
            check_finite(loss, BayesFM.name, sweep)
            if sweep > burn_in:
                kept.add()
            if callback is not None:
                callback(TrainingEvent(sweep, total, loss, metric="train_mse"))
        if not kept.count:  # stopped during burn-in: the current sample is all there is
            kept.add()
        return kept


class _Link:
    """An implicit set A (entities x partners, rows scaled 1/sqrt(size)) and its link Y (partners x
    k+1) with scale l: the entities' prior mean is A Y. Small sets (at most ``exact`` entities or
    partners) keep the eigendecomposition of their small Gram matrix, AA' or A'A, so that
    (A'A + l I)^-1 costs two thin products for any l: an exact draw where CG would be approximate."""

    def __init__(self, a: sp.csr_matrix, k1: int, exact: int):
        at = a.T.tocsr()
        self.a, self.at = _Sparse(a), _Sparse(at)
        self.squares = _Sparse(a.multiply(a).T.tocsr())  # (A*A)': the CG preconditioner's weights
        self.y, self.lam = np.zeros((a.shape[1], k1), np.float32), 1.0
        self.basis = None
        self.wide = a.shape[0] <= a.shape[1]  # fewer entities than partners: AA' is the small one
        if min(a.shape) <= exact:
            small = (a @ at) if self.wide else (at @ a)
            w, q = np.linalg.eigh(small.toarray().astype(np.float64))
            self.basis = (np.maximum(w, 0), q.astype(np.float32))

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """(A'A + l I)^-1 rhs; wide: Woodbury, (rhs - A' (AA' + l I)^-1 A rhs) / l."""
        w, q = self.basis
        scale = (1.0 / (w + self.lam)).astype(np.float32)[:, None]
        if not self.wide:
            return q @ (scale * (q.T @ rhs))
        return (rhs - self.at @ (q @ (scale * (q.T @ (self.a @ rhs))))) / np.float32(self.lam)


class _Sparse:
    """A CSR matrix whose products with float32 NumPy matrices run on torch's CSR kernel (half
    scipy's time on one thread, the CG steps' main cost)."""

    def __init__(self, m: sp.csr_matrix):
        self.shape = m.shape
        with warnings.catch_warnings():  # "sparse CSR support is in beta": the product is stable
            warnings.simplefilter("ignore")
            parts = (torch.from_numpy(m.indptr), torch.from_numpy(m.indices), torch.from_numpy(m.data.astype(np.float32)))
            self.t = torch.sparse_csr_tensor(*parts, m.shape, check_invariants=False)

    def __matmul__(self, dense: np.ndarray) -> np.ndarray:
        return (self.t @ torch.from_numpy(np.ascontiguousarray(dense, dtype=np.float32))).numpy()


def batch_last(matrices: np.ndarray) -> np.ndarray:
    """(n, k, k) -> (k, k, n), the layout ``batched`` wants."""
    return np.ascontiguousarray(matrices.transpose(1, 2, 0))


def batched(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Row i: matrices[:, :, i] @ vectors[i]. With the batch last, each of the k*k terms is one
    contiguous multiply-add over all n: 4x faster than matmul's n tiny products."""
    return np.einsum("ijn,jn->in", matrices, np.ascontiguousarray(vectors.T)).T


class _Kept:
    """Running sums of the kept samples, plus their interaction factors for compression."""

    def __init__(self, sampler: _Sampler):
        self.s = sampler
        self.count = 0
        self.sums: dict[str, np.ndarray] = {}
        self.sides: list[np.ndarray] = []  # per sample: [users; days; today] factors
        self.movies: list[np.ndarray] = []
        self.own: tuple[dict, int] | None = None  # this chain's sums and count, once others are pooled in

    def add(self) -> None:
        s = self.s
        k1 = s.k1
        u, m = s.conditional_means("user"), s.conditional_means("movie")
        d = s.conditional_means("day")[: s.n_days]
        mu_d = s.hyper["day"][0].astype(np.float32) if s.n_days else np.zeros(k1, np.float32)
        d = np.vstack([d, mu_d[None]])  # the last row: an unseen day (its prior mean)
        mu_u, lam_u = s.hyper["user"]
        current = {
            "user": u, "movie": m, "day": d,
            "implicit": s.implicit["user"].y if "user" in s.implicit else np.zeros((m.shape[0], k1), np.float32),
            "mu_u": mu_u.astype(np.float32), "lam_u": lam_u.astype(np.float32), "noise": np.float32(s.noise),
        }
        for key, value in current.items():
            self.sums[key] = self.sums.get(key, 0) + value
        self.count += 1
        if s.c.serve_rank:
            self.sides.append(np.vstack([u[:, 1:], d[:, 1:]]))
            self.movies.append(m[:, 1:])

    def merge(self, other: _Kept) -> None:
        """Pool another chain's kept samples into these (this chain's own sums are kept too)."""
        if self.own is None:
            self.own = (dict(self.sums), self.count)
        for key, value in other.sums.items():
            self.sums[key] = self.sums[key] + value
        self.count += other.count
        self.sides += other.sides
        self.movies += other.movies

    def summarize(self, model: BayesFM) -> None:
        """Biases, noise and the compressed interactions from every chain's samples; factors (fold-in,
        embeddings) from the first chain's alone: chains drift apart by rotations, and averaging
        rotated factors blurs them (fold-in RMSE on ml-latest-small 0.8315 -> 0.8339 pooled)."""
        model.mean, model.day_keys = self.s.mean, self.s.day_keys
        mean = {k: (v / self.count).astype(np.float32) for k, v in self.sums.items()}
        sums, count = self.own or (self.sums, self.count)
        own = {k: (v / count).astype(np.float32) for k, v in sums.items()}
        n_users = mean["user"].shape[0]
        model.user_bias, model.movie_bias, model.day_bias = mean["user"][:, 0], mean["movie"][:, 0], mean["day"][:, 0]
        model.noise_precision = mean["noise"]
        model.movie_factors = np.ascontiguousarray(own["movie"][:, 1:])
        model.implicit_factors = own["implicit"]
        model.user_prior_mean, model.user_prior_precision = own["mu_u"], own["lam_u"]
        if self.movies:
            side, movie = compress(self.sides, self.movies, self.s.c.serve_rank, self.s.rng)
        else:  # the first chain's posterior means' product
            side, movie = np.vstack([own["user"][:, 1:], own["day"][:, 1:]]), model.movie_factors
        model.user_vectors = np.ascontiguousarray(side[:n_users])
        model.day_vectors = np.ascontiguousarray(side[n_users:])
        model.movie_vectors = np.ascontiguousarray(movie)


def compress(sides: list[np.ndarray], movies: list[np.ndarray], rank: int, rng: np.random.Generator):
    """Factors (a, b) with a @ b.T ~= mean_s sides[s] @ movies[s].T, of ``rank`` columns: a
    randomized range finder with two power iterations over the samples' products."""
    s = len(sides)
    left = np.hstack(sides) / np.float32(np.sqrt(s))  # one dot product = the average over samples
    right = np.hstack(movies) / np.float32(np.sqrt(s))
    if left.shape[1] <= rank:
        return left, right
    q = np.linalg.qr(left @ (right.T @ rng.standard_normal((right.shape[0], rank)).astype(np.float32)))[0]
    for _ in range(2):  # power iterations: q spans the top singular vectors of left @ right.T
        w = np.linalg.qr(right @ (left.T @ q))[0]
        q = np.linalg.qr(left @ (right.T @ w))[0]
    return q.astype(np.float32), (right @ (left.T @ q)).astype(np.float32)


def conjugate_gradient(op, rhs: np.ndarray, x: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` of CG on op(x) = rhs, each column its own system, warm-started at ``x``."""
    r = rhs - op(x)
    p = r.copy()
    rr = np.einsum("ij,ij->j", r, r)
    for _ in range(steps):
        ap = op(p)
        alpha = rr / np.maximum(np.einsum("ij,ij->j", p, ap), 1e-30)
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = np.einsum("ij,ij->j", r, r)
        p = r + (rr_new / np.maximum(rr, 1e-30)) * p
        rr = rr_new
    return x.astype(np.float32)


def preconditioned_cg(op, rhs: np.ndarray, x: np.ndarray, steps: int, precond) -> np.ndarray:
    """``steps`` of preconditioned CG on op(x) = rhs over the whole matrix ``x``, warm-started."""
    r = rhs - op(x)
    zr = precond(r)
    p = zr.copy()
    rz = float((r * zr).sum())
    for _ in range(steps):
        ap = op(p)
        alpha = rz / max(float((p * ap).sum()), 1e-30)
        x = x + alpha * p
        r = r - alpha * ap
        zr = precond(r)
        rz_new = float((r * zr).sum())
        p = zr + (rz_new / max(rz, 1e-30)) * p
        rz = rz_new
    return x.astype(np.float32)
