"""Ranking models (EASE, implicit ALS, the hybrid default): known answers, fold-in, training loop.

The shared contract (shapes, save/load, unknown ids) is in test_model_contract.py; here each
model must recover planted structure and behave like its maths says.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from movierec import ModelError, load, user_holdout
from movierec.data.dataset import Dataset
from movierec.data.synthetic import generate
from movierec.eval.metrics import ranking_metrics
from movierec.models import DEFAULT_RANKING, TrainingEvent, make_model
from movierec.models.ease import EASE, movie_weights
from movierec.models.ials import ImplicitALS, _Ratings, _Side, _solve

RANKERS = ["ease", "ials", "hybrid"]
FAST = {
    "ease": {"device": "cpu"},
    "ials": {"factors": 16, "iterations": 10, "device": "cpu"},
    "hybrid": {"factors": 16, "iterations": 10, "device": "cpu"},
}


def blocks(rng: np.random.Generator, n_groups=4, users_per_group=12, movies_per_block=10, held=2):
    """Users of group g rate only movies of block g, all but ``held`` of them (random ones).

    Returns the dataset and, per user, the movie rows withheld from their own block: every
    sensible top-N model must put exactly those first among the user's unrated movies.
    """
    users, movies, withheld = [], [], []
    for g in range(n_groups):
        block = np.arange(g * movies_per_block, (g + 1) * movies_per_block)
        for j in range(users_per_group):
            u = g * users_per_group + j
            order = rng.permutation(block)
            users += [u] * (movies_per_block - held)
            movies += order[held:].tolist()
            withheld.append(np.sort(order[:held]))
    users, movies = np.array(users), np.array(movies)
    ratings = rng.choice([3.0, 4.0, 5.0], users.size).astype(np.float32)
    # ids = rows + 1, and every movie is rated by someone, so rows equal the ids minus one
    data = Dataset.from_ids(users + 1, movies + 1, ratings)
    return data, np.array(withheld)


def unrated_top(model, data: Dataset, users: np.ndarray, k: int) -> np.ndarray:
    scores = model.score_users(users).copy()
    seen = data.matrix()[users]
    scores[seen.nonzero()] = -np.inf
    return np.sort(np.argsort(-scores, axis=1, kind="stable")[:, :k], axis=1)


@pytest.fixture(scope="module")
def synth_split():
    data = generate(n_users=300, n_movies=500, n_ratings=20_000, rank=4, noise=0.3, seed=11).dataset
    return user_holdout(data, 0.2, seed=3)


@pytest.mark.parametrize("name", RANKERS)
def test_withheld_block_movies_come_first(name, rng):
    data, withheld = blocks(rng)
    model = make_model(name, **FAST[name]).fit(data)
    users = np.arange(data.n_users, dtype=np.int32)
    np.testing.assert_array_equal(unrated_top(model, data, users, withheld.shape[1]), withheld)


@pytest.mark.parametrize("name", RANKERS)
def test_beats_popularity_on_planted_taste(name, synth_split):
    train, test = synth_split
    popularity = ranking_metrics(make_model("popularity").fit(train).score_users, train, test).ndcg
    ours = ranking_metrics(make_model(name, **FAST[name]).fit(train).score_users, train, test).ndcg
    assert ours > 1.1 * popularity, f"{name}: NDCG@10 {ours:.3f} vs popularity {popularity:.3f}"


@pytest.mark.parametrize("name", RANKERS)
def test_fold_in_ranks_like_the_fitted_user(name, synth_split):
    """A training user's ratings folded in as a new user give (nearly) their fitted ranking."""
    train = synth_split.train
    model = make_model(name, **FAST[name]).fit(train)
    overlaps = []
    for user in (0, 7, 42):
        mine = train.users == user
        folded = model.fold_in(train.movies[mine], train.ratings[mine])
        fitted = model.score_users(np.array([user], np.int32))[0]
        assert np.corrcoef(folded, fitted)[0, 1] > 0.95
        overlaps.append(np.intersect1d(np.argsort(-folded)[:20], np.argsort(-fitted)[:20]).size)
    assert min(overlaps) >= 14, overlaps


def test_ease_fold_in_is_exactly_the_training_row(synth_split):
    train = synth_split.train
    model = EASE(rating_power=1.5, device="cpu").fit(train)
    mine = train.users == 5
    np.testing.assert_allclose(
        model.fold_in(train.movies[mine], train.ratings[mine]),
        model.score_users(np.array([5], np.int32))[0],
        rtol=1e-5,
        atol=1e-6,
    )


def test_ease_weights_match_the_closed_form(rng):
    x = (rng.random((40, 12)) < 0.3).astype(np.float64)
    lam = 3.0
    p = np.linalg.inv(x.T @ x + lam * np.eye(12))
    expected = np.eye(12) - p / np.diag(p)
    import scipy.sparse as sp

    got = movie_weights(sp.csr_matrix(x.astype(np.float32)), lam)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert np.all(np.diag(got) == 0)


def test_ease_max_movies_scores_only_the_most_rated(synth_split):
    train = synth_split.train
    model = EASE(max_movies=50, device="cpu").fit(train)
    counts = train.movie_counts()
    assert model.modelled.size == 50
    assert counts[model.modelled].min() >= np.sort(counts)[-50]
    scores = model.score_users(np.arange(5, dtype=np.int32))
    modelled = np.zeros(train.n_movies, bool)
    modelled[model.modelled] = True
    assert np.isfinite(scores[:, modelled]).all() and np.isneginf(scores[:, ~modelled]).all()


def test_hybrid_scores_the_tail_beyond_ease(synth_split):
    train = synth_split.train
    model = make_model("hybrid", max_movies=50, **FAST["hybrid"]).fit(train)
    rated = train.movie_counts() > 0
    assert np.isfinite(model.score_users(np.arange(5, dtype=np.int32))[:, rated]).all()
    assert model.movie_embeddings().shape == (train.n_movies, 16)


def test_hybrid_discounts_the_movies_on_many_lists(synth_split):
    """Exposure counts each training user's top ``exposure_depth`` once; scores are the
    undiscounted ones times (1 + exposure)^-γ (divided when negative), in every path; the lists
    then cover more of the catalogue."""
    train, test = synth_split
    model = make_model("hybrid", **FAST["hybrid"]).fit(train)
    plain = type(model).from_state({**model.get_params(), "exposure_discount": 0.0}, model.get_state())
    users = np.arange(train.n_users)
    raw = plain.score_users(users)
    depth = model.config.exposure_depth
    masked = raw.copy()
    masked[train.matrix().nonzero()] = -np.inf
    counted = np.bincount(np.argsort(-masked, axis=1)[:, :depth].ravel(), minlength=train.n_movies)
    assert model.exposure.sum() == (train.user_counts() > 0).sum() * depth
    assert np.abs(model.exposure - counted).sum() <= 0.01 * counted.sum()  # up to near-ties
    keep = (1 + model.exposure) ** -model.config.exposure_discount
    np.testing.assert_allclose(model.score_users(users), np.where(raw > 0, raw * keep, raw / keep), rtol=1e-5, atol=1e-7)
    movies, stars = train.movies[train.users == 0], train.ratings[train.users == 0]
    folded = model.fold_in(movies, stars)
    targets = np.argsort(-folded)[:20]
    np.testing.assert_allclose(model.contributions(movies, stars, targets).sum(1), folded[targets], rtol=1e-4, atol=1e-6)
    assert ranking_metrics(model, train, test).coverage > ranking_metrics(plain, train, test).coverage


def test_hybrid_saved_before_the_discount_ranks_as_it_did(synth_split):
    model = make_model("hybrid", **FAST["hybrid"]).fit(synth_split.train)
    state = {k: v for k, v in model.get_state().items() if k != "exposure"}
    old = type(model).from_state(model.get_params(), state)
    plain = type(model).from_state({**model.get_params(), "exposure_discount": 0.0}, model.get_state())
    rows = np.arange(10)
    np.testing.assert_array_equal(old.score_users(rows), plain.score_users(rows))


def test_conjugate_gradient_reaches_the_exact_solution(rng):
    """Batched CG over all rows, on either side of the shared pattern (users, or movies through
    its transpose), equals a per-row dense solve of the iALS normal equations, and the dots it
    carries at the ratings are those of the rows it returns."""
    n_users, n_movies, k, alpha0 = 30, 50, 8, 0.1
    users, movies = np.nonzero(rng.random((n_users, n_movies)) < 0.2)
    weight = (2 * rng.random(users.size)).astype(np.float32)
    target = (rng.random(users.size) < 0.8).astype(np.float32)
    shuffled = rng.permutation(users.size)  # the pattern sorts the ratings itself
    ratings = _Ratings(
        users[shuffled].astype(np.int32), movies[shuffled].astype(np.int32), n_users, n_movies,
        weight[shuffled], target[shuffled], "cpu",
    )
    gen = torch.Generator().manual_seed(0)
    for by_user, rows, cols, n_rows, n_cols in ((True, users, movies, n_users, n_movies), (False, movies, users, n_movies, n_users)):
        side = _Side(ratings, by_user)
        other, start = torch.randn(n_cols, k, generator=gen), 0.1 * torch.randn(n_rows, k, generator=gen)
        reg = torch.rand(n_rows, generator=gen) + 0.5
        dots = side.dots(start, other)
        x = _solve(side, start, other, dots, alpha0, reg, cg_steps=40)
        np.testing.assert_allclose(dots.numpy(), side.dots(x, other).numpy(), atol=1e-4)
        on = other.double().numpy()
        for row in range(n_rows):
            mine = rows == row
            hu, c = on[cols[mine]], 1.0 + weight[mine]
            a = alpha0 * on.T @ on + (hu.T * c) @ hu + float(reg[row]) * np.eye(k)
            np.testing.assert_allclose(x[row].numpy(), np.linalg.solve(a, hu.T @ (c * target[mine])), atol=1e-4)


def test_ials_low_ratings_as_negative_signal_push_movies_down(synth_split):
    """With negative_below, rating a movie 1 star lowers its score below not rating it at all;
    without it, any rating is a positive signal and raises the score."""
    train = synth_split.train
    liked = np.array([1, 2], np.int32), np.array([5.0, 5.0], np.float32)
    with_dislike = np.array([1, 2, 3], np.int32), np.array([5.0, 5.0, 1.0], np.float32)
    for negative_below, lower in ((3.0, True), (None, False)):
        model = ImplicitALS(negative_below=negative_below, **FAST["ials"]).fit(train)
        assert (model.fold_in(*with_dislike)[3] < model.fold_in(*liked)[3]) == lower


def test_ials_reports_each_iteration_and_the_loss_falls(synth_split):
    events: list[TrainingEvent] = []
    ImplicitALS(**FAST["ials"]).fit(synth_split.train, callback=events.append)
    assert [e.epoch for e in events] == list(range(1, 11)) and {e.n_epochs for e in events} == {10}
    assert all(np.isfinite(e.loss) for e in events) and events[-1].loss < events[0].loss


def test_ctrl_c_keeps_the_last_iteration(synth_split):
    def stop_at_three(event: TrainingEvent) -> None:
        if event.epoch == 3:
            raise KeyboardInterrupt

    model = ImplicitALS(**FAST["ials"]).fit(synth_split.train, callback=stop_at_three)
    assert model.interrupted
    three = ImplicitALS(**{**FAST["ials"], "iterations": 3}).fit(synth_split.train)
    rows = np.arange(10, dtype=np.int32)
    np.testing.assert_allclose(model.score_users(rows), three.score_users(rows), rtol=1e-5, atol=1e-6)


def test_divergence_raises_a_model_error(synth_split):
    with pytest.raises(ModelError, match="diverged"):
        ImplicitALS(init_scale=1e30, **FAST["ials"]).fit(synth_split.train)


def test_seed_decides_the_factors(synth_split):
    train = synth_split.train
    a = ImplicitALS(seed=1, **FAST["ials"]).fit(train).movie_factors
    b = ImplicitALS(seed=1, **FAST["ials"]).fit(train).movie_factors
    c = ImplicitALS(seed=2, **FAST["ials"]).fit(train).movie_factors
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize(
    "name, params",
    [("ials", {"factors": 0}), ("ials", {"unobserved_weight": -1.0}), ("ease", {"regularization": 0.0}),
     ("ease", {"max_movies": 0}), ("hybrid", {"ials_weight": -0.5}), ("hybrid", {"exposure_discount": -0.1}),
     ("hybrid", {"exposure_depth": 0})],
)
def test_bad_parameters_are_refused(name, params, synth_split):
    with pytest.raises(ValueError, match=next(iter(params))):
        make_model(name, **params).fit(synth_split.train)


@pytest.mark.slow
def test_default_reaches_ndcg_030_on_ml_latest_small(shared_data):
    """The issue's bar: NDCG@10 >= 0.30 on the per-user 80/20 split (seed 42), beating EASE; and
    the exposure discount's coverage (0.077 measured, 0.044 without it)."""
    train, test = user_holdout(load("ml-latest-small", shared_data), 0.2, seed=42)
    ours = ranking_metrics(make_model(DEFAULT_RANKING, device="cpu").fit(train).score_users, train, test)
    assert ours.ndcg >= 0.30 and ours.coverage >= 0.07, ours
