"""Rating models (mean, biases, popularity, seed, mf, bayesmf) on data with a known answer.

The synthetic data plants rank-2 taste with Gaussian noise; its ``oracle_rmse`` is the error of
the true ratings (noise plus half-star rounding), the floor no model can beat. It is dense
enough (about 130 training ratings per user, 85 per movie) that a model of the right rank can approach it.
"""

from __future__ import annotations

import numpy as np
import pytest

from movierec import ModelError, load, random_holdout
from movierec.data.synthetic import generate
from movierec.eval.metrics import rmse
from movierec.models.baselines import Biases, GlobalMean, Popularity
from movierec.models.bayesian import BayesianMF
from movierec.models.blend import Blend
from movierec.models.knn import ItemKNN
from movierec.models.mf import BiasedMF
from movierec.models.seed import SeedMF

MF = dict(factors=2, reg=0.02, bias_reg=0.02, device="cpu")  # the planted rank; light ridge
BAYES = dict(factors=2, epochs=40, burn_in=10, device="cpu")


@pytest.fixture(scope="module")
def synth():
    return generate(n_users=600, n_movies=1000, n_ratings=100_000, rank=2, noise=0.5, seed=2)


@pytest.fixture(scope="module")
def split(synth):
    return random_holdout(synth.dataset, 0.2, seed=0)


@pytest.fixture(scope="module")
def small(split):
    """The first 10,000 training ratings: enough for behaviour tests, quick to train on."""
    return split.train.subset(np.arange(10_000))


@pytest.fixture(scope="module")
def mf(split):
    return BiasedMF(**MF).fit(split.train)


def held_out_rmse(model, split) -> float:
    low, high = split.train.rating_scale
    return rmse(np.clip(model.predict(split.test.users, split.test.movies), low, high), split.test.ratings)


# -- baselines -----------------------------------------------------------------------------
def test_global_mean_predicts_the_training_mean(split):
    model = GlobalMean().fit(split.train)
    out = model.predict(split.test.users[:5], split.test.movies[:5])
    np.testing.assert_allclose(out, split.train.ratings.mean(), rtol=1e-6)
    # The mean has no skill: its error is the spread of the test ratings.
    assert held_out_rmse(model, split) == pytest.approx(split.test.ratings.std(), rel=0.02)


def test_biases_beat_the_mean_and_damping_shrinks(split):
    mean_error = held_out_rmse(GlobalMean().fit(split.train), split)
    biases = Biases().fit(split.train)
    assert held_out_rmse(biases, split) < 0.95 * mean_error
    strong = Biases(user_damping=1e6, movie_damping=1e6).fit(split.train)
    assert np.abs(strong.movie_bias).max() < 1e-3 and np.abs(strong.user_bias).max() < 1e-3


def test_biases_fallbacks_and_fold_in(tiny):
    model = Biases(user_damping=0, movie_damping=0).fit(tiny)
    mean = float(model.mean)
    out = model.predict(np.array([0, -1, 0, -1]), np.array([-1, 1, 1, -1]))
    np.testing.assert_allclose(
        out, [mean + model.user_bias[0], mean + model.movie_bias[1], mean + model.user_bias[0] + model.movie_bias[1], mean], rtol=1e-6
    )
    # Undamped, movie 0's bias is the mean residual of its ratings (5, 4.5, 4, 0.5).
    assert model.movie_bias[0] == pytest.approx(np.mean([5, 4.5, 4, 0.5]) - mean, abs=1e-6)
    # A folded-in user who rates every movie 1 star above its prediction gets bias ~1.
    movies = np.arange(tiny.n_movies)
    folded = model.fold_in(movies, mean + model.movie_bias + 1)
    np.testing.assert_allclose(folded, mean + model.movie_bias + 1, atol=1e-5)


def test_popularity_counts_ratings(tiny):
    counts = np.bincount(tiny.movies, minlength=tiny.n_movies)
    model = Popularity().fit(tiny)
    np.testing.assert_array_equal(model.score_users(np.array([0, 3]))[1], counts)
    liked = Popularity(threshold=4.0).fit(tiny)
    np.testing.assert_array_equal(liked.fold_in(np.array([0]), np.array([1.0])), np.bincount(tiny.movies, tiny.ratings >= 4, tiny.n_movies))


# -- mf ------------------------------------------------------------------------------------
def test_mf_approaches_the_noise_floor(mf, split, synth):
    error = held_out_rmse(mf, split)
    assert error <= 1.05 * synth.oracle_rmse, f"mf RMSE {error:.4f} vs floor {synth.oracle_rmse:.4f}"
    assert error < 0.8 * held_out_rmse(Biases().fit(split.train), split)


def test_mf_reports_epochs_and_keeps_the_best(split):
    events = []
    BiasedMF(**MF, epochs=30, patience=2, tol=0.0).fit(split.train, callback=events.append)
    validated = [e for e in events if e.validation is not None]
    assert validated and all(np.isfinite(e.loss) for e in events)
    # Early stopping: it ends `patience` sweeps after the best validation score, or at the cap.
    best = int(np.argmin([e.validation for e in validated]))
    assert len(validated) in (best + 1 + 2, 30)
    assert [e.epoch for e in events] == list(range(1, len(events) + 1))


def test_mf_auto_reg_is_chosen_on_a_validation_slice_and_reported(split):
    """reg="auto" scores the candidates on a slice of (a user sample of) the training ratings."""
    model = BiasedMF(**{**MF, "reg": "auto"}, auto_regs="2.0,0.05", auto_sample=40_000).fit(split.train)
    assert set(model.auto_scores) == {2.0, 0.05}
    assert model.get_params()["reg"] == 0.05  # 2.0 flattens the factors this data needs
    assert held_out_rmse(model, split) <= 1.05 * held_out_rmse(BiasedMF(**{**MF, "reg": 0.05}).fit(split.train), split)
    with pytest.raises(ValueError, match="reg must be a number >= 0 or 'auto'"):
        BiasedMF(reg="high").fit(split.train)


def test_mf_fallbacks(mf):
    mean = float(mf.mean)
    out = mf.predict(np.array([3, -1, -1]), np.array([-1, 7, -1]))
    np.testing.assert_allclose(out, [mean + mf.user_bias[3], mean + mf.movie_bias[7], mean], rtol=1e-6)
    scores = mf.score_users(np.array([-1, 3]))
    np.testing.assert_allclose(scores[0], mean + mf.movie_bias, rtol=1e-6)
    np.testing.assert_allclose(scores[1, :20], mf.predict(np.full(20, 3), np.arange(20)), rtol=1e-5)


def test_movie_without_training_ratings_gets_zero_parameters(split):
    train = split.train
    keep = train.movies != 0
    model = BiasedMF(**MF, epochs=3).fit(train.subset(keep))
    assert model.n_movies == train.n_movies
    assert model.movie_bias[0] == 0 and not model.movie_factors[0].any()
    assert model.predict(np.array([5]), np.array([0]))[0] == pytest.approx(float(model.mean) + model.user_bias[5])


@pytest.mark.parametrize("factory", [lambda: BiasedMF(**MF), lambda: BayesianMF(**BAYES)])
def test_fold_in_recovers_a_held_out_user(synth, factory):
    """Users absent from training, folded in from 80% of their ratings, predict the other 20%."""
    data = synth.dataset
    heavy = np.flatnonzero(data.user_counts() >= 100)[:15]
    out = np.isin(data.users, heavy)
    model = factory().fit(data.subset(~out))
    rng = np.random.default_rng(0)
    errors, bias_errors = [], []
    biases = Biases().fit(data.subset(~out))
    for user in heavy:
        rows = np.flatnonzero(data.users == user)
        rng.shuffle(rows)
        given, hidden = rows[: int(0.8 * rows.size)], rows[int(0.8 * rows.size) :]
        scores = model.fold_in(data.movies[given], data.ratings[given])
        errors.append(np.clip(scores[data.movies[hidden]], 0.5, 5) - data.ratings[hidden])
        bias_scores = biases.fold_in(data.movies[given], data.ratings[given])
        bias_errors.append(np.clip(bias_scores[data.movies[hidden]], 0.5, 5) - data.ratings[hidden])
    error = float(np.sqrt(np.mean(np.concatenate(errors) ** 2)))
    bias_error = float(np.sqrt(np.mean(np.concatenate(bias_errors) ** 2)))
    assert error < 0.85 * bias_error and error < 1.2 * synth.oracle_rmse, (error, bias_error)


def test_mf_fold_in_of_a_training_user_matches_their_scores(mf, split):
    train = split.train
    rows = train.users == 11
    folded = mf.fold_in(train.movies[rows], train.ratings[rows])
    # The user's own factors were solved from the same ratings against nearly the same movies.
    assert np.abs(folded - mf.score_users(np.array([11]))[0]).max() < 0.3


def test_mf_blocks_do_not_change_the_model(small):
    """Small blocks (many per side, heavy users alone in theirs) give the same model."""
    params = dict(MF, epochs=3, validation=0.0)
    default = BiasedMF(**params).fit(small)
    blocked = BiasedMF(**params, block_size=64).fit(small)
    np.testing.assert_allclose(blocked.score_users(np.arange(5)), default.score_users(np.arange(5)), atol=1e-4)


# -- bayesmf -------------------------------------------------------------------------------
def test_bayesmf_approaches_the_noise_floor(split, synth, mf):
    events = []
    model = BayesianMF(**BAYES).fit(split.train, callback=events.append)
    assert [e.epoch for e in events] == list(range(1, 41))
    error = held_out_rmse(model, split)
    assert error <= 1.05 * synth.oracle_rmse, f"bayesmf RMSE {error:.4f} vs floor {synth.oracle_rmse:.4f}"
    # Sampled noise precision: 1/sigma^2 near the planted noise plus rounding.
    assert model.noise_precision.mean() == pytest.approx(1 / synth.oracle_rmse**2, rel=0.25)
    # Kept samples: every thin-th of the sweeps after burn-in, the last one included.
    assert model.user_samples.shape == (15, split.train.n_users, 2)


def test_bayesmf_average_equals_mean_of_sample_predictions(split):
    model = BayesianMF(factors=3, epochs=6, burn_in=2, thin=1, device="cpu").fit(split.train)
    u, m = split.test.users[:50], split.test.movies[:50]
    per_sample = (model.user_samples[:, u] * model.movie_samples[:, m]).sum(2).mean(0)
    expected = model.mean + model.user_bias[u] + model.movie_bias[m] + per_sample
    np.testing.assert_allclose(model.predict(u, m), expected, rtol=1e-5, atol=1e-5)


# -- knn and blend -------------------------------------------------------------------------
def test_knn_similarity_is_shrunk_residual_correlation(split):
    train = split.train
    model = ItemKNN(neighbors=5, shrink=10.0).fit(train)
    res = train.matrix(train.ratings - model.mean - model.user_bias[train.users] - model.movie_bias[train.movies]).toarray()
    rated = train.matrix(np.ones(train.n_ratings, np.float32)).toarray() > 0
    i = int(np.argmax(train.movie_counts()))
    for j, sim in zip(model.neighbor_rows[i], model.neighbor_sims[i]):
        both = rated[:, i] & rated[:, j]
        a, b = res[both, i], res[both, j]
        expected = a @ b / np.sqrt((a @ a) * (b @ b)) * both.sum() / (both.sum() + 10.0)
        assert sim == pytest.approx(max(expected, 0.0), abs=1e-4)


def test_knn_beats_biases_and_scores_agree(split, small):
    model = ItemKNN().fit(split.train)
    assert held_out_rmse(model, split) < 0.9 * held_out_rmse(Biases().fit(split.train), split)
    users, movies = split.test.users[:40], split.test.movies[:40]
    scores = model.score_users(users)
    np.testing.assert_allclose(scores[np.arange(40), movies], model.predict(users, movies), rtol=1e-5, atol=1e-5)
    rows = split.train.users == 7
    np.testing.assert_allclose(model.fold_in(split.train.movies[rows], split.train.ratings[rows]), model.score_users(np.array([7]))[0], atol=1e-4)


def test_knn_ctrl_c_and_round_trip(small):
    def interrupt(event):
        if event.epoch == 2:
            raise KeyboardInterrupt

    chunk = small.n_movies * 100  # 100 movies per similarity chunk: several chunks
    model = ItemKNN(chunk=chunk).fit(small, callback=interrupt)
    assert model.interrupted and not model.neighbor_sims[-1].any()  # unreached movies: no neighbours
    full = ItemKNN(chunk=chunk).fit(small)
    again = ItemKNN.from_state(full.get_params(), full.get_state())
    np.testing.assert_array_equal(again.score_users(np.arange(4)), full.score_users(np.arange(4)))
    np.testing.assert_array_equal(again.predict(np.arange(4), np.arange(4)), full.predict(np.arange(4), np.arange(4)))


def test_blend_is_at_least_as_good_as_its_parts(split, synth):
    model = Blend(factors=2, epochs=30, burn_in=10, device="cpu").fit(split.train)
    blended = held_out_rmse(model, split)
    parts = [held_out_rmse(model.base, split), held_out_rmse(model.knn, split)]
    assert blended <= min(parts) + 0.002, (blended, parts)
    assert blended <= 1.05 * synth.oracle_rmse
    assert model.weights.shape == (3,) and model.weights[1] > 0


# -- seed ----------------------------------------------------------------------------------
def test_seed_runs_and_learns(small):
    events = []
    model = SeedMF(epochs=3, device="cpu").fit(small, callback=events.append)
    assert [e.epoch for e in events] == [1, 2, 3] and all(e.n_epochs == 3 for e in events)
    assert events[-1].loss < events[0].loss
    assert model.user_factors.shape == (small.n_users, 8)
    assert np.isfinite(model.score_users(np.arange(3))).all()
    np.testing.assert_allclose(model.predict(np.array([-1]), np.array([0])), small.ratings.mean(), rtol=1e-6)


def test_seed_diverges_loudly(small):
    with pytest.raises(ModelError, match="diverged at epoch 1"):
        SeedMF(epochs=2, lr=1e30, device="cpu").fit(small)


# -- shared behaviour ----------------------------------------------------------------------
FACTORIES = {
    "seed": lambda **kw: SeedMF(epochs=3, device="cpu", **kw),
    "mf": lambda **kw: BiasedMF(**MF, epochs=4, **kw),
    "bayesmf": lambda **kw: BayesianMF(factors=2, epochs=6, burn_in=2, device="cpu", **kw),
    "blend": lambda **kw: Blend(factors=2, epochs=4, burn_in=1, device="cpu", **kw),
}


@pytest.mark.parametrize("name", FACTORIES)
def test_reproducible_under_seed_and_seed_matters(small, split, name):
    rows = np.arange(8)
    a = FACTORIES[name](seed=3).fit(small).score_users(rows)
    b = FACTORIES[name](seed=3).fit(small).score_users(rows)
    c = FACTORIES[name](seed=4).fit(small).score_users(rows)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", FACTORIES)
def test_ctrl_c_keeps_the_model_so_far(small, split, name):
    def interrupt(event):
        if event.epoch == 2:
            raise KeyboardInterrupt

    model = FACTORIES[name]().fit(small, callback=interrupt)
    assert model.interrupted
    assert np.isfinite(model.predict(split.test.users, split.test.movies)).all()


@pytest.mark.parametrize("name", FACTORIES)
def test_state_round_trip_reproduces_scores(small, split, name):
    model = FACTORIES[name]().fit(small)
    again = type(model).from_state(model.get_params(), model.get_state())
    rows = np.arange(6)
    np.testing.assert_array_equal(again.score_users(rows), model.score_users(rows))
    movies, stars = np.array([1, 2, 3]), np.array([4.0, 1.0, 5.0])
    np.testing.assert_array_equal(again.fold_in(movies, stars), model.fold_in(movies, stars))


def test_bad_hyperparameters_are_explained(split):
    with pytest.raises(ValueError, match="factors must be >= 1, got 0"):
        BiasedMF(factors=0).fit(split.train)
    with pytest.raises(ValueError, match="user_damping must be >= 0, got -1"):
        Biases(user_damping=-1).fit(split.train)
    with pytest.raises(ValueError, match="lr must be > 0, got 0"):
        SeedMF(lr=0).fit(split.train)


# -- real data -----------------------------------------------------------------------------
@pytest.mark.slow
def test_mf_on_ml_latest_small(shared_data):
    split = random_holdout(load("ml-latest-small", shared_data), 0.2, seed=42)
    error = held_out_rmse(BiasedMF(device="cpu").fit(split.train), split)
    assert error < 0.86, f"mf RMSE {error:.4f} on ml-latest-small (peers: 0.85-0.88)"
