"""Bayesian matrix factorization with biases, by Gibbs sampling (BPMF, Salakhutdinov & Mnih 2008).

rating ~ N(mean + user bias + movie bias + user factors . movie factors, 1 / noise precision)

Instead of one regularized fit, the sampler draws many plausible factorizations and the
prediction is their average. Each user's [bias, factors] has a Gaussian prior whose mean
and precision are themselves sampled (Normal-Wishart), likewise for movies, and the noise
precision has a Gamma prior: nothing to tune but the number of factors and samples. On
MovieLens this beats tuned SGD/ALS factorization (Rendle et al. 2019, "On the difficulty of
evaluating baselines"), because a sparse user's uncertain factors are averaged out rather
than committed to.

Every conditional is Gaussian, so a sweep is ALS with a sample instead of a solve: the same
padded rating blocks as ``mf`` (bounded memory), one batched Cholesky per block.
The kept samples are stored, so scores stay an exact average: concatenating the samples'
factors turns the average of dot products into one dot product.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from scipy.stats import wishart

from ..data.dataset import Dataset
from ..errors import ModelError
from .base import Callback, RatingModel, TrainingEvent, check_finite, resolve_device
from .baselines import damped_biases
from .mf import BiasedMF, Block, biased_predict, biased_scores, block_system, design_table, rating_blocks


def sample_side(
    blocks: list[Block],
    params: torch.Tensor,
    partner_params: torch.Tensor,
    prior_mean: torch.Tensor,
    prior_precision: torch.Tensor,
    noise_precision: float,
    gen: torch.Generator,
) -> float:
    """Draw ``params[rows]`` from their Gaussian conditional for every block; returns the SSE.

    Posterior precision P = prior precision + noise precision * D'D, mean P^-1 (prior term +
    noise precision * D't); with P = L L' and z standard normal, mean + L^-T z is a draw.
    """
    table = design_table(partner_params)
    prior_term = prior_precision @ prior_mean
    sse = 0.0
    for block in blocks:
        system = block_system(table, block)
        d, target = system[..., :-1], system[..., -1]
        dt = d.transpose(1, 2)
        precision = prior_precision + noise_precision * torch.bmm(dt, d)
        rhs = prior_term + noise_precision * torch.bmm(dt, target.unsqueeze(2)).squeeze(2)
        chol, info = torch.linalg.cholesky_ex(precision)
        if bool(info.any()):
            raise ModelError("Bayesian MF posterior precision is not positive definite (numerical breakdown)")
        # x = L^-T (L^-1 rhs + z): mean P^-1 rhs, covariance L^-T L^-1 = P^-1; two triangular solves.
        z = torch.randn(rhs.shape, generator=gen).to(rhs.device)
        half = torch.linalg.solve_triangular(chol, rhs.unsqueeze(2), upper=False)
        x = torch.linalg.solve_triangular(chol.transpose(1, 2), half + z.unsqueeze(2), upper=True).squeeze(2)
        params[block.rows] = x
        resid = target - (d * x[:, None, :]).sum(2)
        sse += float((resid * resid).sum())
    return sse


def sample_prior(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw (mean, precision) of the entities' Gaussian prior given their vectors ``x`` (n, d),
    from the Normal-Wishart conditional with BPMF's vague hyperprior (mean 0, beta 2, W = I, nu = d)."""
    n, dim = x.shape
    beta0, nu0 = 2.0, dim
    xbar = x.mean(0)
    centered = x - xbar
    scatter = centered.T @ centered
    beta, nu = beta0 + n, nu0 + n
    w_inv = np.eye(dim) + scatter + (beta0 * n / beta) * np.outer(xbar, xbar)
    w = np.linalg.inv(w_inv)
    precision = wishart(df=nu, scale=(w + w.T) / 2).rvs(random_state=rng)
    precision = np.atleast_2d(precision)
    cov = np.linalg.inv(beta * precision)
    mean = rng.multivariate_normal(n * xbar / beta, (cov + cov.T) / 2)
    return mean, precision


@dataclass(frozen=True)
class BayesianMFConfig:
    factors: int = 32
    epochs: int = 200  # Gibbs sweeps in all (one sweep samples users, then movies)
    burn_in: int = 30  # first sweeps discarded (at most half of epochs) while the chain forgets its start
    thin: int = 2  # keep every thin-th sweep after burn-in; each kept sample is stored (memory)
    init_epochs: int = 0  # ALS sweeps (mf) for the chain's starting point; 0: biases + random factors
    init_scale: float = 0.1  # std of the random initial factors
    block_size: int = 1 << 20  # ratings per padded block: bounds memory on large datasets
    device: str = "auto"
    seed: int = 42


class BayesianMF(RatingModel):
    """Bayesian biased MF by Gibbs sampling; predictions average the kept samples.

    Fallbacks: unknown user (row -1) -> mean + movie bias; unknown movie -> mean + user bias;
    both -> mean (biases are sample averages). A movie with no training ratings has zero
    bias and zero factors.
    """

    name = "bayesmf"
    Config = BayesianMFConfig
    state_attrs = (
        "mean",
        "user_bias",
        "movie_bias",
        "user_samples",
        "movie_samples",
        "movie_bias_samples",
        "user_prior_mean",
        "user_prior_precision",
        "noise_precision",
    )

    bounds = ((">= 1", ("factors", "epochs", "thin")), (">= 0", ("burn_in",)))

    def _fit(self, train: Dataset, callback: Callback | None) -> None:
        c = self.config
        device = resolve_device(c.device)
        rng = np.random.default_rng(c.seed)
        gen = torch.Generator().manual_seed(c.seed)
        k = c.factors

        users, movies = self._init(train, gen)
        users, movies = users.to(device), movies.to(device)
        values = train.ratings - self.mean
        by_user = rating_blocks(train.users, train.movies, values, self.n_users, self.n_movies, device, c.block_size)
        by_movie = rating_blocks(train.movies, train.users, values, self.n_movies, self.n_users, device, c.block_size)
        rated_users = torch.as_tensor(np.flatnonzero(train.user_counts() > 0), device=device)
        rated_movies = torch.as_tensor(np.flatnonzero(train.movie_counts() > 0), device=device)

        kept: list[tuple[np.ndarray, ...]] = []
        total = c.epochs
        burn_in = min(c.burn_in, total // 2)
        noise_precision = 2.0  # BPMF's fixed value; resampled from the residuals every sweep
        user_mu, user_lam = np.zeros(k + 1), np.eye(k + 1)
        with self._stoppable():
            for sweep in range(1, total + 1):
                user_mu, user_lam = sample_prior(users[rated_users].double().cpu().numpy(), rng)
                movie_mu, movie_lam = sample_prior(movies[rated_movies].double().cpu().numpy(), rng)
                as_t = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
                sample_side(by_user, users, movies, as_t(user_mu), as_t(user_lam), noise_precision, gen)
                sse = sample_side(by_movie, movies, users, as_t(movie_mu), as_t(movie_lam), noise_precision, gen)
                loss = sse / train.n_ratings
                check_finite(loss, self.name, sweep)
                # Gamma(1 + n/2, rate 1 + SSE/2): the noise precision given the residuals.
                noise_precision = float(rng.gamma(1.0 + train.n_ratings / 2, 1.0 / (1.0 + sse / 2)))
                if sweep > burn_in and (total - sweep) % c.thin == 0:
                    kept.append(self._snapshot(users, movies, rated_users, rated_movies, user_mu, user_lam, noise_precision))
                if callback is not None:
                    callback(TrainingEvent(sweep, total, loss, metric="train_mse"))
        if not kept:  # interrupted during burn-in: the current sample is all there is
            kept.append(self._snapshot(users, movies, rated_users, rated_movies, user_mu, user_lam, noise_precision))
        self._average(kept)

    def _init(self, train: Dataset, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Start the chain from a short ALS fit (a point estimate), so burn-in can be short;
        with ``init_epochs=0``, from damped biases and small random factors."""
        c = self.config
        if c.init_epochs > 0:
            start = BiasedMF(
                factors=c.factors, epochs=c.init_epochs, validation=0.0, init_scale=c.init_scale,
                block_size=c.block_size, device=c.device, seed=c.seed,
            ).fit(train)
            self.mean = start.mean
            user_bias, movie_bias = start.user_bias, start.movie_bias
            user_factors, movie_factors = torch.from_numpy(start.user_factors), torch.from_numpy(start.movie_factors)
        else:
            mean, user_bias, movie_bias = damped_biases(
                train.users, train.movies, train.ratings, self.n_users, self.n_movies, 5.0, 5.0
            )
            self.mean = np.asarray(mean, dtype=np.float32)
            user_factors = torch.randn(self.n_users, c.factors, generator=gen) * c.init_scale
            movie_factors = torch.randn(self.n_movies, c.factors, generator=gen) * c.init_scale
        users = torch.cat([torch.from_numpy(user_bias)[:, None], user_factors], 1)
        movies = torch.cat([torch.from_numpy(movie_bias)[:, None], movie_factors], 1)
        return users, movies

    def _snapshot(self, users, movies, rated_users, rated_movies, user_mu, user_lam, noise_precision):
        """One kept sample as numpy; entities without ratings get zeros (the fallback), not prior draws."""
        u = torch.zeros_like(users)
        m = torch.zeros_like(movies)
        u[rated_users] = users[rated_users]
        m[rated_movies] = movies[rated_movies]
        u, m = u.cpu().numpy(), m.cpu().numpy()
        return u, m, user_mu.astype(np.float32), user_lam.astype(np.float32), np.float32(noise_precision)

    def _average(self, kept: list[tuple[np.ndarray, ...]]) -> None:
        u = np.stack([s[0] for s in kept])
        m = np.stack([s[1] for s in kept])
        self.user_bias = u[:, :, 0].mean(0)
        self.movie_bias = m[:, :, 0].mean(0)
        self.movie_bias_samples = np.ascontiguousarray(m[:, :, 0])
        self.user_samples = np.ascontiguousarray(u[:, :, 1:])
        self.movie_samples = np.ascontiguousarray(m[:, :, 1:])
        self.user_prior_mean = np.stack([s[2] for s in kept])
        self.user_prior_precision = np.stack([s[3] for s in kept])
        self.noise_precision = np.array([s[4] for s in kept], dtype=np.float32)

    @cached_property
    def _concatenated(self) -> tuple[np.ndarray, np.ndarray]:
        """Samples side by side, (n, S*k), scaled so one dot product is the average over samples."""
        s = self.user_samples.shape[0]
        scale = np.float32(1 / np.sqrt(s))
        cat = lambda a: np.ascontiguousarray(a.transpose(1, 0, 2).reshape(a.shape[1], -1)) * scale  # noqa: E731
        return cat(self.user_samples), cat(self.movie_samples)

    # -- scoring -------------------------------------------------------------------------
    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return biased_predict(self, *self._concatenated, users, movies)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return biased_scores(self, *self._concatenated, users)

    def _fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """Posterior mean of the new user's [bias, factors] under each kept sample's movie
        parameters, user prior and noise; the scores average over samples. No ratings: the
        documented fallback (mean + movie bias), as ``predict`` gives an unknown user."""
        if movies.size == 0:
            return (self.mean + self.movie_bias).astype(np.float32)
        centered = ratings - self.mean
        s = self.movie_samples.shape[0]
        # float32 throughout: a float64 vector would upcast a copy of every sample's movie factors (5x slower).
        d = np.concatenate([np.ones((s, movies.size, 1), np.float32), self.movie_samples[:, movies]], 2)
        t = centered[None, :] - self.movie_bias_samples[:, movies]
        alpha = self.noise_precision[:, None, None]
        lam = self.user_prior_precision
        precision = lam + alpha * np.matmul(d.transpose(0, 2, 1), d)
        rhs = np.einsum("sij,sj->si", lam, self.user_prior_mean) + alpha[:, :, 0] * np.einsum("sni,sn->si", d, t)
        x = np.linalg.solve(precision, rhs[:, :, None])[:, :, 0].astype(np.float32)  # (S, k+1)
        scores = self.movie_bias_samples + x[:, :1] + np.einsum("smk,sk->sm", self.movie_samples, x[:, 1:])
        return (self.mean + scores.mean(0)).astype(np.float32)

    def movie_embeddings(self) -> np.ndarray:
        """The kept samples' movie factors side by side: their dot products average over samples."""
        self._check_fitted()
        return self._concatenated[1]
