"""Readers and writers of every release layout: round trips, bad input, zips."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from movierec import Catalog, DataError, Dataset, DataWarning, load
from movierec.data.archive import pack_release, safe_extract
from movierec.data.catalog import NO_GENRES
from movierec.data.readers import genre_strings
from movierec.data.releases import FORMATS
from movierec.data.writers import write_release

TITLES = [
    "Toy Story (1995)",
    'American President, The (1995)',  # comma: CSV quoting
    'Dr. Strangelove or: How I Learned to Stop Worrying (1964)',  # colon next to '::' files
    '"Great" Escape, The (1963)',  # quotes
    "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)",  # latin-1 accents
    "Same Title (1998)",
    "Same Title (1998)",  # ml-100k has duplicate titles under different ids: both kept
    "No Year",
    "Unrated Movie (2010)",
]
GENRES = ["Animation|Children|Comedy", "Comedy|Drama|Romance", "Comedy|War", "Action|Adventure", "Comedy|Romance",
          "Drama", "Drama", NO_GENRES, "Horror"]


def release_dataset(seed: int = 0, whole_stars: bool = False, n_ratings: int = 300) -> Dataset:
    """A small MovieLens-shaped dataset whose catalog has one movie nobody rated."""
    rng = np.random.default_rng(seed)
    movie_ids = np.array([1, 2, 5, 17, 100, 101, 102, 2000, 193609])
    catalog = Catalog.from_frame(movie_ids, TITLES, GENRES)
    pairs = rng.choice(40 * 8, size=n_ratings, replace=False)  # distinct (user, movie) pairs
    users = pairs // 8 + 1
    movies = movie_ids[pairs % 8]  # the last movie stays unrated
    stars = rng.integers(1, 6, n_ratings) if whole_stars else rng.integers(1, 11, n_ratings) / 2
    times = rng.integers(800_000_000, 1_600_000_000, n_ratings)
    return Dataset.from_ids(users, movies, stars, times, catalog=catalog, name="synthetic")


def assert_same(a: Dataset, b: Dataset) -> None:
    for attr in ("user_vocab", "movie_vocab"):
        assert getattr(a, attr) == getattr(b, attr)
    for attr in ("users", "movies", "ratings", "timestamps"):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    np.testing.assert_array_equal(a.catalog.movie_ids, b.catalog.movie_ids)
    assert a.catalog.titles.tolist() == b.catalog.titles.tolist()
    np.testing.assert_array_equal(a.catalog.years, b.catalog.years)
    assert genre_strings(a.catalog.genres, a.catalog.genre_names).tolist() == genre_strings(
        b.catalog.genres, b.catalog.genre_names
    ).tolist()


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOVIEREC_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
def test_every_format_round_trips(tmp_path, fmt, packed):
    original = release_dataset(whole_stars=fmt == "100k")
    folder = write_release(original, tmp_path / "synthetic", fmt)
    loaded = load(pack_release(folder) if packed else folder)
    assert_same(original, loaded)
    assert len(loaded.catalog) == 9 and loaded.n_movies == 8  # the unrated movie is kept
    assert loaded.name == "synthetic"


@pytest.mark.parametrize("fmt", ["ml-1m", "ml-100k"])
def test_legacy_formats_write_latin1_and_fall_back_to_utf8(tmp_path, fmt):
    data = release_dataset(whole_stars=True)
    movies = "movies.dat" if fmt == "ml-1m" else "u.item"
    write_release(data, tmp_path / "a", fmt)
    assert "Amélie".encode("latin-1") in (tmp_path / "a" / movies).read_bytes()
    wide = Catalog.from_frame(data.catalog.movie_ids, [*TITLES[:-1], "Crouching Tiger 卧虎藏龙 (2000)"], GENRES)
    data = Dataset.from_ids(
        data.user_vocab.ids[data.users], data.movie_vocab.ids[data.movies], data.ratings, data.timestamps, catalog=wide
    )
    write_release(data, tmp_path / "b", fmt)
    assert_same(data, load(tmp_path / "b"))


def test_exact_layouts(tmp_path):
    data = release_dataset(whole_stars=True, n_ratings=3)
    write_release(data, tmp_path / "csv", "csv")
    write_release(data, tmp_path / "dat", "dat")
    write_release(data, tmp_path / "100k", "100k")
    u, m, r, t = data.user_vocab.ids[data.users[0]], data.movie_vocab.ids[data.movies[0]], int(data.ratings[0]), data.timestamps[0]
    assert (tmp_path / "csv/ratings.csv").read_text().splitlines()[:2] == [
        "userId,movieId,rating,timestamp", f"{u},{m},{r}.0,{t}"
    ]
    movies_csv = (tmp_path / "csv/movies.csv").read_text(encoding="utf-8").splitlines()
    assert movies_csv[0] == "movieId,title,genres"
    assert movies_csv[2] == '2,"American President, The (1995)",Comedy|Drama|Romance'
    assert movies_csv[4] == '17,"""Great"" Escape, The (1963)",Action|Adventure'
    assert (tmp_path / "dat/ratings.dat").read_text().splitlines()[0] == f"{u}::{m}::{r}::{t}"
    assert (tmp_path / "dat/movies.dat").read_text("latin-1").splitlines()[0] == "1::Toy Story (1995)::Animation|Children|Comedy"
    assert (tmp_path / "100k/u.data").read_text().splitlines()[0] == f"{u}\t{m}\t{r}\t{t}"
    item = (tmp_path / "100k/u.item").read_text("latin-1").splitlines()[0].split("|")
    genres = (tmp_path / "100k/u.genre").read_text().splitlines()
    assert item[:3] == ["1", "Toy Story (1995)", "01-Jan-1995"] and len(item) == 5 + len(genres) - 1
    names = [g.split("|")[0] for g in genres if g]
    assert [names[j] for j, flag in enumerate(item[5:]) if flag == "1"] == ["Animation", "Children", "Comedy"]


def test_real_ml100k_layout_parses(tmp_path):
    """Hand-written lines in the exact shape of the GroupLens ml-100k files."""
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    genres = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
              "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
              "War", "Western"]
    (folder / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(genres)) + "\n")
    flags = lambda *on: "|".join("1" if g in on else "0" for g in genres)  # noqa: E731
    toy = flags("Animation", "Children's", "Comedy")
    (folder / "u.item").write_bytes(
        (
            f"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|{toy}\n"
            f"267|unknown||||{flags('unknown')}\n"
            f"1175|Hugo Pool (1997)|12-Feb-1997||http://x|{flags('Romance')}\n"
            f"1617|Hugo Pool (1997)|12-Feb-1997||http://y|{flags('Romance')}\n"
            f"1300|Misérables, Les (1995)|01-Jan-1995||http://z|{flags('Drama', 'Musical')}\n"
        ).encode("latin-1")
    )
    (folder / "u.data").write_text("196\t1\t3\t881250949\n186\t1300\t5\t891717742\n22\t267\t1\t878887116\n")
    data = load(folder)
    assert data.name == "ml-100k" and data.rating_scale == (1.0, 5.0)
    assert data.catalog.movie_ids.tolist() == [1, 267, 1175, 1300, 1617]  # duplicate titles keep both ids
    assert data.catalog.movie(3) == {"movie_id": 1300, "title": "Misérables, Les (1995)", "year": 1995,
                                     "genres": ["Drama", "Musical"]}
    assert data.catalog.genres_of(0) == ["Animation", "Children's", "Comedy"]
    assert data.ratings.tolist() == [3.0, 5.0, 1.0]


def test_dat_title_with_double_colon_and_half_stars(tmp_path):
    folder = tmp_path / "ml-10M100K"
    folder.mkdir()
    (folder / "movies.dat").write_text("1::Toy Story (1995)::Comedy\n2::Re:: Animator (1985)::Horror\n")
    (folder / "ratings.dat").write_text("1::1::5::838985046\n1::2::3.5::838983525\n")
    data = load(folder)
    assert data.name == "ml-10m" and data.catalog.titles.tolist() == ["Toy Story (1995)", "Re:: Animator (1985)"]
    assert data.ratings.tolist() == [5.0, 3.5]


# -- bad input -------------------------------------------------------------------------------
def _csv_release(tmp_path, ratings: str, movies: str = "movieId,title,genres\n1,A (1990),Drama\n2,B (1991),Comedy\n"):
    folder = tmp_path / "rel"
    folder.mkdir(exist_ok=True)
    (folder / "ratings.csv").write_text(ratings)
    (folder / "movies.csv").write_text(movies)
    return folder


@pytest.mark.parametrize(
    "ratings, message",
    [
        ("userId,movieId,rating,timestamp\n1,1,4.0,5\n2,x,3.0,6\n", r"ratings.csv line 3: expected an integer in column 'movieId', found 'x'"),
        ("userId,movieId,rating,timestamp\n1,1,4.0,5\n2,2,high,6\n", r"line 3: expected a number in column 'rating', found 'high'"),
        ("userId,movieId,rating,timestamp\n1,1,4.0,5\n2,2,,6\n", r"line 3: expected a value in column 'rating', found none"),
        ("userId,movieId,rating,timestamp\n1,1,4.0,5\n1,2,3.0,6\n2,2,3.0\n", r"line 4: expected 4 fields .* found 3"),
        ("user,item,rating,timestamp\n1,1,4.0,5\n", r"line 1: expected columns userId,movieId,rating\[,timestamp\], found 'user,item,rating,timestamp' \(missing userId, movieId\)"),
        ("", r"ratings.csv line 1: expected a header line, found an empty file"),
        ("userId,movieId,rating,timestamp\n", r"expected at least one row after line 1, found none"),
        ("userId,movieId,rating,timestamp\n1,1,4.0,5\n1,2,6.0,6\n", r"line 3: expected a rating from 0.5 to 5 in steps of 0.5, found 6"),
        ("userId,movieId,rating,timestamp\n1,1,4.0,5\n1,2,3.25,6\n", r"line 3: expected a rating .* found 3.25"),
        ("userId,movieId,rating,timestamp\n1,1,4.0,5\n-1,2,3,6\n", r"line 3: expected a non-negative userId, found -1"),
        ("userId,movieId,rating,timestamp\n1,1,nan,5\n", r"line 2: expected a finite rating, found nan"),
    ],
)
def test_bad_ratings_csv_names_file_line_expected_and_found(tmp_path, ratings, message):
    with pytest.raises(DataError, match=message):
        load(_csv_release(tmp_path, ratings))


@pytest.mark.parametrize(
    "movies, message",
    [
        ("id,name,genres\n1,A,Drama\n", r"movies.csv line 1: expected columns movieId,title,genres, found 'id,name,genres'"),
        ("movieId,title,genres\n1,A,Drama\nzz,B,Drama\n", r"movies.csv line 3: expected an integer in column 'movieId', found 'zz'"),
        ('movieId,title,genres\n1,"A, The",Drama\n2,B,Drama\n3.5,C,Drama\n', r"movies.csv line 4: expected an integer in column 'movieId', found '3.5'"),
        ("", r"movies.csv line 1: expected a header line, found an empty file"),
        ("movieId,title,genres\n", r"movies.csv: expected at least one row after line 1, found none"),
    ],
)
def test_bad_movies_file(tmp_path, movies, message):
    with pytest.raises(DataError, match=message):
        load(_csv_release(tmp_path, "userId,movieId,rating,timestamp\n1,1,4.0,5\n", movies))


def test_bad_dat_and_100k_lines(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "movies.dat").write_text("1::A (1990)::Drama\n")
    (folder / "ratings.dat").write_text("1::1::5::978300760\n1::1::3\n")
    with pytest.raises(DataError, match=r"ratings.dat line 2: expected 4 fields .* separated by '::', found 3"):
        load(folder)
    (folder / "ratings.dat").write_text("1::1::5::978300760\n2::1::4.5::978300761\n")
    with pytest.raises(DataError, match=r"line 2: expected a rating from 1 to 5 in steps of 1, found 4.5"):
        load(folder)
    (folder / "ratings.dat").write_text("1::1::5::978300760\n")
    (folder / "movies.dat").write_text("1::A (1990)::Drama\nB (1991)\n")
    with pytest.raises(DataError, match=r"movies.dat line 2: expected 2 fields separated by '::'"):
        load(folder)
    (folder / "movies.dat").write_text("\n1::A (1990)::Drama\n2::B (1991)\n")  # a blank first line counts
    with pytest.raises(DataError, match=r"movies.dat line 3: expected MovieID::Title::Genres, found 2::'B \(1991\)'"):
        load(folder)
    k = tmp_path / "ml-100k"
    k.mkdir()
    (k / "u.genre").write_text("unknown|0\nDrama|1\n")
    (k / "u.item").write_text("1|A (1990)|||url|0|1\n2|B (1991)|||url|0|yes\n")
    (k / "u.data").write_text("1\t1\t5\t1\n")
    with pytest.raises(DataError, match=r"u.item line 2: expected a 0/1 flag for genre 'Drama', found 'yes'"):
        load(k)


def test_quoted_numbers_in_a_ratings_csv(tmp_path):
    data = load(_csv_release(tmp_path, 'userId,movieId,rating\n"1","2","4.5"\n2,1,3\n'))
    assert data.ratings.tolist() == [4.5, 3.0] and data.movie_vocab.ids.tolist() == [1, 2]


def test_ids_beyond_int32(tmp_path):
    data = load(_csv_release(tmp_path, "userId,movieId,rating\n3000000000,1,4.0\n7,2,3.5\n"))
    assert data.user_vocab.ids.tolist() == [7, 3_000_000_000] and data.users.tolist() == [1, 0]


def test_duplicates_keep_the_latest_with_a_warning(tmp_path):
    folder = _csv_release(
        tmp_path, "userId,movieId,rating,timestamp\n1,1,2.0,50\n1,2,3.0,10\n1,1,4.0,40\n2,1,1.0,1\n1,1,5.0,30\n"
    )
    with pytest.warns(DataWarning, match=r"2 duplicate \(user, movie\) rating\(s\) \(first: line 4, user 1, movie 1\); kept the latest"):
        data = load(folder)
    assert data.n_ratings == 3
    assert data.ratings.tolist() == [2.0, 3.0, 1.0]  # rows stay in file order; (1, 1) keeps timestamp 50


def test_ratings_of_unknown_movies_are_added_to_the_catalog_with_a_warning(tmp_path):
    folder = _csv_release(tmp_path, "userId,movieId,rating,timestamp\n1,1,2.0,5\n1,7,3.0,6\n2,7,4.0,7\n")
    with pytest.warns(DataWarning, match=r"2 rating\(s\) of 1 movie\(s\) missing from .*movies.csv \(first: line 3, movie 7\)"):
        data = load(folder)
    assert data.n_ratings == 3 and data.catalog.movie_ids.tolist() == [1, 2, 7]
    assert data.catalog.movie(2)["title"] == "Movie 7"


def test_duplicate_movie_ids_warn(tmp_path):
    folder = _csv_release(tmp_path, "userId,movieId,rating\n1,1,2.0\n", "movieId,title,genres\n1,A,Drama\n1,B,Comedy\n")
    with pytest.warns(DataWarning, match="1 movie id.* listed more than once; kept the last"):
        data = load(folder)
    assert data.catalog.titles.tolist() == ["B"]


def test_corrupt_and_truncated_zips(tmp_path):
    zip_path = pack_release(write_release(release_dataset(), tmp_path / "synthetic", "csv"))
    raw = zip_path.read_bytes()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"truncated.zip is not a readable zip .*truncated or corrupt; delete it"):
        load(truncated)
    # Flip bytes inside the compressed ratings: the central directory is intact, the CRC is not.
    with zipfile.ZipFile(zip_path) as zf:
        info = zf.getinfo("synthetic/ratings.csv")
    start = info.header_offset + 30 + len(info.filename) + 100
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(raw[:start] + bytes(b ^ 0xFF for b in raw[start : start + 50]) + raw[start + 50 :])
    with pytest.raises(DataError, match=r"corrupt.zip is corrupt or truncated"):
        load(corrupt)


def test_zip_slip_is_refused(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("rel/ratings.csv", "userId,movieId,rating\n1,1,4\n")
        zf.writestr("rel/../../escaped.txt", "gotcha")
    with pytest.raises(DataError, match=r"member 'rel/../../escaped.txt' would be written outside the extraction folder"):
        safe_extract(evil, tmp_path / "out")
    with pytest.raises(DataError, match="outside the extraction folder"):
        load(evil)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out").exists()


def test_safe_extract_then_load_folder(tmp_path):
    data = release_dataset()
    zip_path = pack_release(write_release(data, tmp_path / "synthetic", "dat"), tmp_path / "s.zip")
    out = safe_extract(zip_path, tmp_path / "out")
    assert_same(data, load(out / "synthetic"))
    assert_same(data, load(out))  # the folder the zip was extracted into works too
    assert load(out).name == "synthetic"


def test_writer_refuses_ratings_the_layout_cannot_hold(tmp_path):
    half = release_dataset()
    for fmt in ("100k", "ml-1m"):
        with pytest.raises(DataError, match=r"layout holds ratings from 1 to 5 in steps of 1; found \d\.5"):
            write_release(half, tmp_path / fmt, fmt)
    assert_same(half, load(write_release(half, tmp_path / "ml-10M100K", "ml-10m")))


def test_unknown_layouts(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="not a MovieLens release folder: expected a ratings file"):
        load(tmp_path / "empty")
    with pytest.raises(DataError, match="unknown release format 'parquet'"):
        write_release(release_dataset(), tmp_path / "x", "parquet")


# -- property: any title survives the writer and the reader -------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_TEXT = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))
_LEGACY = st.sampled_from(list("abcXYZ019 ,.:;'\"()&!?-éèüñÅ"))  # latin-1, never mistaken for UTF-8


@settings(max_examples=25, deadline=None)
@given(data=st.data(), fmt=st.sampled_from(FORMATS))
def test_titles_round_trip(data, fmt, tmp_path_factory):
    alphabet = _TEXT if fmt == "csv" else _LEGACY
    title = st.text(alphabet, min_size=1, max_size=40).map(str.strip).filter(bool)
    if fmt == "100k":
        title = title.filter(lambda t: "|" not in t)
    titles = data.draw(st.lists(title, min_size=2, max_size=6))
    ids = np.arange(1, len(titles) + 1) * 7
    catalog = Catalog.from_frame(ids, titles, ["Drama"] * len(titles))
    original = Dataset.from_ids(np.ones(len(ids), int), ids, np.full(len(ids), 3.0), catalog=catalog)
    folder = write_release(original, tmp_path_factory.mktemp("titles") / "t", fmt)
    assert load(folder, cache=False).catalog.titles.tolist() == catalog.titles.tolist()
