"""The notebook's model, kept faithfully as the reference point every other model is measured from.

rating ~ user factors . movie factors: no biases, no regularization, 8 factors initialized
uniform(0, 0.05), Adam (lr 1e-3) on mean squared error, batches of 128, 120 epochs,
reshuffled every epoch. It overfits (held-out RMSE ~1.1 on ml-latest-small after 120
epochs, worse than the global mean); that is the point of showing it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..data.dataset import Dataset
from ..errors import ModelError
from .base import Callback, RatingModel, TrainingEvent, check_finite, known_rows, resolve_device


class DotProduct(nn.Module):
    """User and movie embeddings whose dot product is the predicted rating."""

    def __init__(self, n_users: int, n_movies: int, factors: int, init_high: float, gen: torch.Generator):
        super().__init__()
        self.users = nn.Embedding(n_users, factors)
        self.movies = nn.Embedding(n_movies, factors)
        nn.init.uniform_(self.users.weight, 0.0, init_high, generator=gen)
        nn.init.uniform_(self.movies.weight, 0.0, init_high, generator=gen)

    def forward(self, users: torch.Tensor, movies: torch.Tensor) -> torch.Tensor:
        return (self.users(users) * self.movies(movies)).sum(1)


@dataclass(frozen=True)
class SeedMFConfig:
    factors: int = 8
    epochs: int = 120
    lr: float = 1e-3
    batch_size: int = 128
    init_high: float = 0.05  # factors start uniform in [0, init_high)
    fold_in_reg: float = 0.1  # ridge penalty when solving a new user's factors (not in training)
    device: str = "auto"
    seed: int = 42


class SeedMF(RatingModel):
    """The notebook's plain dot-product MF (see the module docstring).

    Fallbacks: an unknown user or movie (row -1) gets the training mean, since the model
    has no bias terms to fall back on.
    """

    name = "seed"
    Config = SeedMFConfig
    state_attrs = ("mean", "user_factors", "movie_factors")

    def fit(self, train: Dataset, callback: Callback | None = None) -> "SeedMF":
        c = self.config
        if c.factors < 1 or c.epochs < 1 or c.batch_size < 1 or not c.lr > 0:
            raise ValueError(
                f"factors, epochs and batch_size must be >= 1 and lr > 0, got factors={c.factors}, "
                f"epochs={c.epochs}, batch_size={c.batch_size}, lr={c.lr}"
            )
        if train.n_ratings == 0:
            raise ModelError("cannot train seed on a dataset without ratings")
        self.n_users, self.n_movies = train.n_users, train.n_movies
        self.interrupted = False
        self.mean = np.asarray(np.mean(train.ratings, dtype=np.float64), dtype=np.float32)
        device = resolve_device(c.device)
        gen = torch.Generator().manual_seed(c.seed)
        net = DotProduct(self.n_users, self.n_movies, c.factors, c.init_high, gen).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=c.lr)
        users = torch.as_tensor(train.users, dtype=torch.int64, device=device)
        movies = torch.as_tensor(train.movies, dtype=torch.int64, device=device)
        ratings = torch.as_tensor(train.ratings, device=device)
        n = train.n_ratings
        self._keep(net)
        try:
            for epoch in range(1, c.epochs + 1):
                order = torch.randperm(n, generator=gen).to(device)
                total = torch.zeros((), device=device)
                for start in range(0, n, c.batch_size):
                    batch = order[start : start + c.batch_size]
                    loss = nn.functional.mse_loss(net(users[batch], movies[batch]), ratings[batch])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += loss.detach() * batch.numel()
                epoch_loss = float(total) / n
                check_finite(epoch_loss, self.name, epoch)
                self._keep(net)
                if callback is not None:
                    callback(TrainingEvent(epoch, c.epochs, epoch_loss))
        except KeyboardInterrupt:
            self.interrupted = True  # the factors of the last finished epoch are kept
        return self

    def _keep(self, net: DotProduct) -> None:
        self.user_factors = net.users.weight.detach().cpu().numpy().copy()
        self.movie_factors = net.movies.weight.detach().cpu().numpy().copy()

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        self._check_fitted()
        known_u, u = known_rows(users, self.n_users)
        known_m, m = known_rows(movies, self.n_movies)
        known = known_u & known_m
        dot = np.einsum("ij,ij->i", self.user_factors[u], self.movie_factors[m])
        return np.where(known, dot, self.mean).astype(np.float32)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        self._check_fitted()
        known, u = known_rows(users, self.n_users)
        out = self.user_factors[u] @ self.movie_factors.T
        out[~known] = self.mean
        return out.astype(np.float32, copy=False)

    def fold_in(self, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """Least squares (with a small ridge) for the new user's factors against the movie factors."""
        self._check_fitted()
        q = self.movie_factors[np.asarray(movies, dtype=np.int64)].astype(np.float64)
        r = np.asarray(ratings, dtype=np.float64)
        x = np.linalg.solve(q.T @ q + self.config.fold_in_reg * np.eye(q.shape[1]), q.T @ r)
        return (self.movie_factors @ x).astype(np.float32)

    def movie_embeddings(self) -> np.ndarray:
        self._check_fitted()
        return self.movie_factors
