"""Recommendations people can trust: neighbours that find the planted sequel, explanations
that are true (the counterfactual test), and the explore control."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.data.synthetic import generate
from movierec.errors import DataError
from movierec.eval.metrics import self_information
from movierec.recommend.artifact import load, save
from movierec.recommend.novelty import DEFAULT_EXPLORE
from movierec.recommend.recommender import Recommender
from movierec.recommend.similarity import CoRatings, affordable_cap, counterfactual, explain

FAST = {"mf": {"epochs": 6, "factors": 8, "device": "cpu"}, "hybrid": {"iterations": 4, "factors": 16, "device": "cpu"}}


@pytest.fixture(scope="module")
def synth():
    return generate(n_users=400, n_movies=800, n_ratings=20_000, seed=11, sequels=6)


@pytest.fixture(scope="module")
def rec(synth):
    return Recommender.fit(synth.dataset, rating_params=FAST["mf"], ranking_params=FAST["hybrid"])  # the defaults


def test_planting_sequels_leaves_the_other_ratings_as_they_were():
    plain, planted = generate(n_users=200, n_movies=500, n_ratings=6_000, seed=4), generate(
        n_users=200, n_movies=500, n_ratings=6_000, seed=4, sequels=3
    )
    a, b = plain.dataset, planted.dataset
    assert plain.sequels.shape == (0, 2) and planted.sequels.shape == (3, 2)
    n = a.n_ratings
    assert np.array_equal(a.movie_vocab.ids[a.movies], b.movie_vocab.ids[b.movies[:n]])
    assert np.array_equal(a.ratings, b.ratings[:n]) and np.array_equal(a.users, b.users[:n])
    assert set(planted.sequels[:, 1].tolist()).isdisjoint(a.movie_vocab.ids.tolist())  # sequels were unrated


def test_a_planted_sequel_and_its_original_are_mutual_nearest_neighbours(rec, synth):
    for original, sequel in synth.sequels.tolist():
        assert rec.similar(original, n=1)[0].movie_id == sequel
        assert rec.similar(sequel, n=1)[0].movie_id == original


def test_a_folder_saved_without_neighbours_computes_the_same_ones(rec, synth, tmp_path):
    movie = int(synth.sequels[0, 0])
    artifact = load(save(rec.artifact, tmp_path / "new"))
    assert artifact.neighbours is not None
    artifact.neighbours = None  # as written before neighbours were stored
    save(artifact, tmp_path / "old")
    old = Recommender.load(tmp_path / "old")
    assert old.artifact.neighbours is None
    assert old.similar(movie, n=10) == rec.similar(movie, n=10)
    assert old.similar(movie, n=10, min_ratings=15) == rec.similar(movie, n=10, min_ratings=15)


def test_co_rating_work_is_capped_to_its_budget():
    """Heavy raters are subsampled to 1,000 movies; past the pair budget the cap comes down
    until sum(min(n_u, cap)^2) fits it, and never below one."""
    counts = np.array([5, 50, 3000])
    assert affordable_cap(counts, 1000, 1e9) == 1000
    cap = affordable_cap(counts, 1000, 10_000)
    assert sum(min(n, cap) ** 2 for n in counts) <= 10_000 < sum(min(n, cap + 1) ** 2 for n in counts)
    assert affordable_cap(counts, 1000, 1) == 1
    seen = sp.csr_matrix(np.ones((3, 2000), np.float32))
    assert np.diff(CoRatings(seen).by_user.indptr).max() <= 1000 * 1.2  # each rating kept with chance 1000/2000


@pytest.mark.parametrize("kind", ["ranking", "rating"])
def test_removing_the_explaining_movies_lowers_the_score_more_than_random_ones(rec, synth, kind):
    """The counterfactual test, for both default models (the rating model explains a Recommender
    that has no ranking model): true for at least 90% of recommendations."""
    model = rec.ranking if kind == "ranking" else rec.rating
    data = synth.dataset
    rng = np.random.default_rng(0)
    wins = total = 0
    for row in range(0, data.n_users, 20):
        movies, stars = data.movies[data.users == row], data.ratings[data.users == row]
        if movies.size < 8:
            continue
        scores = model.fold_in(movies, stars)
        scores[movies] = -np.inf
        picks = np.argsort(-scores)[:5]
        for pick, because in zip(picks, explain(model, movies, stars, picks)):
            if not because:
                continue
            explained, random = counterfactual(model, movies, stars, int(pick), because, rng)
            wins += explained > random
            total += 1
    assert total >= 50 and wins >= 0.9 * total


def test_explore_trades_score_for_novelty(rec, synth):
    data = synth.dataset
    information = self_information(data.movie_counts(), data.n_users)
    user = int(data.user_vocab.ids[5])
    base = rec.recommend(user, n=10, explore=0.0)
    assert [r.score for r in base] == sorted((r.score for r in base), reverse=True)  # the model's order
    default = rec.recommend(user, n=10)
    assert [r.movie_id for r in default] == [r.movie_id for r in rec.recommend(user, n=10, explore=DEFAULT_EXPLORE)]

    def novelty(recs):
        return float(np.mean(information[data.movie_vocab.index([r.movie_id for r in recs])]))

    bold = rec.recommend(user, n=10, explore=1.0)
    assert len(bold) == 10 and novelty(bold) > novelty(base)
    assert min(r.score for r in base) >= max(sorted(r.score for r in bold)[:1])  # paid for in model score
    assert not {r.movie_id for r in bold} & set(rec.user_ratings(user)[0].tolist())
    horror = rec.recommend_for_ratings({int(data.movie_vocab.ids[0]): 5.0}, n=5, genres=["Drama"], explore=0.5)
    assert all("Drama" in r.genres for r in horror)
    for bad in (-0.1, 1.5, float("nan"), "lots"):
        with pytest.raises(DataError, match="explore"):
            rec.recommend(user, explore=bad)


def test_a_neighbour_build_shared_by_two_threads_gives_the_direct_lists(synth):
    """The side build at the lowest priority and the caller joining in take each block once,
    and their lists are those of a direct build."""
    import os
    import sys
    import threading

    from movierec.recommend import similarity
    from movierec.recommend.similarity import NeighbourBuild, Neighbours
    from movierec.recommend.training import yield_cpu

    seen = synth.dataset.matrix()
    direct = Neighbours.build(seen)
    job = NeighbourBuild(CoRatings(seen))
    taken, nice = [], []

    def side():
        yield_cpu()
        nice.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        job.work(lambda: taken.append(("side", job.done)))

    thread = threading.Thread(target=side)
    thread.start()
    job.work(lambda: taken.append(("caller", job.done)))
    thread.join()
    result = job.result()
    np.testing.assert_array_equal(result.indices, direct.indices)
    np.testing.assert_array_equal(result.similarities, direct.similarities)
    assert sorted(done for _, done in taken)[-1] == job.done == seen.shape[1]
    assert len(taken) == len(range(0, seen.shape[1], similarity.BLOCK_MOVIES))  # each block once
    if sys.platform.startswith("linux"):
        assert nice == [19] and os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) != 19  # that thread only
