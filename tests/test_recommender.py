"""The Recommender: ids in, recommendations out; filters, seen movies, explanations, fold-in."""

from __future__ import annotations

import json

import numpy as np
import pytest

from movierec.data.synthetic import generate
from movierec.errors import DataError, ModelError, UnknownIdError
from movierec.recommend.recommender import Recommender

FAST_MF = {"epochs": 6, "factors": 8, "device": "cpu"}
FAST_IALS = {"iterations": 6, "factors": 8, "device": "cpu"}


@pytest.fixture(scope="module")
def data():
    return generate(n_users=150, n_movies=300, n_ratings=8_000, rank=4, noise=0.3, seed=5).dataset


@pytest.fixture(scope="module")
def rec(data):
    return Recommender.fit(data, rating="mf", ranking="ials", rating_params=FAST_MF, ranking_params=FAST_IALS)


@pytest.fixture(scope="module")
def plain(data):
    """No model with movie embeddings; explanations are EASE's weights."""
    return Recommender.fit(data, rating="biases", ranking="ease")


def seen_ids(data, user_id):
    row = data.user_vocab.index([user_id])[0]
    return set(data.movie_vocab.ids[data.movies[data.users == row]].tolist())


@pytest.fixture(scope="module")
def users(data):
    return data.user_vocab.ids[:: max(1, data.n_users // 12)].tolist()


def test_recommend_never_returns_rated_movies(rec, data, users):
    for user in users:
        recs = rec.recommend(user, n=20, explore=0.0)  # the model's order
        assert len(recs) == 20
        assert not seen_ids(data, user) & {r.movie_id for r in recs}
        scores = [r.score for r in recs]
        assert scores == sorted(scores, reverse=True)


def test_recommendation_fields(rec, data, users):
    low, high = data.rating_scale
    for r in rec.recommend(users[0], n=5):
        row = data.catalog.rows([r.movie_id])[0]
        assert r.title == data.catalog.titles[row] and r.genres == data.catalog.genres_of(row)
        assert low <= r.predicted_rating <= high
        assert r.predicted_rating == pytest.approx(float(rec.predict([users[0]], [r.movie_id])[0]), abs=1e-3)
        json.dumps(r.as_dict())  # plain values only


def test_explanations_are_the_rated_movies_adding_most_to_the_score(rec, data, users):
    for user in users:
        movies, stars = rec.user_ratings(user)
        rated = dict(zip(movies.tolist(), stars.tolist()))
        rows = data.movie_vocab.index(movies)
        for r in rec.recommend(user, n=5):
            assert 1 <= len(r.because) <= 3
            target = data.movie_vocab.index([r.movie_id])
            shares = dict(zip(movies.tolist(), rec.ranking.contributions(rows, stars, target)[0].tolist()))
            given = [shares[reason["movie_id"]] for reason in r.because]
            assert all(rated[reason["movie_id"]] == reason["rating"] for reason in r.because)
            assert given == sorted(given, reverse=True) and min(given) > 0  # never one that lowers the score
            assert min(given) >= sorted(shares.values(), reverse=True)[len(given) - 1] - 1e-6  # the largest ones


def test_genre_and_year_filters(rec, data, users):
    names = data.catalog.genre_names
    genre = names[int(np.argmax(data.catalog.genres.sum(axis=0)))]
    recs = rec.recommend(users[1], n=10, genres=[genre.lower()], year_from=1990, year_to=2010)
    assert recs
    for r in recs:
        assert genre in r.genres and 1990 <= r.year <= 2010
    two = rec.recommend(users[1], n=10, genres=[names[0], names[1]])
    assert all({names[0], names[1]} <= set(r.genres) for r in two)
    with pytest.raises(DataError, match="unknown genre 'Westerns'"):
        rec.recommend(users[1], genres=["Westerns"])


def test_filters_can_leave_nothing(rec, users):
    assert rec.recommend(users[0], n=10, year_from=3000) == []


def test_unknown_user(rec):
    with pytest.raises(UnknownIdError, match="unknown user"):
        rec.recommend(-5)


def test_batch_matches_single_user(rec, users):
    """The batch ranks by the model's score alone: explore 0."""
    ids, scores = rec.recommend_batch(users, n=7)
    assert ids.shape == scores.shape == (len(users), 7) and ids.dtype == np.int64 and scores.dtype == np.float32
    for i, user in enumerate(users):
        single = rec.recommend(user, n=7, explore=0.0)
        assert ids[i].tolist() == [r.movie_id for r in single]
        np.testing.assert_allclose(scores[i], [r.score for r in single], rtol=1e-6)


def test_fold_in_of_a_training_user_agrees_with_their_recommendations(rec, users):
    """Folding in a known user's own ratings must land near that user's trained recommendations."""
    overlaps = []
    for user in users:
        movies, stars = rec.user_ratings(user)
        new = {r.movie_id for r in rec.recommend_for_ratings(dict(zip(movies.tolist(), stars.tolist())), n=10)}
        old = {r.movie_id for r in rec.recommend(user, n=10)}
        assert not new & set(movies.tolist())
        overlaps.append(len(new & old) / 10)
    assert np.mean(overlaps) >= 0.5


def test_new_user_ratings_change_the_recommendations(rec, data):
    by_genre = data.catalog.genres[data.catalog.rows(data.movie_vocab.ids)]
    picks = []
    for column in (0, 1):
        movies = data.movie_vocab.ids[by_genre[:, column]][:5]
        picks.append([r.movie_id for r in rec.recommend_for_ratings({int(m): 5.0 for m in movies}, n=10)])
    assert picks[0] != picks[1]


def test_new_user_input_checks(rec, data):
    movie = int(data.movie_vocab.ids[0])
    with pytest.raises(DataError, match="outside the rating scale"):
        rec.recommend_for_ratings({movie: 9})
    with pytest.raises(UnknownIdError, match="not in the catalog"):
        rec.recommend_for_ratings({123456789: 4})
    with pytest.raises(UnknownIdError, match="not in the catalog"):
        rec.find_movie(10**20)  # past int64: an unknown id, not an OverflowError
    unrated = np.setdiff1d(data.catalog.movie_ids, data.movie_vocab.ids)
    assert unrated.size  # the generator leaves some catalog movies unrated
    assert rec.recommend_for_ratings({int(unrated[0]): 4.0, movie: 4.0}, n=3)  # the unrated one is ignored
    assert len(rec.recommend_for_ratings({}, n=4)) == 4  # nothing rated yet: still an answer


def test_similar(rec, data):
    movie = int(data.movie_vocab.ids[np.argmax(data.movie_counts())])
    sims = rec.similar(movie, n=8, min_ratings=5)
    assert len(sims) == 8 and movie not in {s.movie_id for s in sims}
    values = [s.similarity for s in sims]
    assert values == sorted(values, reverse=True) and all(0 < v <= 1 for v in values)
    counts = dict(zip(data.movie_vocab.ids.tolist(), data.movie_counts().tolist()))
    assert all(counts[s.movie_id] >= 5 for s in sims)
    with pytest.raises(UnknownIdError, match="no ratings in the training data"):
        rec.similar(int(np.setdiff1d(data.catalog.movie_ids, data.movie_vocab.ids)[0]))
    with pytest.raises(UnknownIdError, match="not in the catalog"):
        rec.similar(123456789)


def test_similarity_comes_from_co_ratings(plain, data):
    movie = int(data.movie_vocab.ids[np.argmax(data.movie_counts())])
    sims = plain.similar(movie, n=5)
    raters = set(data.users[data.movies == data.movie_vocab.index([movie])[0]].tolist())
    for s in sims:  # a neighbour shares raters with the movie
        other = data.movie_vocab.index([s.movie_id])[0]
        assert raters & set(data.users[data.movies == other].tolist()) and s.similarity > 0
    user = int(data.user_vocab.ids[0])
    assert any(r.because for r in plain.recommend(user, n=5))


def test_movies_users_and_titles(rec, data):
    row = int(np.argmax(data.movie_counts()))
    movie = int(data.movie_vocab.ids[row])
    info = rec.movie_info(movie)
    mask = data.movies == row
    assert info["n_ratings"] == int(mask.sum())
    assert info["mean_rating"] == pytest.approx(float(data.ratings[mask].mean()), abs=1e-3)
    title = info["title"]
    assert rec.find_movie(title) == movie
    assert rec.find_movie(str(movie)) == movie and rec.find_movie(movie) == movie
    assert rec.search(title, limit=3)[0]["movie_id"] == movie
    with pytest.raises(UnknownIdError):
        rec.find_movie("no such film at all (1901)")
    with pytest.raises(UnknownIdError):
        rec.movie_info(123456789)
    user = int(data.user_vocab.ids[3])
    movies, stars = rec.user_ratings(user)
    assert set(movies.tolist()) == seen_ids(data, user) and stars.dtype == np.float32


def test_predict_clips_and_falls_back(rec, data):
    user, movie = int(data.user_vocab.ids[0]), int(data.movie_vocab.ids[0])
    out = rec.predict([user, 10**9, user], [movie, movie, 10**9])
    low, high = data.rating_scale
    assert out.dtype == np.float32 and np.all((out >= low) & (out <= high))


def test_ranking_only_recommender_has_no_stars(data):
    rec = Recommender.fit(data, rating=None, ranking="popularity")
    recs = rec.recommend(int(data.user_vocab.ids[0]), n=3)
    assert len(recs) == 3 and all(r.predicted_rating is None for r in recs)
    with pytest.raises(ModelError, match="no rating model"):
        rec.predict([1], [1])


def test_save_load_gives_the_same_answers(rec, data, users, tmp_path):
    rec.save(tmp_path / "m")
    back = Recommender.load(tmp_path / "m")
    assert back.recommend(users[2], n=10) == rec.recommend(users[2], n=10)
    movie = int(data.movie_vocab.ids[0])
    assert back.similar(movie) == rec.similar(movie)
    assert back.recommend_for_ratings({movie: 4.5}) == rec.recommend_for_ratings({movie: 4.5})
    assert back.info["models"] == rec.info["models"]


def test_holdout_records_metrics(data):
    rec = Recommender.fit(data, rating="biases", ranking="popularity", holdout=0.2)
    metrics = rec.info["metrics"]
    assert 0 < metrics["rating"]["rmse"] < 1.5 and 0 <= metrics["ranking"]["ndcg@10"] <= 1
    assert rec.info["training"]["holdout"] == 0.2
    assert rec.info["counts"]["ratings"] == data.n_ratings  # seen movies are all of them


def test_ctrl_c_keeps_the_model_so_far_and_skips_the_rest(data):
    def press_ctrl_c(event):
        if event.epoch == 2:
            raise KeyboardInterrupt

    rec = Recommender.fit(data, rating="mf", ranking="ials", callback=press_ctrl_c, rating_params=FAST_MF)
    assert rec.rating.interrupted and rec.ranking is None
    assert rec.info["training"]["interrupted"] and "skipped" in rec.info["training"]["ranking"]
    assert len(rec.recommend(int(data.user_vocab.ids[0]), n=3)) == 3


def test_neighbours_built_beside_the_models_are_the_same_and_stop_on_ctrl_c(rec, data):
    """Built on their own thread while the models train: the same lists as a direct build,
    their progress relayed after the models; Ctrl-C there keeps the models, without neighbours."""
    from movierec.models import MOVIES
    from movierec.recommend.similarity import Neighbours

    direct = Neighbours.build(data.matrix())
    np.testing.assert_array_equal(rec.artifact.neighbours.indices, direct.indices)
    seen = []

    def press_ctrl_c_on_movies(event):
        if event.metric == MOVIES:
            seen.append(event.epoch)
            raise KeyboardInterrupt

    stopped = Recommender.fit(data, rating="biases", ranking="popularity", callback=press_ctrl_c_on_movies)
    assert seen and stopped.artifact.neighbours is None and stopped.info["training"]["interrupted"]
    assert stopped.rating is not None and stopped.ranking is not None


def test_low_ratings_are_not_given_as_reasons(rec, data):
    disliked = {int(m): 1.0 for m in data.movie_vocab.ids[:3]}
    recs = rec.recommend_for_ratings(disliked, n=5)
    assert len(recs) == 5 and all(r.because == [] for r in recs)


def test_warm_up_builds_the_lazy_parts_and_changes_no_answer(tmp_path):
    data = generate(n_users=80, n_movies=150, n_ratings=1500, seed=21).dataset
    Recommender.fit(data, rating="biases", ranking="ease").save(tmp_path / "m")
    cold, warm = Recommender.load(tmp_path / "m"), Recommender.load(tmp_path / "m")
    warm.warm_up()
    assert "_titles" in vars(warm) and "_titles" not in vars(cold)
    assert "_history" in vars(warm.ranking) and "_history" not in vars(cold.ranking)
    user = int(data.user_vocab.ids[3])
    assert [r.movie_id for r in warm.recommend(user)] == [r.movie_id for r in cold.recommend(user)]
