"""Blocked top-N (eval/topn.py) against ranking every movie at once."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.data.synthetic import generate
from movierec.eval import topn
from movierec.eval.topn import dense_block_scorer, popularity_order, top_unseen
from movierec.models import make_model

FAST = {
    "mf": {"epochs": 3},
    "ials": {"iterations": 3},
    "ease": {"max_movies": 400},
    "hybrid": {"iterations": 3, "max_movies": 300},
    "popularity": {},
}
# Plus the hybrid with a long tail that iALS ranks alone, under a strong exposure discount.
CASES = [(name, FAST[name]) for name in sorted(FAST)] + [("hybrid", {"iterations": 3, "max_movies": 50, "exposure_discount": 0.5})]


@pytest.fixture(scope="module")
def data():
    return generate(n_users=300, n_movies=2000, n_ratings=25_000, seed=3).dataset


@pytest.fixture
def small_tiles(monkeypatch):
    """Tiles of 100 users x 64 movies: many blocks, many tiles, a short last one of each."""
    monkeypatch.setitem(topn.TILE_BYTES, "cpu", 4 * 100 * 64)
    monkeypatch.setitem(topn.USER_BLOCK, "cpu", 100)


def brute_force(model, data, k):
    seen = data.matrix(np.ones(data.n_ratings, np.float32))
    scores = np.array(model.score_users(np.arange(data.n_users)), np.float32)
    scores[seen.nonzero()] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return top, np.take_along_axis(scores, top, 1)


@pytest.mark.parametrize("name, params", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_tiles_give_the_full_ranking(name, params, data, small_tiles):
    model = make_model(name, **params, **({"device": "cpu"} if name != "popularity" else {})).fit(data)
    seen = data.matrix(np.ones(data.n_ratings, np.float32))
    order = popularity_order(seen)
    users = np.arange(data.n_users)
    blocks = list(top_unseen(model.score_tiles(order), users, seen, order, 10))
    assert [offset for offset, _, _ in blocks] == [0, 100, 200]
    movies = np.concatenate([b[1] for b in blocks])
    scores = np.concatenate([b[2] for b in blocks])
    expected, expected_scores = brute_force(model, data, 11)  # the 11th tells whether the 10th is tied
    assert np.allclose(scores, expected_scores[:, :10], rtol=1e-5, atol=1e-5)
    # Same movies wherever the scores are not (near-)tied with a neighbour.
    gaps = np.abs(np.diff(expected_scores, axis=1)) > 1e-5
    clear = np.concatenate([np.ones((data.n_users, 1), bool), gaps[:, :-1]], 1) & gaps
    assert clear.mean() > 0.5
    assert (movies[clear] == expected[:, :10][clear]).all()
    assert not set(zip(*seen.nonzero())) & {(u, m) for u in users for m in movies[u]}


def test_users_with_few_unseen_movies_get_padding(small_tiles):
    data = generate(n_users=40, n_movies=100, n_ratings=700, seed=1).dataset
    model = make_model("ials", iterations=2, device="cpu").fit(data)
    seen = data.matrix(np.ones(data.n_ratings, np.float32))
    order = popularity_order(seen)
    k = data.n_movies
    (_, movies, scores), *_ = top_unseen(model.score_tiles(order), np.arange(data.n_users), seen, order, k)
    unseen = data.n_movies - np.diff(seen.indptr)
    assert ((movies >= 0).sum(1) == unseen).all()
    assert np.isneginf(scores[movies < 0]).all()
    dense = list(top_unseen(dense_block_scorer(model.score_users, order), np.arange(data.n_users), seen, order, k))[0]
    assert ((dense[1] >= 0) == (movies >= 0)).all()
