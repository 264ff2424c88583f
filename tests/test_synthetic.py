"""The synthetic generator: shapes, dtypes, unique pairs, power laws, planted taste, known noise."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.data.synthetic import GENRES, generate


@pytest.fixture(scope="module")
def synth():
    return generate(n_users=400, n_movies=1500, n_ratings=40_000, seed=3)


def test_sizes_and_dtypes(synth):
    d = synth.dataset
    assert d.n_ratings == 40_000
    assert d.n_users == 400  # every user keeps at least one rating
    assert d.users.dtype == np.int32 and d.movies.dtype == np.int32
    assert d.ratings.dtype == np.float32 and d.timestamps.dtype == np.int64
    assert d.users.max() < d.n_users and d.movies.max() < d.n_movies and d.movies.min() >= 0
    assert synth.user_factors.shape == (400, 8) and synth.movie_factors.shape == (d.n_movies, 8)
    assert synth.movie_bias.shape == (d.n_movies,) and synth.user_bias.shape == (400,)


def test_pairs_are_unique(synth):
    d = synth.dataset
    keys = d.users.astype(np.int64) * d.n_movies + d.movies
    assert np.unique(keys).size == keys.size


def test_ratings_on_the_half_star_scale(synth):
    r = synth.dataset.ratings
    assert synth.dataset.rating_scale == (0.5, 5.0)
    assert r.min() >= 0.5 and r.max() <= 5.0
    assert np.all(r * 2 == np.round(r * 2))
    assert len(np.unique(r)) == 10
    assert 3.0 < r.mean() < 4.2  # MovieLens-like mean


def test_whole_star_scale():
    d = generate(n_users=100, n_movies=300, n_ratings=3000, step=1.0).dataset
    assert d.rating_scale == (1.0, 5.0)
    assert set(np.unique(d.ratings).tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_catalog_has_titles_years_genres_and_unrated_movies(synth):
    d = synth.dataset
    cat = d.catalog
    assert len(cat) == 1500 and d.n_movies < len(cat)
    assert np.all(cat.rows(d.movie_vocab.ids) >= 0)  # rated movies are in the catalog
    assert set(cat.genre_names) == set(GENRES) and len(cat.genre_names) == 20
    assert list(cat.genre_names) == sorted(cat.genre_names)
    assert cat.genres.any(axis=1).all()  # every movie has a genre (or the no-genres label)
    assert cat.genres.sum(axis=1).max() <= 3
    assert np.all((cat.years >= 1902) & (cat.years <= 2023))
    assert cat.titles[0] == f"Synthetic Movie {cat.movie_ids[0]} ({cat.years[0]})"
    assert np.all(np.diff(cat.movie_ids) > 0)


def test_timestamps_in_the_movielens_era(synth):
    t = synth.dataset.timestamps
    assert t.min() >= 820_454_400 and t.max() < 1_704_067_200


def test_same_seed_same_data_other_seed_other_data():
    a = generate(n_users=50, n_movies=200, n_ratings=1000, seed=1).dataset
    b = generate(n_users=50, n_movies=200, n_ratings=1000, seed=1).dataset
    c = generate(n_users=50, n_movies=200, n_ratings=1000, seed=2).dataset
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_popularity_and_activity_are_heavy_tailed():
    # Shaped like ml-latest-small, whose top 10% of movies hold 60% of the ratings, whose median
    # movie has 3 and whose most active user 38 times the median user's.
    data = generate(n_users=610, n_movies=9742, n_ratings=100_836, seed=3).dataset
    counts = np.sort(data.movie_counts())[::-1]
    assert counts[: counts.size // 10].sum() > 0.45 * counts.sum()
    assert counts[0] > 30 * np.median(counts)
    users = data.user_counts()
    assert users.max() > 10 * np.median(users)


def test_noise_floor_without_noise_is_rounding_only():
    s = generate(n_users=100, n_movies=400, n_ratings=5000, noise=0.0)
    d = s.dataset
    assert np.abs(s.expected_ratings(d.users, d.movies) - d.ratings).max() <= 0.25 + 1e-5
    assert s.oracle_rmse <= s.approx_noise_rmse + 1e-6


@pytest.mark.parametrize("noise", [0.3, 0.8])
def test_oracle_rmse_tracks_the_noise(noise):
    s = generate(n_users=300, n_movies=1000, n_ratings=20_000, noise=noise, selection=0.0)
    # Clipping only lowers the error; away from the ends the residual has the documented spread.
    assert 0.85 * s.approx_noise_rmse < s.oracle_rmse <= s.approx_noise_rmse * 1.02
    d = s.dataset
    truth = s.true_ratings(d.users, d.movies)
    inner = np.abs(truth - 2.75) < 2.25 - 2.5 * noise  # pairs that clipping almost never touches
    assert inner.sum() > 1000
    assert abs((d.ratings[inner] - truth[inner]).std() - s.approx_noise_rmse) < 0.03


def test_taste_is_tied_to_genres(synth):
    cat = synth.dataset.catalog
    genres = cat.genres[cat.rows(synth.dataset.movie_vocab.ids)]
    q = synth.movie_factors / np.linalg.norm(synth.movie_factors, axis=1, keepdims=True)
    drama = genres[:, cat.genre_names.index("Drama")]
    horror = genres[:, cat.genre_names.index("Horror")]
    only_drama, only_horror = drama & ~horror & (genres.sum(1) == 1), horror & ~drama & (genres.sum(1) == 1)
    within = (q[only_drama] @ q[only_drama].T).mean()
    across = (q[only_drama] @ q[only_horror].T).mean()
    assert within > across + 0.2


def test_selection_makes_users_rate_what_they_like():
    kw = dict(n_users=200, n_movies=800, n_ratings=10_000, seed=5)
    picky, blind = generate(selection=2.0, **kw), generate(selection=0.0, **kw)

    def mean_taste(s):
        d = s.dataset
        return np.einsum("ij,ij->i", s.user_factors[d.users], s.movie_factors[d.movies]).mean()

    assert mean_taste(picky) > mean_taste(blind) + 0.2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_users=10, n_movies=10, n_ratings=5), "n_ratings=5 must be >= n_users=10"),
        (dict(n_users=10, n_movies=10, n_ratings=90), "too dense"),
        (dict(n_users=0), "n_users must be a positive integer"),
        (dict(step=0.25), "step must be 0.5"),
        (dict(noise=-1.0), "must be >= 0"),
    ],
)
def test_bad_arguments_say_what_to_do(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate(**kwargs)


@pytest.mark.slow
def test_a_million_ratings_of_a_large_catalog():
    d = generate(n_users=20_000, n_movies=90_000, n_ratings=1_000_000, seed=7).dataset
    assert d.n_ratings == 1_000_000 and len(d.catalog) == 90_000
    keys = d.users.astype(np.int64) * d.n_movies + d.movies
    assert np.unique(keys).size == keys.size
