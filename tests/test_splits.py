"""Splits: hand-made cases plus Hypothesis properties (every split is a partition, deterministic)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movierec import Dataset
from movierec.eval.splits import (
    SPLIT_NAMES,
    kfold,
    last_n,
    make_splits,
    random_holdout,
    random_sample,
    temporal,
    user_holdout,
)


@st.composite
def datasets(draw) -> Dataset:
    """Small random datasets; the rating value is the rating's position, so parts can be traced."""
    n = draw(st.integers(1, 60))
    users = draw(st.lists(st.integers(1, 8), min_size=n, max_size=n))
    movies = draw(st.lists(st.integers(1, 12), min_size=n, max_size=n))
    times = draw(st.lists(st.integers(0, 20), min_size=n, max_size=n))  # small range: many ties
    return Dataset.from_ids(np.array(users), np.array(movies), np.arange(n), np.array(times))


def positions(part: Dataset) -> np.ndarray:
    return part.ratings.astype(np.int64)


def assert_partition(data: Dataset, split) -> None:
    train, test = positions(split.train), positions(split.test)
    assert np.intersect1d(train, test).size == 0
    assert np.array_equal(np.sort(np.concatenate((train, test))), np.arange(data.n_ratings))
    assert split.train.user_vocab == data.user_vocab and split.test.movie_vocab == data.movie_vocab
    # each part keeps its ratings' users, movies and times with them
    for part in split:
        pos = positions(part)
        assert np.array_equal(part.users, data.users[pos]) and np.array_equal(part.movies, data.movies[pos])
        assert np.array_equal(part.timestamps, data.timestamps[pos])


fractions = st.floats(0.05, 0.95)
seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=50, deadline=None)
@given(datasets(), fractions, seeds)
def test_random_holdout_is_a_partition_of_the_asked_size(data, fraction, seed):
    split = random_holdout(data, fraction, seed)
    assert_partition(data, split)
    assert split.test.n_ratings == round(fraction * data.n_ratings)
    assert np.array_equal(positions(random_holdout(data, fraction, seed).test), positions(split.test))


@settings(max_examples=50, deadline=None)
@given(datasets(), st.data(), seeds)
def test_random_sample_holds_out_exactly_n_distinct_ratings(data, draw, seed):
    if data.n_ratings < 2:
        with pytest.raises(ValueError, match="n_test must be between"):
            random_sample(data, 1, seed)
        return
    n = draw.draw(st.integers(1, data.n_ratings - 1))
    split = random_sample(data, n, seed)
    assert_partition(data, split)
    assert split.test.n_ratings == n
    assert np.array_equal(positions(random_sample(data, n, seed).test), positions(split.test))


@settings(max_examples=50, deadline=None)
@given(datasets(), fractions, seeds)
def test_user_holdout_holds_out_a_share_of_each_user(data, fraction, seed):
    split = user_holdout(data, fraction, seed)
    assert_partition(data, split)
    expected = np.floor(data.user_counts() * fraction)
    assert np.array_equal(split.test.user_counts(), expected)
    assert np.array_equal(positions(user_holdout(data, fraction, seed).test), positions(split.test))


@settings(max_examples=50, deadline=None)
@given(datasets(), st.integers(2, 7), seeds)
def test_kfold_test_parts_partition_the_ratings(data, k, seed):
    if k > data.n_ratings:
        with pytest.raises(ValueError, match="k must be between 2"):
            kfold(data, k, seed)
        return
    splits = list(kfold(data, k, seed))
    assert len(splits) == k
    for split in splits:
        assert_partition(data, split)
    tests = np.concatenate([positions(s.test) for s in splits])
    assert np.array_equal(np.sort(tests), np.arange(data.n_ratings))  # each rating in exactly one fold
    sizes = [s.test.n_ratings for s in splits]
    assert max(sizes) - min(sizes) <= 1
    assert [positions(s.test).tolist() for s in kfold(data, k, seed)] == [positions(s.test).tolist() for s in splits]


@settings(max_examples=50, deadline=None)
@given(datasets(), fractions)
def test_temporal_by_fraction_holds_out_the_latest(data, fraction):
    split = temporal(data, fraction)
    assert_partition(data, split)
    assert split.test.n_ratings == round(fraction * data.n_ratings)
    if split.train.n_ratings and split.test.n_ratings:
        assert split.train.timestamps.max() <= split.test.timestamps.min()


@settings(max_examples=50, deadline=None)
@given(datasets(), st.integers(-1, 25))
def test_temporal_at_a_timestamp(data, at):
    split = temporal(data, at=at)
    assert_partition(data, split)
    assert np.all(split.test.timestamps >= at) and np.all(split.train.timestamps < at)


@settings(max_examples=50, deadline=None)
@given(datasets(), st.integers(1, 4))
def test_last_n_holds_out_each_users_latest(data, n):
    split = last_n(data, n)
    assert_partition(data, split)
    counts = data.user_counts()
    assert np.array_equal(split.test.user_counts(), np.clip(counts - 1, 0, n))
    assert np.array_equal(split.train.user_counts() > 0, counts > 0)  # every user stays known
    for user in np.unique(split.test.users):
        assert split.train.timestamps[split.train.users == user].max() <= split.test.timestamps[
            split.test.users == user
        ].min()


@settings(max_examples=30, deadline=None)
@given(datasets(), st.sampled_from(SPLIT_NAMES), seeds)
def test_every_named_split_is_a_partition(data, name, seed):
    if name == "kfold" and data.n_ratings < 3:
        return
    for split in make_splits(data, name, test_fraction=0.3, seed=seed, folds=3, n=2):
        assert_partition(data, split)


def test_last_n_on_a_hand_made_case(tiny):
    split = last_n(tiny, 1)
    # tiny's timestamps follow row order: each user's last row is held out, single-rating users keep theirs
    assert sorted(split.test.ratings.tolist()) == sorted([4.0, 2.0, 3.5, 4.0])
    assert split.test.n_ratings == 4 and split.train.n_ratings == 8


def test_temporal_on_a_hand_made_case(tiny):
    split = temporal(tiny, 0.25)
    assert split.test.timestamps.tolist() == [9000, 10000, 11000]


def test_kfold_is_lazy_but_checks_arguments_at_once(tiny):
    with pytest.raises(ValueError, match="k must be between 2 and the number of ratings"):
        kfold(tiny, 1)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda d: random_holdout(d, 1.5), "test_fraction must be between 0 and 1"),
        (lambda d: user_holdout(d, 0.0), "test_fraction must be between 0 and 1"),
        (lambda d: temporal(d, -0.2), "test_fraction must be between 0 and 1"),
        (lambda d: last_n(d, 0), "n must be at least 1"),
        (lambda d: make_splits(d, "weekly"), "unknown split 'weekly'; expected one of random, user"),
    ],
)
def test_bad_arguments(tiny, call, message):
    with pytest.raises(ValueError, match=message):
        call(tiny)


# -- splits stored in files ---------------------------------------------------------------------
def _write_lines(path, part: Dataset, sep: str = "\t") -> None:
    """Ratings as headerless ``user sep movie sep rating sep time`` lines, like ml-100k's u1.base."""
    import pandas as pd

    pd.DataFrame(
        {
            "u": part.user_vocab.ids[part.users],
            "m": part.movie_vocab.ids[part.movies],
            "r": part.ratings.astype(int) if part.rating_scale[0] == 1 else part.ratings,
            "t": part.timestamps,
        }
    ).to_csv(path, sep=sep, header=False, index=False)


def _keys(part: Dataset) -> set[tuple[int, int]]:
    return set(zip(part.user_vocab.ids[part.users].tolist(), part.movie_vocab.ids[part.movies].tolist()))


@pytest.fixture
def release_100k(tmp_path):
    """A synthetic release in ml-100k's layout with a u1.base / u1.test pair, and the parts written."""
    from movierec.data.synthetic import generate
    from movierec.data.writers import write_release

    data = generate(n_users=40, n_movies=80, n_ratings=500, step=1.0, seed=2).dataset
    folder = write_release(data, tmp_path / "ml-100k", "100k")
    part = random_holdout(data, 0.2, 9)
    _write_lines(folder / "u1.base", part.train)
    _write_lines(folder / "u1.test", part.test)
    return folder, part


def test_official_split_reads_base_and_test(release_100k, monkeypatch, tmp_path):
    from movierec import load
    from movierec.eval.splits import official_split

    monkeypatch.setenv("MOVIEREC_CACHE", str(tmp_path / "cache"))
    folder, written = release_100k
    data = load(folder)
    split = official_split(data, folder, "u1")
    assert _keys(split.train) == _keys(written.train) and _keys(split.test) == _keys(written.test)
    assert split.train.user_vocab == data.user_vocab and split.test.movie_vocab == data.movie_vocab
    assert split.train.n_ratings + split.test.n_ratings == data.n_ratings
    assert split.test.rating_scale == (1.0, 5.0)
    assert sorted(split.test.ratings.tolist()) == sorted(written.test.ratings.tolist())


def test_official_split_missing_files_says_which_releases_have_them(release_100k, monkeypatch, tmp_path):
    from movierec import load
    from movierec.errors import DataError
    from movierec.eval.splits import official_split

    monkeypatch.setenv("MOVIEREC_CACHE", str(tmp_path / "cache"))
    folder, _ = release_100k
    with pytest.raises(DataError, match="no u2.base/u2.test: official splits exist only in ml-100k"):
        official_split(load(folder), folder, "u2")
    with pytest.raises(ValueError, match="unknown official split 'u9'"):
        official_split(load(folder), folder, "u9")


def test_file_split_shares_vocabularies_across_formats(tmp_path):
    from movierec.eval.splits import file_split

    (tmp_path / "train.csv").write_text("userId,movieId,rating,timestamp\n1,10,4,5\n2,10,3,6\n2,20,5,7\n")
    _write_lines(tmp_path / "test.tsv", Dataset.from_ids(np.array([1, 3]), np.array([20, 30]), np.array([2.0, 4.0])))
    split = file_split(tmp_path / "train.csv", tmp_path / "test.tsv")
    assert split.train.user_vocab.ids.tolist() == [1, 2, 3] and split.test.movie_vocab.ids.tolist() == [10, 20, 30]
    assert _keys(split.train) == {(1, 10), (2, 10), (2, 20)} and _keys(split.test) == {(1, 20), (3, 30)}
    assert split.train.rating_scale == (1.0, 5.0)  # whole stars only


def test_file_split_bad_files(tmp_path):
    from movierec.errors import DataError
    from movierec.eval.splits import file_split

    (tmp_path / "a.csv").write_text("userId,movieId,rating\n1,10,4.5\n")
    (tmp_path / "b.txt").write_text("1 10 4\n")
    with pytest.raises(DataError, match="does not exist"):
        file_split(tmp_path / "a.csv", tmp_path / "missing.csv")
    with pytest.raises(DataError, match="expected a header userId,movieId,rating"):
        file_split(tmp_path / "a.csv", tmp_path / "b.txt")


def test_file_split_checks_each_file_as_load_does(tmp_path):
    from movierec.errors import DataError, DataWarning
    from movierec.eval.splits import file_split

    header = "userId,movieId,rating,timestamp\n"
    (tmp_path / "train.csv").write_text(header + "1,10,4,5\n1,10,2,9\n2,10,3,6\n2,20,5,7\n3,30,1,1\n")
    (tmp_path / "test.csv").write_text(header + "2,20,4,8\n3,10,2,9\n")
    with pytest.warns(DataWarning) as caught:
        split = file_split(tmp_path / "train.csv", tmp_path / "test.csv")
    messages = [str(w.message) for w in caught]
    assert any("1 duplicate (user, movie) rating(s)" in m and "line 2" in m for m in messages)
    assert any("1 (user, movie) pair(s) also rated in" in m and "user 2, movie 20" in m for m in messages)
    train = {k: r for k, r in zip(_keys_list(split.train), split.train.ratings.tolist())}
    assert train == {(1, 10): 2.0, (2, 10): 3.0, (3, 30): 1.0}  # latest duplicate kept, the leaked pair gone
    assert _keys(split.test) == {(2, 20), (3, 10)}

    (tmp_path / "bad.csv").write_text(header + "1,10,4,5\n-2,10,3,6\n")
    with pytest.raises(DataError, match=r"bad.csv line 3: expected a non-negative userId, found -2"):
        file_split(tmp_path / "bad.csv", tmp_path / "test.csv")
    (tmp_path / "nan.csv").write_text(header + "1,10,nan,5\n")
    with pytest.raises(DataError, match=r"nan.csv line 2: expected a finite rating"):
        file_split(tmp_path / "test.csv", tmp_path / "nan.csv")


def _keys_list(d: Dataset) -> list[tuple[int, int]]:
    return list(zip(d.user_vocab.ids[d.users].tolist(), d.movie_vocab.ids[d.movies].tolist()))
