"""Films of one series (titles sharing a franchise name) and the boost they get in `similar`."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.data.series import MAX_SERIES, MIN_SHARED, NAMED, PREFIX, SERIES_BOOST, same_series
from movierec.data.synthetic import generate
from movierec.recommend.recommender import Recommender
from movierec.recommend.similarity import CoRatings

TITLES = [
    "Toy Story (1995)",
    "Toy Story 2 (1999)",
    "Godfather, The (1972)",
    "Godfather: Part II, The (1974)",
    "Jurassic Park (1993)",
    "Lost World: Jurassic Park, The (1997)",
    "Doors, The (1991)",
    "Sliding Doors (1998)",
    "Matrix, The (1999)",
    "Matrix Reloaded, The (2003)",
    "Kill Bill: Vol. 1 (2003)",
    "Kill Bill: Vol. 2 (2004)",
    "Ocean's Eleven (2001)",
    "Ocean's Twelve (2004)",
    "Seven (a.k.a. Se7en) (1995)",
    "Heat (1995)",
    "",
    "Star Wars: Episode IV - A New Hope (1977)",
    "Star Wars: Episode V - The Empire Strikes Back (1980)",
]


def pairs(matrix: sp.csr_matrix) -> set[tuple[int, int]]:
    coo = sp.triu(matrix, 1).tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist()))


def test_sequels_prequels_and_remakes_share_a_series_and_chance_words_do_not():
    series = same_series(TITLES)
    assert series.shape == (len(TITLES), len(TITLES)) and (series != series.T).nnz == 0
    assert series.diagonal().sum() == 0
    # "Doors" is only a word inside "Sliding Doors"; "Seven" is all sequel marker; "" has no title
    assert pairs(series) == {(0, 1), (2, 3), (4, 5), (8, 9), (10, 11), (12, 13), (17, 18)}
    assert series[8, 9] == PREFIX  # "matrix" only starts "matrix reloaded": the ratings must bear it out
    assert all(series[i, j] == NAMED for i, j in pairs(series) - {(8, 9)})


def test_a_name_in_too_many_titles_is_a_phrase_not_a_series():
    common = ["Red (2010)"] + [f"Red Letter Day {i} ({1990 + i})" for i in range(MAX_SERIES + 1)]
    assert same_series(common).nnz == 0
    assert same_series(common[: MAX_SERIES - 1]).nnz > 0  # as many as a series may hold
    assert same_series([]).shape == (0, 0)
    placeholders = [f"Movie {i}" for i in range(50_000)]  # one name, every title: no 50000² join
    assert same_series(placeholders).nnz == 0


def test_the_boost_multiplies_only_pairs_that_share_raters():
    seen = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], np.float32))
    series = same_series(["Foo (1990)", "Foo 2 (1992)", "Foo 3 (1995)"])
    plain, boosted = CoRatings(seen).rows(np.arange(3)), CoRatings(seen, series).rows(np.arange(3))
    assert plain[0, 1] > 0 and np.isclose(boosted[0, 1], (1 + SERIES_BOOST) * plain[0, 1])
    assert boosted[0, 2] == 0 and boosted[2, 1] == 0  # of one series, but nobody rated both


def test_a_one_word_prefix_counts_only_when_the_films_share_their_audience():
    titles = ["Matrix, The (1999)", "Matrix Reloaded, The (2003)", "Blade (1998)", "Blade Runner (1982)"]
    both = MIN_SHARED + 1
    seen = np.zeros((40, 4), np.float32)
    seen[:, 0] = 1  # everyone rated The Matrix; its sequel's raters all did
    seen[:both, 1] = 1
    seen[:both, 2] = 1  # Blade's raters: a few rated Blade Runner too, most did not
    seen[both - 2 : both + 10, 3] = 1
    co = CoRatings(sp.csr_matrix(seen), same_series(titles))
    plain = CoRatings(sp.csr_matrix(seen)).rows(np.arange(4))
    sims = co.rows(np.arange(4))
    assert np.isclose(sims[0, 1], (1 + SERIES_BOOST) * plain[0, 1]) and np.isclose(sims[1, 0], (1 + SERIES_BOOST) * plain[1, 0])
    assert sims[2, 3] == plain[2, 3] > 0 and sims[3, 2] == plain[3, 2]


def test_similar_puts_a_titled_sequel_first_when_co_ratings_alone_do_not(tmp_path):
    data = generate(n_users=300, n_movies=400, n_ratings=12_000, seed=3).dataset
    original = int(np.argmax(data.movie_counts()))
    plain = CoRatings(data.matrix()).rows(np.array([original]))[0]
    sequel = int(np.argsort(-plain)[5])  # the sixth nearest by co-ratings
    catalog = data.catalog
    titles = catalog.titles.copy()
    rows = catalog.rows(data.movie_vocab.ids[[original, sequel]])
    titles[rows] = ["Foo (1990)", "Foo 2 (1992)"]
    data = dataclasses.replace(data, catalog=dataclasses.replace(catalog, titles=titles))
    rec = Recommender.fit(data, rating=None, ranking="ials", ranking_params={"factors": 8, "iterations": 2})
    ids = data.movie_vocab.ids
    assert rec.similar(int(ids[original]), n=1)[0].movie_id == ids[sequel]
    rec.artifact.neighbours = None  # a folder saved without neighbours: computed from its catalog
    again = Recommender(rec.artifact)
    assert again.similar(int(ids[original]), n=1)[0].movie_id == ids[sequel]


def test_the_hybrid_lifts_the_movies_of_a_series_the_user_liked_in_every_path():
    from movierec.eval.topn import popularity_order, top_unseen
    from movierec.models import make_model

    data = generate(n_users=300, n_movies=400, n_ratings=12_000, seed=5).dataset
    counts = data.movie_counts()
    original, sequel = np.argsort(-counts)[[0, 40]]
    titles = data.catalog.titles.copy()
    titles[data.catalog.rows(data.movie_vocab.ids[[original, sequel]])] = ["Foo (1990)", "Foo 2 (1992)"]
    data = dataclasses.replace(data, catalog=dataclasses.replace(data.catalog, titles=titles))
    model = make_model("hybrid", iterations=3, factors=8, device="cpu").fit(data)
    plain = type(model).from_state({**model.get_params(), "series_boost": 0.0}, model.get_state())
    seen = data.matrix()
    stars = seen.toarray()
    liked = np.flatnonzero((stars[:, original] >= 4) & (stars[:, sequel] == 0))
    other = np.flatnonzero((stars[:, original] > 0) & (stars[:, original] < 4) & (stars[:, sequel] == 0))
    assert liked.size and other.size
    users = np.concatenate([liked, other])
    boosted, unboosted = model.score_users(users)[:, sequel], plain.score_users(users)[:, sequel]
    factor = np.float32(1 + model.config.series_boost)
    lifted = np.where(unboosted > 0, unboosted * factor, unboosted / factor)
    expected = np.where(np.arange(users.size) < liked.size, lifted, unboosted)
    np.testing.assert_allclose(boosted, expected, rtol=1e-5)
    # the blocked top-N path scores the same
    order = popularity_order(seen)
    tile = model.score_tiles(order, "cpu")(users)(0, order.size, None).numpy()
    np.testing.assert_allclose(tile[:, np.flatnonzero(order == sequel)[0]], boosted, rtol=1e-5)
    for _, top, scores in top_unseen(model.score_tiles(order, "cpu"), users, seen, order, 5):
        np.testing.assert_allclose(scores, np.take_along_axis(model.score_users(users), top, 1), rtol=1e-5)
    # a new user: fold-in, and explanations that still sum to the score
    user = liked[0]
    movies, ratings = np.flatnonzero(stars[user]), stars[user][stars[user] > 0]
    folded, flat = model.fold_in(movies, ratings), plain.fold_in(movies, ratings)
    assert folded[sequel] == pytest.approx(flat[sequel] * factor if flat[sequel] > 0 else flat[sequel] / factor, rel=1e-5)
    targets = np.array([sequel, *np.argsort(-folded)[:5]])
    np.testing.assert_allclose(model.contributions(movies, ratings, targets).sum(1), folded[targets], rtol=1e-4, atol=1e-6)
