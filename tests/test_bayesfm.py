"""bayesfm: Bayesian factorization with implicit sets and a day term, on data with a known answer."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.data.synthetic import generate
from movierec.eval.metrics import rmse
from movierec.eval.splits import random_holdout
from movierec.models.baselines import Biases
from movierec.models.bayesfm import BayesFM, _Link, _Sampler
from movierec.models.mf import BiasedMF

FAST = dict(factors=2, epochs=30, burn_in=10, device="cpu")


@pytest.fixture(scope="module")
def synth():
    return generate(n_users=400, n_movies=600, n_ratings=30_000, rank=2, noise=0.5, seed=3)


@pytest.fixture(scope="module")
def split(synth):
    return random_holdout(synth.dataset, 0.2, seed=0)


@pytest.fixture(scope="module")
def model(split):
    return BayesFM(**FAST).fit(split.train)


def held_out(model, split, timed=True) -> float:
    t = split.test
    predicted = model.predict_at(t.users, t.movies, t.timestamps) if timed else model.predict(t.users, t.movies)
    return rmse(np.clip(predicted, 0.5, 5.0), t.ratings)


def test_approaches_the_noise_floor(model, split, synth):
    """Sparse data (60 ratings per user): within 10% of the floor, and ahead of tuned ALS."""
    error = held_out(model, split)
    assert error <= 1.1 * synth.oracle_rmse, f"bayesfm RMSE {error:.4f} vs floor {synth.oracle_rmse:.4f}"
    assert error < held_out(BiasedMF(factors=2, reg=0.02, bias_reg=0.02, device="cpu").fit(split.train), split)
    assert error < 0.8 * held_out(Biases().fit(split.train), split)
    assert model.noise_precision == pytest.approx(1 / synth.oracle_rmse**2, rel=0.3)


def test_the_large_data_path_also_approaches_the_noise_floor(split, synth):
    """Links by conjugate gradients (as past exact_link users and movies) and both sides shifted."""
    model = BayesFM(**FAST, exact_link=0, shift="user,movie").fit(split.train)
    assert held_out(model, split) <= 1.1 * synth.oracle_rmse


@pytest.mark.parametrize("shape", [(30, 80), (80, 30)])
def test_exact_link_solve_matches_a_dense_solve(shape):
    """Both ways round: Woodbury through AA' (fewer entities) and the direct A'A (fewer partners)."""
    rng = np.random.default_rng(0)
    a = sp.random(*shape, density=0.2, format="csr", random_state=1, dtype=np.float32)
    link = _Link(a, 5, exact=100)
    link.lam = 0.7
    rhs = rng.standard_normal((shape[1], 5)).astype(np.float32)
    dense = np.linalg.solve((a.T @ a).toarray() + 0.7 * np.eye(shape[1]), rhs)
    np.testing.assert_allclose(link.solve(rhs), dense, atol=1e-4)


def test_days_are_categories_and_unseen_days_fall_back(model, split):
    assert model.day_keys.size > 1 and model.day_vectors.shape[0] == model.day_keys.size + 1
    u, m = split.test.users[:20], split.test.movies[:20]
    far = np.full(20, 10**10, np.int64)  # a day never seen in training: the prior-mean row
    np.testing.assert_array_equal(model.predict_at(u, m, far), model.predict(u, m))
    scores = model.score_users(u[:3])
    np.testing.assert_allclose(scores[np.arange(3), m[:3]], model.predict(u[:3], m[:3]), rtol=1e-5, atol=1e-5)


def test_without_timestamps_there_is_no_day_term(split):
    train = split.train.with_ratings(split.train.users, split.train.movies, split.train.ratings, np.zeros(split.train.n_ratings, np.int64))
    model = BayesFM(**{**FAST, "epochs": 6}).fit(train)
    assert model.day_keys.size == 0 and model.day_vectors.shape[0] == 1
    t = split.test
    np.testing.assert_array_equal(model.predict_at(t.users, t.movies, t.timestamps), model.predict(t.users, t.movies))
    assert np.isfinite(model.predict(t.users, t.movies)).all()


def test_compression_keeps_the_sample_average(split):
    """serve_rank large enough to hold every kept sample's factors is the exact average; a small
    one is nearly the same predictions."""
    exact = BayesFM(**{**FAST, "epochs": 10, "burn_in": 5}, serve_rank=1000).fit(split.train)
    assert exact.user_vectors.shape[1] == 2 * 5 * 2  # 2 chains x 5 kept samples x rank 2, side by side
    small = BayesFM(**{**FAST, "epochs": 10, "burn_in": 5}, serve_rank=6).fit(split.train)
    assert small.user_vectors.shape[1] == 6
    t = split.test
    gap = small.predict(t.users, t.movies) - exact.predict(t.users, t.movies)
    # max 0.03-0.06 over chains' seeds (on main too): the RMS is the stable measure
    assert np.sqrt(np.mean(gap**2)) < 0.01 and np.abs(gap).max() < 0.1


def test_parallel_chains_pool_their_samples_reproducibly(split):
    """Two chains on two threads give the same model on every run, and pool exactly what
    the two chains (seeds 42 and 43, one start) keep when each runs alone: biases averaged
    over both, factors (rotation-dependent) from the first alone."""
    short = {**FAST, "epochs": 8, "burn_in": 2, "serve_rank": 0}
    pooled = BayesFM(**short).fit(split.train)
    again = BayesFM(**short).fit(split.train)
    np.testing.assert_array_equal(pooled.movie_factors, again.movie_factors)
    kept = [_Sampler(pooled.config, split.train, seed).run(None, threading.Event()) for seed in (42, 43)]
    average = sum(k.sums["movie"] for k in kept) / sum(k.count for k in kept)
    first = kept[0].sums["movie"] / kept[0].count
    np.testing.assert_allclose(pooled.movie_bias, average[:, 0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(pooled.movie_factors, first[:, 1:], rtol=1e-4, atol=1e-5)
    assert not np.allclose(average[:, 1:], first[:, 1:], atol=1e-3)  # the second chain's differ
    with pytest.raises(ValueError, match="chains"):
        BayesFM(chains=0, device="cpu").fit(split.train)


def test_burn_in_sweeps_settle_the_chain(split):
    """ALS steps (conditional means, not draws) in the discarded first sweeps: a short chain
    predicts better than one that keeps its first, wandering draws."""
    short = {**FAST, "epochs": 8, "chains": 1}
    settled = BayesFM(**{**short, "burn_in": 2}).fit(split.train)
    raw = BayesFM(**{**short, "burn_in": 0}).fit(split.train)
    assert held_out(settled, split) < held_out(raw, split)


def test_fold_in_recovers_a_held_out_user(synth):
    data = synth.dataset
    heavy = np.flatnonzero(data.user_counts() >= 100)[:15]
    out = np.isin(data.users, heavy)
    model = BayesFM(**FAST).fit(data.subset(~out))
    biases = Biases().fit(data.subset(~out))
    rng = np.random.default_rng(0)
    errors, bias_errors = [], []
    for user in heavy:
        rows = rng.permutation(np.flatnonzero(data.users == user))
        given, hidden = rows[: int(0.8 * rows.size)], rows[int(0.8 * rows.size) :]
        for scorer, sink in ((model, errors), (biases, bias_errors)):
            scores = scorer.fold_in(data.movies[given], data.ratings[given])
            sink.append(np.clip(scores[data.movies[hidden]], 0.5, 5) - data.ratings[hidden])
    error, bias_error = (float(np.sqrt(np.mean(np.concatenate(e) ** 2))) for e in (errors, bias_errors))
    assert error < 0.85 * bias_error and error < 1.2 * synth.oracle_rmse, (error, bias_error)


def test_auto_rank_is_chosen_on_training_ratings_and_reported(split):
    model = BayesFM(**{**FAST, "factors": "auto", "epochs": 8, "burn_in": 2}, auto_ranks="1,2,4").fit(split.train)
    assert model.get_params()["factors"] in (1, 2, 4)
    assert set(model.auto_scores) <= {1, 2, 4} and len(model.auto_scores) >= 1
    assert model.get_params()["factors"] == min(model.auto_scores, key=model.auto_scores.get)


def test_bad_hyperparameters_are_explained(split):
    with pytest.raises(ValueError, match="factors"):
        BayesFM(factors=0, device="cpu").fit(split.train)
    with pytest.raises(ValueError, match="auto_ranks"):
        BayesFM(factors="auto", auto_ranks="", device="cpu").fit(split.train)
    with pytest.raises(ValueError, match="shift"):
        BayesFM(shift="users", device="cpu").fit(split.train)
    with pytest.raises(ValueError, match="user_noise must be >= 0"):
        BayesFM(user_noise=-1.0, device="cpu").fit(split.train)


def test_genres_and_decade_order_movies_nobody_rated(synth):
    """The generator plants movie tastes near their genres' vectors: for movies with no training
    rating, each user's predictions follow their true ratings (within-user correlation), where
    without the content link those movies only get the fallback (no movie-specific signal)."""
    data = synth.dataset
    picked = np.random.default_rng(0).choice(np.flatnonzero(data.movie_counts() > 0), 100, replace=False)
    cold = np.isin(data.movies, picked)
    train, test = data.subset(np.flatnonzero(~cold)), data.subset(np.flatnonzero(cold))

    def within_user(values: np.ndarray) -> np.ndarray:
        counts = np.bincount(test.users, minlength=data.n_users)
        return values - (np.bincount(test.users, values, minlength=data.n_users) / np.maximum(counts, 1))[test.users]

    truth = within_user(test.ratings)
    with_content = within_user(BayesFM(**FAST, content=True).fit(train).predict(test.users, test.movies))
    assert np.corrcoef(with_content, truth)[0, 1] > 0.2
    without = within_user(BayesFM(**FAST, content=False).fit(train).predict(test.users, test.movies))
    assert np.abs(without).max() < 1e-4  # the fallback: the same for every cold movie of a user


def test_erratic_raters_weigh_less():
    """Half the users rate with extra noise: per-user noise levels downweight them, and the
    steady raters' held-out ratings are predicted better than with one noise level for all."""
    synth = generate(n_users=400, n_movies=600, n_ratings=30_000, rank=2, noise=0.3, seed=5)
    data = synth.dataset
    erratic = np.random.default_rng(0).random(data.n_users) < 0.5
    noisy = data.ratings + np.where(erratic[data.users], 1.5, 0.0) * np.random.default_rng(1).standard_normal(data.n_ratings)
    data = replace(data, ratings=np.clip(np.round(noisy * 2) / 2, 0.5, 5.0).astype(np.float32))
    split = random_holdout(data, 0.2, seed=0)
    steady = ~erratic[split.test.users]

    def steady_rmse(user_noise: float) -> float:
        model = BayesFM(**FAST, user_noise=user_noise).fit(split.train)
        predicted = np.clip(model.predict_at(split.test.users, split.test.movies, split.test.timestamps), 0.5, 5.0)
        return rmse(predicted[steady], split.test.ratings[steady])

    assert steady_rmse(20.0) < 0.97 * steady_rmse(0.0)
