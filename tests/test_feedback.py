"""The SQLite feedback store and folding its ratings into a training Dataset."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from movierec import DataError, DataWarning, UnknownIdError
from movierec.serve import FeedbackStore, feedback_ratings, merge_feedback


@pytest.fixture
def store(tmp_path):
    with FeedbackStore(tmp_path / "feedback.db") as s:
        yield s


def test_profiles_are_unguessable_and_distinct(store):
    ids = {store.create_profile() for _ in range(20)}
    assert len(ids) == 20
    assert all(len(i) >= 20 for i in ids)


def test_ratings_add_change_delete(store):
    pid = store.create_profile()
    store.set_ratings(pid, {10: 4.0, 20: 2.5})
    store.set_ratings(pid, {10: 1.5})  # change keeps one row per movie
    movies, ratings, stamps = store.ratings(pid)
    assert dict(zip(movies.tolist(), ratings.tolist())) == {10: 1.5, 20: 2.5}
    assert movies.dtype == np.int64 and ratings.dtype == np.float32 and stamps.dtype == np.int64
    store.delete_rating(pid, 20)
    assert store.ratings(pid)[0].tolist() == [10]
    with pytest.raises(UnknownIdError, match="has not rated movie 20"):
        store.delete_rating(pid, 20)
    assert store.counts() == {"profiles": 1, "ratings": 1}


def test_unknown_profile_is_an_unknown_id(store):
    with pytest.raises(UnknownIdError, match="unknown profile"):
        store.ratings("nope")
    with pytest.raises(UnknownIdError):
        store.set_ratings("nope", {1: 3.0})


def test_delete_profile_removes_its_ratings(store):
    pid = store.create_profile()
    store.set_ratings(pid, {1: 3.0, 2: 4.0})
    store.delete_profile(pid)
    assert store.counts() == {"profiles": 0, "ratings": 0}


def test_store_uses_wal_with_full_sync(store):
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_ratings_survive_reopening(tmp_path):
    path = tmp_path / "f.db"
    with FeedbackStore(path) as s:
        pid = s.create_profile()
        s.set_ratings(pid, {7: 5.0})
    with FeedbackStore(path) as s:
        assert s.ratings(pid)[0].tolist() == [7]


def test_feedback_ratings_numbers_profiles(tmp_path):
    path = tmp_path / "f.db"
    with FeedbackStore(path) as s:
        a, b = s.create_profile(), s.create_profile()
        s.set_ratings(a, {10: 4.0})
        s.set_ratings(b, {20: 3.0, 30: 0.5})
    profiles, movies, ratings, stamps = feedback_ratings(path)
    assert profiles.tolist() == [1, 2, 2]
    assert movies.tolist() == [10, 20, 30]
    assert ratings.tolist() == [4.0, 3.0, 0.5]
    assert profiles.dtype == movies.dtype == stamps.dtype == np.int64 and ratings.dtype == np.float32


def test_feedback_ratings_of_missing_or_foreign_file(tmp_path):
    with pytest.raises(DataError, match="no feedback database"):
        feedback_ratings(tmp_path / "absent.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(DataError, match="not a movierec feedback database"):
        feedback_ratings(junk)


def test_merge_feedback_adds_new_users_without_collisions(tiny, tmp_path):
    path = tmp_path / "f.db"
    with FeedbackStore(path) as s:
        a, b = s.create_profile(), s.create_profile()
        s.set_ratings(a, {10: 4.0, 40: 3.5})  # 40 is in the catalog but nobody rated it
        s.set_ratings(b, {20: 2.0})
    merged = merge_feedback(tiny, path)
    assert merged.n_ratings == tiny.n_ratings + 3
    assert merged.n_users == tiny.n_users + 2
    new_ids = set(merged.user_vocab.ids.tolist()) - set(tiny.user_vocab.ids.tolist())
    assert min(new_ids) > tiny.user_vocab.ids.max()
    assert 40 in merged.movie_vocab
    # the original ratings are untouched
    orig = set(zip(tiny.user_vocab.ids[tiny.users].tolist(), tiny.movie_vocab.ids[tiny.movies].tolist()))
    got = set(zip(merged.user_vocab.ids[merged.users].tolist(), merged.movie_vocab.ids[merged.movies].tolist()))
    assert orig < got
    assert merged.catalog is tiny.catalog and merged.rating_scale == tiny.rating_scale


def test_merge_feedback_drops_unknown_movies_with_a_warning(tiny, tmp_path):
    path = tmp_path / "f.db"
    with FeedbackStore(path) as s:
        pid = s.create_profile()
        s.set_ratings(pid, {10: 4.0, 999: 3.0})
    with pytest.warns(DataWarning, match="dropped 1 of 2"):
        merged = merge_feedback(tiny, path)
    assert merged.n_ratings == tiny.n_ratings + 1
    assert 999 not in merged.movie_vocab


def test_merge_empty_feedback_returns_the_dataset(tiny, tmp_path):
    path = tmp_path / "f.db"
    FeedbackStore(path).close()
    assert merge_feedback(tiny, path) is tiny


def test_train_feedback_adds_visitors_as_users(tmp_path):
    """`movierec train --feedback DB`: the stored ratings become users of the next model."""
    from typer.testing import CliRunner

    from movierec.cli import app
    from movierec.data.synthetic import generate
    from movierec.data.writers import write_release
    from movierec.recommend.recommender import Recommender

    data = generate(n_users=60, n_movies=100, n_ratings=800, seed=3).dataset
    folder = write_release(data, tmp_path / "release")
    db = tmp_path / "feedback.db"
    movies = data.movie_vocab.ids[:3].tolist()
    with FeedbackStore(db) as s:
        s.set_ratings(s.create_profile(), {m: 4.5 for m in movies})
    out = tmp_path / "model"
    result = CliRunner().invoke(
        app,
        ["train", "--data", str(folder), "--feedback", str(db), "-o", str(out),
         "--rating", "biases", "--ranking", "popularity", "--no-holdout"],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    rec = Recommender.load(out)
    new_user = int(data.user_vocab.ids.max()) + 1 + 1  # profile number 1
    assert len(rec.user_vocab) == data.n_users + 1 and new_user in rec.user_vocab
    assert sorted(rec.user_ratings(new_user)[0].tolist()) == sorted(movies)
