"""evaluation.evaluate on small synthetic data: one table, honest metrics, unknown pairs, k-fold."""

from __future__ import annotations

import json

import numpy as np
import pytest

from movierec import Dataset
from movierec.data.synthetic import generate
from movierec.eval.evaluation import evaluate, rating_scores
from movierec.eval.splits import Split, kfold, random_holdout, temporal, user_holdout
from movierec.models import make_model


@pytest.fixture(scope="module")
def synth():
    return generate(n_users=300, n_movies=600, n_ratings=15_000, seed=11)


@pytest.fixture(scope="module")
def data(synth):
    return synth.dataset


def test_default_protocol_rating_metrics_on_random_ranking_on_user_split(data):
    steps = []
    result = evaluate(
        ["mean", "biases", "popularity"],
        random_holdout(data, 0.2, 42),
        ranking_splits=user_holdout(data, 0.2, 42),
        split_name="random",
        ranking_split_name="user",
        progress=steps.append,
    )
    assert [r["model"] for r in result.rows] == ["mean", "biases", "popularity"]
    assert result.columns == ["rmse", "mae", "precision@10", "recall@10", "ndcg@10", "hit_rate@10", "coverage", "novelty", "diversity", "fit_s"]
    mean, biases, popularity = result.rows
    assert popularity["rmse"] is None and popularity["unknown"] is None  # a ranking model predicts no stars
    assert biases["rmse"] < mean["rmse"] and biases["mae"] < mean["mae"]
    assert popularity["ndcg@10"] > mean["ndcg@10"]  # the power law makes popularity a real baseline
    assert all(0 <= r[c] <= 1 for r in result.rows for c in result.columns[2:7])
    assert result.rating_split == "random" and result.ranking_split == "user" and result.folds == 1
    # rating models fit once per split, the ranking model once: 5 fits, each reported when done
    assert sum(step.event is None for step in steps) == 5
    assert {(s.model, s.purpose) for s in steps if s.event is None} == {
        ("mean", "rating"), ("biases", "rating"), ("mean", "ranking"), ("biases", "ranking"), ("popularity", "ranking")
    }
    json.dumps(result.as_dict())  # plain values only


def test_mean_model_rmse_is_the_spread_around_the_training_mean(data):
    split = random_holdout(data, 0.25, 7)
    row = evaluate(["mean"], split).rows[0]
    expected = np.sqrt(np.mean((split.test.ratings.astype(np.float64) - split.train.ratings.mean(dtype=np.float64)) ** 2))
    assert row["rmse"] == pytest.approx(expected, rel=1e-5)


def test_one_split_for_everything_gives_rating_models_both_kinds_of_metric(data):
    steps = []
    result = evaluate(["biases", "popularity"], user_holdout(data, 0.2, 1), progress=steps.append)
    biases, popularity = result.rows
    assert biases["rmse"] is not None and biases["ndcg@10"] is not None
    assert popularity["rmse"] is None and popularity["ndcg@10"] is not None
    assert sum(step.event is None for step in steps) == 2  # one fit each
    assert {s.purpose for s in steps} == {"both"}


def test_kfold_reports_the_mean_and_spread_of_the_folds(data):
    result = evaluate(["biases"], kfold(data, 3, seed=5), k=5)
    row = result.rows[0]
    per_fold = [evaluate(["biases"], split, k=5).rows[0] for split in kfold(data, 3, seed=5)]
    assert result.folds == 3
    assert row["rmse"] == pytest.approx(np.mean([r["rmse"] for r in per_fold]))
    assert row["rmse_std"] == pytest.approx(np.std([r["rmse"] for r in per_fold]))
    assert row["ndcg@5"] == pytest.approx(np.mean([r["ndcg@5"] for r in per_fold]))
    assert row["rmse_std"] > 0 and "fit_s_std" in row


def test_unknown_users_and_movies_get_the_fallback_and_are_counted(tiny):
    # user 4 rated only movie 10 and movie 50 is rated by users 3 and 6: hold those out
    users, movies = tiny.user_vocab.ids[tiny.users], tiny.movie_vocab.ids[tiny.movies]
    test = (users == 4) | (movies == 50) | ((users == 1) & (movies == 20))
    split = Split(tiny.subset(~test), tiny.subset(test))
    row = evaluate(["biases"], split).rows[0]
    assert row["unknown"] == 3  # (4, 10), (3, 50), (6, 50); (1, 20) is known

    model = make_model("biases").fit(split.train)
    scores, n_unknown = rating_scores(model, split)
    assert n_unknown == 3
    # the fallback: an unknown user gets mean + movie bias, an unknown movie mean + user bias
    u, m = split.test.users, split.test.movies
    seen_u, seen_m = split.train.user_counts()[u] > 0, split.train.movie_counts()[m] > 0
    expected = (
        model.mean + np.where(seen_u, model.user_bias[u], 0) + np.where(seen_m, model.movie_bias[m], 0)
    ).clip(0.5, 5.0)
    assert scores["rmse"] == pytest.approx(np.sqrt(np.mean((expected - split.test.ratings) ** 2)), rel=1e-5)
    assert row["rmse"] == pytest.approx(scores["rmse"])


def test_predictions_are_clipped_to_the_rating_scale():
    # Undamped biases: user 1 loves movie 1, which everyone loves, so the raw prediction tops 5.
    data = Dataset.from_ids([1, 1, 2, 2, 3], [1, 2, 1, 2, 3], [5.0, 5.0, 5.0, 1.0, 1.0])
    model = make_model("biases", user_damping=0.0, movie_damping=0.0).fit(data)
    raw = model.predict(data.users, data.movies)
    assert raw.max() > 5.0
    scores, _ = rating_scores(model, Split(data, data))
    assert scores["rmse"] == pytest.approx(np.sqrt(np.mean((raw.clip(0.5, 5.0) - data.ratings) ** 2)), rel=1e-5)
    assert scores["rmse"] < np.sqrt(np.mean((raw - data.ratings) ** 2))


def test_params_reach_the_models(data):
    split = random_holdout(data, 0.2, 3)
    default = evaluate(["biases"], split).rows[0]["rmse"]
    undamped = evaluate(["biases"], split, params={"biases": {"user_damping": 0.0, "movie_damping": 0.0}}).rows[0]["rmse"]
    assert undamped != default


@pytest.mark.slow
def test_a_factor_model_approaches_the_noise_floor():
    # Dense, rank 4: enough ratings per parameter that MF's estimation error stays small.
    synth = generate(n_users=2000, n_movies=200, n_ratings=60_000, rank=4, noise=0.5, seed=2)
    split = random_holdout(synth.dataset, 0.2, 42)
    mf = {"device": "cpu", "factors": 4, "reg": 0.05, "bias_reg": 0.1}  # pinned: defaults are tuned on real data
    result = evaluate(["biases", "mf"], split, params={"mf": mf})
    rows = {r["model"]: r for r in result.rows}
    oracle = synth.oracle_rmse  # noise + half-star rounding, measured: about 0.50
    assert rows["mf"]["rmse"] < rows["biases"]["rmse"] - 0.1
    assert oracle - 0.03 < rows["mf"]["rmse"] < oracle + 0.1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(models=["nope"]), "unknown model 'nope'"),
        (dict(models=[]), "no models to evaluate"),
        (dict(models=["mean"], k=0), "k must be at least 1"),
        (dict(models=["mean"], params={"mf": {"epochs": 1}}), "params given for mf"),
        (dict(models=["biases"], params={"biases": {"speed": 1}}), "biases has no parameter speed"),
    ],
)
def test_bad_requests_fail_before_or_at_training(tiny, kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluate(splits=Split(tiny, tiny), **kwargs)


def test_no_splits_is_an_error():
    with pytest.raises(ValueError, match="no splits to evaluate on"):
        evaluate(["mean"], iter([]))


def test_an_empty_test_part_is_an_error(tiny):
    with pytest.raises(ValueError, match="has 12 train and 0 test ratings; expected both parts non-empty"):
        evaluate(["mean"], temporal(tiny, at=10**9))


def test_planted_taste_lets_a_personal_ranker_beat_popularity():
    # Users pick movies by genre taste, so item-item structure carries signal beyond popularity.
    data = generate(n_users=600, n_movies=1500, n_ratings=40_000, seed=1).dataset
    rows = {r["model"]: r for r in evaluate(["popularity", "ease"], user_holdout(data, 0.2, 42)).rows}
    assert rows["ease"]["ndcg@10"] > rows["popularity"]["ndcg@10"] + 0.03


def test_novelty_is_mean_self_information_and_diversity_the_mean_genre_distance():
    from movierec.eval.metrics import genre_diversity, self_information

    # 8 users: a movie everyone rated carries 0 bits, one rated by 2 of them 2 bits; unrated counts as once.
    assert self_information(np.array([8, 2, 0]), 8).tolist() == [0.0, 2.0, 3.0]
    same = np.array([[[1, 0], [1, 0], [1, 0]]], bool)
    apart = np.array([[[1, 0], [0, 1], [1, 1]]], bool)  # distances 1, 1/2, 1/2
    assert genre_diversity(same).tolist() == [0.0]
    assert np.allclose(genre_diversity(apart), [2 / 3])


def test_popularity_lists_are_the_least_novel(data):
    result = evaluate(["popularity", "ease"], user_holdout(data, 0.2, 42))
    popularity, ease = result.rows
    assert 0 <= popularity["novelty"] < ease["novelty"]
    assert 0 < popularity["diversity"] <= 1 and 0 < ease["diversity"] <= 1
