"""load(): names, zips, folders and plain CSVs; the binary cache; the real ml-latest-small."""

from __future__ import annotations

import json
import os
import shutil
import warnings

import numpy as np
import pytest
from test_readers_writers import assert_same, release_dataset

from movierec import DataError, DataWarning, load
from movierec.data.archive import pack_release
from movierec.data.loading import cache_dir
from movierec.data.writers import write_release


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOVIEREC_CACHE", str(tmp_path / "cache"))


def test_ml_latest_small_bar(shared_data):
    data = load("ml-latest-small", shared_data)  # data folder as the second positional argument
    assert (data.n_ratings, data.n_users, len(data.catalog), data.n_movies) == (100_836, 610, 9_742, 9_724)
    assert len(data.catalog.genre_names) == 20 and "(no genres listed)" in data.catalog.genre_names
    assert data.name == "ml-latest-small" and data.rating_scale == (0.5, 5.0)
    assert data.users.dtype == np.int32 and data.ratings.dtype == np.float32
    assert data.catalog.movie(data.catalog.rows([1])[0])["title"] == "Toy Story (1995)"
    again = load(shared_data / "ml-latest-small.zip")  # from the cache, written to tmp, not beside the zip
    assert again.fingerprint == data.fingerprint
    assert list(cache_dir().glob("*/meta.json")) and not list(shared_data.glob("*.npy"))


def test_release_name_found_in_data_folder(tmp_path, monkeypatch):
    original = release_dataset(whole_stars=True)
    pack_release(write_release(original, tmp_path / "ml-1m", "ml-1m"))
    shutil.rmtree(tmp_path / "ml-1m")
    monkeypatch.setenv("MOVIEREC_DATA", str(tmp_path))
    data = load("ml-1m")
    assert data.name == "ml-1m" and data.rating_scale == (1.0, 5.0) and data.source == str(tmp_path / "ml-1m.zip")
    assert_same(original, data)


def test_unknown_name(tmp_path):
    with pytest.raises(DataError, match=r"no release or file named 'ml-2m': expected a release name \(ml-latest-small, "):
        load("ml-2m", tmp_path)


def test_plain_ratings_csv_with_and_without_movies(tmp_path):
    (tmp_path / "mine.csv").write_text("userId,movieId,rating,note\n1,10,7,a\n1,20,9,b\n2,10,2,c\n")
    # No scale given: ratings must look like stars; 7 and 9 do not, and the error names the fix.
    with pytest.raises(DataError, match=r"mine.csv line 2: rating 7 is not on a star scale of 0 to 5 .*--rating-scale"):
        load(tmp_path / "mine.csv")
    data = load(tmp_path / "mine.csv", rating_scale=(1, 10))
    assert data.name == "mine" and data.rating_scale == (1.0, 10.0)  # no timestamp column
    assert data.timestamps.tolist() == [0, 0, 0] and data.catalog.titles.tolist() == ["Movie 10", "Movie 20"]
    (tmp_path / "films.csv").write_text('movieId,title,genres\n10,"Ten, The (2000)",Drama\n20,Twenty (2001),Comedy|Drama\n30,Thirty,Horror\n')
    data = load(tmp_path / "mine.csv", movies=tmp_path / "films.csv", rating_scale=(1, 10))
    assert len(data.catalog) == 3 and data.catalog.movie(0)["title"] == "Ten, The (2000)"
    with pytest.raises(DataError, match=r"mine.csv line 2: expected a rating from 1 to 5, found 7 \(2 such ratings\)"):
        load(tmp_path / "mine.csv", rating_scale=(1, 5))
    (tmp_path / "typo.csv").write_text("userId,movieId,rating\n1,10,4\n1,20,40\n2,10,0.5\n")
    with pytest.raises(DataError, match=r"typo.csv line 3: rating 40 is not on a star scale .*ratings run from 0.5 to 40"):
        load(tmp_path / "typo.csv")
    with pytest.raises(DataError, match="movies file .*nope.csv does not exist"):
        load(tmp_path / "mine.csv", movies=tmp_path / "nope.csv")


def test_cache_is_used_then_invalidated_by_a_changed_source(tmp_path):
    folder = write_release(release_dataset(), tmp_path / "synthetic", "csv")
    first = load(folder)
    (cached,) = cache_dir().glob("*/meta.json")
    stamp = cached.stat().st_mtime_ns
    reloaded = load(folder)
    assert_same(first, reloaded)
    assert cached.stat().st_mtime_ns == stamp  # reused, not rewritten
    reloaded.ratings[0] = 99.0  # the cached arrays are copy-on-write maps: the cache is untouched
    assert load(folder).ratings[0] == first.ratings[0]
    # Plain .npy arrays and JSON strings: nothing pickled anywhere.
    assert np.load(cached.parent / "users.npy", allow_pickle=False).dtype == np.int32
    assert json.loads(cached.read_text())["titles"] == first.catalog.titles.tolist()
    # Same size, new content and mtime: the key changes, the file is parsed again.
    ratings = folder / "ratings.csv"
    text = ratings.read_text().splitlines()
    head, row = text[1].rsplit(",", 2)[0], text[1].rsplit(",", 2)[1:]
    text[1] = f"{head},{'4.5' if row[0] != '4.5' else '3.5'},{row[1]}"
    ratings.write_text("\n".join(text) + "\n")
    os.utime(ratings, ns=(stamp + 10**9, stamp + 10**9))
    changed = load(folder)
    assert changed.ratings[0] != first.ratings[0]
    assert load(folder, cache=False).fingerprint == changed.fingerprint


def test_cached_reload_replays_warnings(tmp_path):
    folder = tmp_path / "rel"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,1\n1,1,3.0,2\n")
    (folder / "movies.csv").write_text("movieId,title,genres\n1,A,Drama\n")
    for _ in range(2):
        with pytest.warns(DataWarning, match="1 duplicate"):
            data = load(folder)
        assert data.ratings.tolist() == [3.0]


def test_corrupt_cache_is_reparsed(tmp_path):
    folder = write_release(release_dataset(), tmp_path / "synthetic", "dat")
    first = load(folder)
    (cached,) = cache_dir().glob("*/meta.json")
    users = cached.parent / "users.npy"
    users.write_bytes(users.read_bytes()[:-8])  # truncated array
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same(first, load(folder))
    cached.write_text("garbage")
    assert_same(first, load(folder))


def test_unwritable_cache_still_loads(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("MOVIEREC_CACHE", str(blocker / "cache"))
    data = release_dataset()
    assert_same(data, load(write_release(data, tmp_path / "synthetic", "csv")))
