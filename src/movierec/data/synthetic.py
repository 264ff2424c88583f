"""MovieLens-shaped synthetic ratings with a planted low-rank taste and a known noise level.

``generate(...)`` returns a :class:`Synthetic`: the :class:`Dataset` plus the ground truth
that produced it, so tests can ask "does a good model get close to the noise floor?"

How the ratings are made (all vectorized, memory in chunks, deterministic under ``seed``):

* **Catalog.** ``n_movies`` movies with sparse MovieLens-like ids, release years skewed to
  recent decades, titles ``"Synthetic Movie 123 (1998)"`` and 1-3 of the 20 MovieLens genre
  labels (Drama and Comedy common, Film-Noir rare). A share ``unrated`` of the catalog is
  never rated, as in every real release.
* **Taste.** Each genre has a vector in ``R^rank``; a movie's vector ``q_i`` mixes its genres'
  vectors with a movie-specific part, and user vectors ``p_u`` (genre tastes) are Gaussian, so
  ``<p_u, q_i>`` has standard deviation about ``taste`` stars and movies of one genre lie close.
* **Who rates what.** User activity follows a Pareto law (capped at 40% of the catalog). Each
  candidate pair picks a genre by the user's taste for it (weight: genre size times
  ``exp(2 * selection * affinity)``), then a movie of that genre by a Zipf-Mandelbrot law over
  the movies' global popularity order. Unique pairs only, drawn in rounds; then ``selection``
  keeps the pairs users expect to like most (priority ``selection * (b_i + <p_u, q_i>) +
  Gumbel``), one random pair per user always kept. So ranking models that learn taste beat
  popularity, and at ml-latest-small's size the top 10% of movies hold about 60% of ratings.
* **Ratings.** ``r = clip(round_to_step(mu + b_u + b_i + <p_u, q_i> + e), step, 5)`` with
  ``e ~ N(0, noise^2)``.
* **Sequels** (``sequels=N``, off by default). N movies of the never-rated share become the
  sequels of N well-rated movies: same taste vector and bias, rated by a random
  ``SEQUEL_FANS`` of the original's raters and nobody else, as a franchise is. Drawn from
  a stream of their own after everything else, so data without sequels is unchanged.

The noise floor. Rounding to ``step`` adds error uniform on ``±step/2`` (variance
``step^2/12``), so an oracle that knows every parameter still has RMSE about
``sqrt(noise^2 + step^2/12)`` (0.52 for noise 0.5 and half stars); clipping at the scale ends
lowers it a little. :attr:`Synthetic.oracle_rmse` is that floor measured exactly on the
generated ratings: the RMSE of ``clip(true rating)`` against the observed stars. A model's
held-out RMSE can approach it but (up to sampling luck) not beat it.

Length: one generator; its steps (taste, popularity, catalog, planted sequels, noise) share
the same random streams, so they stay together to keep generated data reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataError
from ..eval.metrics import rmse
from .catalog import NO_GENRES, Catalog
from .dataset import Dataset
from .vocabulary import Vocabulary

# The 20 genre labels of MovieLens (ml-latest), with rough shares of movies carrying each.
GENRES: dict[str, float] = {
    "Drama": 0.45,
    "Comedy": 0.35,
    "Thriller": 0.17,
    "Action": 0.16,
    "Romance": 0.16,
    "Adventure": 0.12,
    "Crime": 0.11,
    "Sci-Fi": 0.08,
    "Horror": 0.10,
    "Fantasy": 0.07,
    "Children": 0.06,
    "Animation": 0.06,
    "Mystery": 0.06,
    "Documentary": 0.05,
    "War": 0.04,
    "Musical": 0.03,
    "Western": 0.02,
    "IMAX": 0.02,
    "Film-Noir": 0.01,
    NO_GENRES: 0.01,
}

_ZIPF, _ZIPF_OFFSET = 1.3, 5.0  # movie popularity within a genre: weight (rank + 5)^-1.3
_CHUNK = 1 << 22  # pairs per chunk when gathering factors: bounds temporary memory
SEQUEL_FANS = 0.6  # share of an original's raters who rate its planted sequel
_T0 = 820_454_400  # 1996-01-01, the first MovieLens ratings
_T1 = 1_704_067_200  # 2024-01-01


@dataclass(frozen=True, eq=False)
class Synthetic:
    """A generated dataset and the parameters that produced it.

    Truth arrays are indexed like the dataset: users by ``dataset.user_vocab`` rows, movies by
    ``dataset.movie_vocab`` rows (rated movies only).
    """

    dataset: Dataset
    noise: float  # standard deviation of the Gaussian noise, before rounding
    step: float  # rating granularity (0.5 = half stars)
    global_mean: float
    user_bias: np.ndarray  # float32 [n_users]
    movie_bias: np.ndarray  # float32 [n_movies]
    user_factors: np.ndarray  # float32 [n_users, rank]
    movie_factors: np.ndarray  # float32 [n_movies, rank]
    sequels: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))  # movie ids (original, sequel)

    def true_ratings(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """Noise-free, unrounded, unclipped ratings of user/movie row pairs (float32)."""
        return _true_ratings(
            self.global_mean, self.user_bias, self.movie_bias, self.user_factors, self.movie_factors,
            np.asarray(users), np.asarray(movies),
        )

    def expected_ratings(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """True ratings clipped to the rating scale: the oracle's predictions."""
        return np.clip(self.true_ratings(users, movies), *self.dataset.rating_scale)

    @property
    def oracle_rmse(self) -> float:
        """RMSE of the oracle on every generated rating: the floor a model can approach."""
        d = self.dataset
        return rmse(self.expected_ratings(d.users, d.movies), d.ratings)

    @property
    def approx_noise_rmse(self) -> float:
        """``sqrt(noise^2 + step^2/12)``: the floor before clipping, from noise and rounding."""
        return float(np.sqrt(self.noise**2 + self.step**2 / 12))


def generate(
    n_users: int = 600,
    n_movies: int = 3000,
    n_ratings: int = 60_000,
    rank: int = 8,
    noise: float = 0.5,
    seed: int = 0,
    *,
    taste: float = 0.7,
    selection: float = 1.0,
    unrated: float = 0.05,
    step: float = 0.5,
    sequels: int = 0,
    name: str = "synthetic",
) -> Synthetic:
    """Generate ``n_ratings`` unique ratings by ``n_users`` users of a ``n_movies``-movie catalog.

    ``rank``: dimensions of the planted taste. ``noise``: standard deviation of the rating noise
    (see the module docstring for the RMSE floor it implies). ``taste``: standard deviation of
    the taste term ``<p_u, q_i>`` in stars. ``selection``: how strongly users pick movies they
    like (0: only popularity). ``unrated``: share of the catalog nobody rates. ``step``: 0.5 for
    half stars on 0.5-5, 1.0 for whole stars on 1-5. ``sequels``: planted (original, sequel)
    pairs, returned in ``Synthetic.sequels``.

    Example: ``data = generate(n_users=200, n_movies=500, n_ratings=10_000).dataset``
    """
    _check_sizes(n_users, n_movies, n_ratings, rank, noise, taste, selection, unrated, step)
    rng = np.random.default_rng(seed)
    catalog, genre_of = _catalog(rng, n_movies)
    n_genres = genre_of.shape[1]

    # Planted taste: genre vectors, movie vectors near their genres, Gaussian user tastes.
    genre_vectors = rng.standard_normal((n_genres, rank), dtype=np.float32)
    mix = genre_of / genre_of.sum(axis=1, keepdims=True)
    movie_factors = (
        0.8 * (mix @ genre_vectors) / np.sqrt(np.square(mix).sum(axis=1, keepdims=True))
        + 0.6 * rng.standard_normal((n_movies, rank), dtype=np.float32)
    ) / np.sqrt(rank)
    user_factors = taste * rng.standard_normal((n_users, rank), dtype=np.float32)

    # Power laws: Pareto user activity (capped so a user rates at most 40% of the catalog) and
    # Zipf-Mandelbrot popularity, weight (rank + 5)^-1, over a random order of the rateable movies.
    rateable = np.ones(n_movies, dtype=bool)
    rateable[rng.choice(n_movies, int(unrated * n_movies), replace=False)] = False
    by_rank = rng.permutation(np.flatnonzero(rateable))
    activity = _capped(rng.pareto(1.2, n_users) + 1.0, n_ratings, 0.4 * by_rank.size)

    log_rank = np.zeros(n_movies)
    log_rank[by_rank] = np.log(np.arange(by_rank.size) + 5.0)
    popular = (log_rank[rateable].mean() - log_rank) / log_rank[rateable].std()
    movie_bias = (0.35 * rng.standard_normal(n_movies) + 0.15 * popular).astype(np.float32)
    user_bias = (0.35 * rng.standard_normal(n_users)).astype(np.float32)
    global_mean = 2.8

    # Users watch the genres they like: a genre's affinity is the taste term of a pure movie of it.
    affinity = 0.8 * (user_factors @ genre_vectors.T) / np.sqrt(rank)
    proposal = _Proposal(by_rank, genre_of, affinity, selection)
    keys = _candidates(rng, n_ratings, activity, proposal, want=1.25 if selection > 0 else 1.0)
    users = (keys // n_movies).astype(np.int32)
    movies = (keys % n_movies).astype(np.int32)
    del keys
    keep = _select(rng, users, movies, n_ratings, n_users, selection, movie_bias, user_factors, movie_factors)
    users, movies = users[keep], movies[keep]
    del keep

    truth = _true_ratings(global_mean, user_bias, movie_bias, user_factors, movie_factors, users, movies)
    lo, hi = step, 5.0
    truth += rng.standard_normal(truth.size, dtype=np.float32) * np.float32(noise)
    ratings = np.clip(np.round(truth / step) * step, lo, hi).astype(np.float32)
    del truth

    # Each user is active over a stretch of years; ratings fall uniformly inside it.
    span = np.minimum(rng.exponential(2 * 365 * 86400, n_users), _T1 - _T0 - 1)
    start = _T0 + rng.random(n_users) * (_T1 - _T0 - span)
    timestamps = (start[users] + rng.random(users.size, dtype=np.float32) * span[users]).astype(np.int64)

    pairs = np.zeros((0, 2), np.int64)
    if sequels:
        plant = np.random.default_rng((seed, 1))
        pairs = _plant_sequels(plant, int(sequels), movies, rateable)
        movie_factors[pairs[:, 1]] = movie_factors[pairs[:, 0]]
        movie_bias[pairs[:, 1]] = movie_bias[pairs[:, 0]]
        fans = [users[movies == original] for original in pairs[:, 0]]  # a loop over the few planted pairs
        fans = [f[np.sort(plant.choice(f.size, max(1, round(SEQUEL_FANS * f.size)), replace=False))] for f in fans]
        new_users = np.concatenate(fans).astype(np.int32)
        new_movies = np.repeat(pairs[:, 1], [f.size for f in fans]).astype(np.int32)
        extra = np.random.default_rng((seed, 2))
        truth = _true_ratings(global_mean, user_bias, movie_bias, user_factors, movie_factors, new_users, new_movies)
        truth += extra.standard_normal(truth.size, dtype=np.float32) * np.float32(noise)
        new_times = (start[new_users] + extra.random(new_users.size) * span[new_users]).astype(np.int64)
        users, movies = np.concatenate((users, new_users)), np.concatenate((movies, new_movies))
        ratings = np.concatenate((ratings, np.clip(np.round(truth / step) * step, lo, hi).astype(np.float32)))
        timestamps = np.concatenate((timestamps, new_times))

    # Vocabularies: every user rated something; the movie vocabulary holds the rated movies.
    user_vocab = Vocabulary(np.arange(1, n_users + 1, dtype=np.int64), "user")
    rated = np.flatnonzero(np.bincount(movies, minlength=n_movies) > 0)
    row_of = np.full(n_movies, -1, dtype=np.int32)
    row_of[rated] = np.arange(rated.size, dtype=np.int32)
    dataset = Dataset(
        users=users,
        movies=row_of[movies],
        ratings=ratings,
        timestamps=timestamps,
        user_vocab=user_vocab,
        movie_vocab=Vocabulary(catalog.movie_ids[rated], "movie"),
        catalog=catalog,
        name=name,
        rating_scale=(lo, hi),
        source=f"synthetic(seed={seed})",
    )
    return Synthetic(
        dataset=dataset,
        noise=float(noise),
        step=float(step),
        global_mean=global_mean,
        user_bias=user_bias,
        movie_bias=movie_bias[rated],
        user_factors=user_factors,
        movie_factors=movie_factors[rated].astype(np.float32),
        sequels=catalog.movie_ids[pairs].astype(np.int64).reshape(-1, 2),
    )


def _plant_sequels(rng, n: int, movies: np.ndarray, rateable: np.ndarray) -> np.ndarray:
    """(original, sequel) movie positions: originals among the best-rated third with at least 10
    raters, sequels among the movies nobody rated."""
    counts = np.bincount(movies, minlength=rateable.size)
    spare = np.flatnonzero(~rateable)
    candidates = np.flatnonzero(counts >= max(10, np.quantile(counts[counts > 0], 2 / 3)))
    if n > min(spare.size, candidates.size):
        raise ValueError(
            f"sequels={n} needs as many never-rated movies and well-rated originals; this catalog has "
            f"{spare.size} and {candidates.size}: raise n_movies or unrated"
        )
    return np.stack([rng.choice(candidates, n, replace=False), rng.choice(spare, n, replace=False)], axis=1)



def _check_sizes(n_users, n_movies, n_ratings, rank, noise, taste, selection, unrated, step) -> None:
    for label, value in (("n_users", n_users), ("n_movies", n_movies), ("n_ratings", n_ratings), ("rank", rank)):
        if int(value) != value or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")
    if n_ratings < n_users:
        raise ValueError(f"n_ratings={n_ratings} must be >= n_users={n_users}: every user rates at least one movie")
    rateable = n_movies - int(unrated * n_movies)
    if n_ratings > 0.2 * n_users * rateable:
        raise ValueError(
            f"n_ratings={n_ratings:,} is too dense for {n_users:,} users x {rateable:,} rateable movies "
            f"(at most 20% of the pairs, {int(0.2 * n_users * rateable):,}); add users or movies"
        )
    if noise < 0 or taste < 0 or selection < 0:
        raise ValueError(f"noise, taste and selection must be >= 0, got {noise}, {taste}, {selection}")
    if not 0 <= unrated < 1:
        raise ValueError(f"unrated must be in [0, 1), got {unrated}")
    if step not in (0.5, 1.0):
        raise ValueError(f"step must be 0.5 (half stars) or 1.0 (whole stars), got {step}")


def _catalog(rng: np.random.Generator, n_movies: int) -> tuple[Catalog, np.ndarray]:
    """The catalog and its float32 movies x genres indicator in ``GENRES`` order."""
    names = list(GENRES)
    shares = np.array(list(GENRES.values()))
    n_genres = rng.choice([1, 2, 3], n_movies, p=[0.45, 0.35, 0.2])
    # Gumbel top-k: each movie's genres drawn without replacement in proportion to the shares.
    keys = np.log(shares) + rng.gumbel(size=(n_movies, len(names)))
    keys[:, -1] = -np.inf  # "(no genres listed)" only alone, below
    order = np.argsort(-keys, axis=1)
    flags = np.zeros((n_movies, len(names)), dtype=bool)
    picked = np.arange(len(names)) < n_genres[:, None]
    np.put_along_axis(flags, order, picked, axis=1)
    bare = rng.random(n_movies) < shares[-1]
    flags[bare] = False
    flags[bare, -1] = True

    ids = np.sort(rng.choice(4 * n_movies, n_movies, replace=False) + 1).astype(np.int64)
    years = np.clip(2024 - rng.exponential(18, n_movies), 1902, 2023).astype(np.int16)
    titles = ("Synthetic Movie " + pd.Series(ids).astype(str) + " (" + pd.Series(years).astype(str) + ")").to_numpy(
        dtype=object
    )
    columns = np.argsort(names)  # the catalog keeps genre names sorted, as Catalog.from_frame does
    catalog = Catalog(ids, titles, years, flags[:, columns], tuple(np.array(names)[columns].tolist()))
    return catalog, flags.astype(np.float32)


def _capped(weights: np.ndarray, total: float, cap: float) -> np.ndarray:
    """Weights scaled to sum to ``total`` with no entry above ``cap`` (water-filling)."""
    weights = weights * (total / weights.sum())
    for _ in range(50):
        over = weights > cap
        if not over.any():
            break
        excess = (weights[over] - cap).sum()
        weights[over] = cap
        free = ~over & (weights < cap)
        weights[free] += excess * weights[free] / weights[free].sum()
    return weights


class _Proposal:
    """Where candidate pairs come from: a user picks a genre by taste, then a movie of that genre
    by popularity (Zipf-Mandelbrot over the genre's movies in their global popularity order).

    A user's genre weights are the genre's size times ``exp(2 * selection * affinity)``, so the
    movies a user rates carry the planted taste, as in real data where people watch what they like.
    """

    def __init__(self, by_rank: np.ndarray, genre_of: np.ndarray, affinity: np.ndarray, selection: float):
        self.n_movies = genre_of.shape[0]
        self.movies_rateable = by_rank.size
        position, genre = np.nonzero(genre_of[by_rank] > 0)  # each rateable movie under each genre
        order = np.lexsort((position, genre))
        self.movies = by_rank[position[order]].astype(np.int64)  # grouped by genre, popular first
        self.sizes = np.bincount(genre, minlength=genre_of.shape[1])
        self.offsets = np.concatenate(([0], np.cumsum(self.sizes)[:-1]))
        # Inverse CDF of the density (x + c)^-a on [0, size): x = (lo + u * span)^(1 / (1 - a)) - c.
        self.lo = np.float32(_ZIPF_OFFSET ** (1 - _ZIPF))
        self.span = ((self.sizes + _ZIPF_OFFSET) ** (1 - _ZIPF) - _ZIPF_OFFSET ** (1 - _ZIPF)).astype(np.float32)
        weights = self.sizes * np.exp(2.0 * selection * (affinity - affinity.max(axis=1, keepdims=True)))
        self.genre_p = weights / weights.sum(axis=1, keepdims=True)

    def draw(self, rng: np.random.Generator, per_user: np.ndarray) -> np.ndarray:
        """``per_user[u]`` draws for each user ``u``: keys ``user * n_movies + movie``, grouped by user."""
        active = np.flatnonzero(per_user > 0)  # later rounds top up few users
        n_genres = self.genre_p.shape[1]
        counts = rng.multinomial(per_user[active], self.genre_p[active]).ravel()
        users = np.repeat(np.repeat(active.astype(np.int64), n_genres), counts)
        genres = np.repeat(np.tile(np.arange(n_genres, dtype=np.int32), active.size), counts)
        del counts
        u = rng.random(genres.size, dtype=np.float32)
        rank = ((self.lo + u * self.span[genres]) ** np.float32(1 / (1 - _ZIPF)) - _ZIPF_OFFSET).astype(np.int32)
        movies = self.movies[self.offsets[genres] + np.minimum(rank, self.sizes[genres] - 1)]
        users *= self.n_movies
        users += movies
        return users


def _candidates(rng, n_ratings, activity, proposal: _Proposal, want: float) -> np.ndarray:
    """Sorted unique pair keys ``user * n_movies + movie``: one per user, then more draws.

    Each user aims at ``want * activity`` distinct movies (at most half the catalog); rounds of
    draws top up each user's shortfall, scaled by how many of that user's last draws were
    repeats, and merge only the new pairs. Stops when the targets are met or stop moving.
    """
    n_users, n_movies = activity.size, proposal.n_movies
    target = np.minimum(want * activity, 0.5 * proposal.movies_rateable)
    keys = _sorted_unique(proposal.draw(rng, np.ones(n_users, dtype=np.int64)))
    have = np.bincount(keys // n_movies, minlength=n_users)
    ratio = np.full(n_users, 1.1)
    for _ in range(60):
        need = np.maximum(np.ceil(target - have), 0)
        if need.sum() <= 0.001 * target.sum():
            break
        drawn = np.ceil(need * ratio).astype(np.int64)
        new = _sorted_unique(proposal.draw(rng, drawn))
        pos = np.minimum(np.searchsorted(keys, new), keys.size - 1)
        new = new[keys[pos] != new]
        gained = np.bincount(new // n_movies, minlength=n_users)
        if new.size < 0.001 * need.sum() and keys.size + new.size >= n_ratings:
            break  # the remaining shortfall is in users who have seen most of what they like
        have += gained
        ratio = np.where(drawn > 0, np.clip(1.1 * drawn / np.maximum(gained, 1), 1.1, 50.0), ratio)
        keys = np.sort(np.concatenate((keys, new)), kind="stable")  # two sorted runs: a merge
    if keys.size < n_ratings:
        raise DataError(
            f"could only draw {keys.size:,} distinct pairs, expected {n_ratings:,}; add users or movies"
        )
    return keys


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values; a sort beats np.unique's hashing on tens of millions of int64."""
    keys.sort()
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))]


def _select(rng, users, movies, n_ratings, n_users, selection, movie_bias, user_factors, movie_factors):
    """Positions of the ``n_ratings`` kept pairs: one random pair per user, then highest priority."""
    with np.errstate(divide="ignore"):  # an exponential draw of exactly 0 gives +inf: kept
        priority = -np.log(rng.standard_exponential(users.size, dtype=np.float32))  # Gumbel noise
    if selection > 0:
        for s in range(0, users.size, _CHUNK):
            u, m = users[s : s + _CHUNK], movies[s : s + _CHUNK]
            affinity = movie_bias[m] + _dot(user_factors, movie_factors, u, m)
            priority[s : s + _CHUNK] += np.float32(selection) * affinity
    counts = np.bincount(users, minlength=n_users)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    priority[starts + (rng.random(n_users) * counts).astype(np.int64)] = np.inf  # never dropped
    if users.size == n_ratings:
        return np.arange(n_ratings)
    keep = np.argpartition(-priority, n_ratings - 1)[:n_ratings]
    keep.sort()
    return keep


def _true_ratings(mu, user_bias, movie_bias, user_factors, movie_factors, users, movies) -> np.ndarray:
    out = np.empty(users.size, dtype=np.float32)
    for s in range(0, users.size, _CHUNK):
        u, m = users[s : s + _CHUNK], movies[s : s + _CHUNK]
        out[s : s + _CHUNK] = (
            mu + user_bias[u] + movie_bias[m] + _dot(user_factors, movie_factors, u, m)
        )
    return out


def _dot(user_factors: np.ndarray, movie_factors: np.ndarray, u: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Row-wise <p_u, q_m>; np.take gathers rows an order of magnitude faster than fancy indexing."""
    return np.einsum("ij,ij->i", np.take(user_factors, u, axis=0), np.take(movie_factors, m, axis=0))
