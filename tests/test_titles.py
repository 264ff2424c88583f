"""TitleIndex: titles found the way people type them, clear errors otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movierec import Catalog, UnknownIdError
from movierec.data.titles import NgramIndex, TitleIndex, normalize_one

TITLES = {
    1: "Toy Story (1995)",
    2: "Toy Story 2 (1999)",
    3: "Matrix, The (1999)",
    4: "Matrix Reloaded, The (2003)",
    5: "Haine, La (1995)",
    6: "Boot, Das (Boat, The) (1981)",
    7: "Seven (a.k.a. Se7en) (1995)",
    8: "Hamlet (1990)",
    9: "Hamlet (1996)",
    10: "Schindler's List (1993)",
    11: "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
    12: "Dumb & Dumber (Dumb and Dumber) (1994)",
    13: "Avventura, L' (Adventure, The) (1960)",
    14: "300 (2007)",
    15: "Beautiful Mind, A (2001)",
    16: "Postman, The (Postino, Il) (1994)",
    17: "Vitelloni, I (1953)",
    18: "Star Wars: Episode IV - A New Hope (1977)",
    19: "Forrest Gump (1994)",
}


@pytest.fixture
def index() -> TitleIndex:
    catalog = Catalog.from_frame(list(TITLES), list(TITLES.values()), None)
    counts = np.zeros(len(catalog), np.int64)
    counts[catalog.rows(np.array([9]))] = 50  # Hamlet (1996) is the better-known one
    counts[catalog.rows(np.array([1]))] = 100
    return TitleIndex(catalog, counts)


@pytest.mark.parametrize(
    ("query", "movie_id"),
    [
        ("Toy Story (1995)", 1),
        ("toy story", 1),
        ("TOY STORY", 1),
        ("  Toy   Story  ", 1),
        ("The Matrix", 3),
        ("matrix, the", 3),
        ("Matrix", 3),
        ("the matrix (1999)", 3),
        ("La Haine", 5),
        ("haine, la", 5),
        ("Das Boot", 6),
        ("The Boat", 6),  # alternate title
        ("Se7en", 7),
        ("Schindlers List", 10),
        ("schindler's list", 10),
        ("Amelie", 11),  # accents folded
        ("Amélie", 11),
        ("Dumb and Dumber", 12),
        ("dumb & dumber", 12),
        ("L'Avventura", 13),
        ("A Beautiful Mind", 15),
        ("Il Postino", 16),
        ("I Vitelloni", 17),
        ("star wars episode iv: a new hope", 18),
        ("300 (2007)", 14),
        ("19", 19),  # numeric ids are ids
        ("300", 14),  # ... unless no movie has that id: then the title
        (3, 3),
    ],
)
def test_find_is_forgiving(index: TitleIndex, query, movie_id: int) -> None:
    assert index.find(query) == movie_id


def test_ambiguous_title_lists_every_match_better_known_first(index: TitleIndex) -> None:
    with pytest.raises(UnknownIdError, match="matches 2 movies") as info:
        index.find("hamlet")
    assert info.value.candidates == ["Hamlet (1996)", "Hamlet (1990)"]
    assert index.find("Hamlet (1990)") == 8


def test_wrong_year_suggests_the_right_one(index: TitleIndex) -> None:
    with pytest.raises(UnknownIdError, match="from 1996") as info:
        index.find("Toy Story (1996)")
    assert info.value.candidates == ["Toy Story (1995)"]


def test_typo_gets_closest_candidates(index: TitleIndex) -> None:
    with pytest.raises(UnknownIdError) as info:
        index.find("Forest Gump")
    assert info.value.candidates[0] == "Forrest Gump (1994)"
    assert "Forrest Gump (1994)" in str(info.value)


def test_typo_in_the_first_word_of_a_long_title_gets_it(index: TitleIndex) -> None:
    with pytest.raises(UnknownIdError) as info:
        index.find("satr wars")  # against the whole long key difflib scores it too low
    assert info.value.candidates[0] == "Star Wars: Episode IV - A New Hope (1977)"


def test_partial_title_gets_search_candidates(index: TitleIndex) -> None:
    with pytest.raises(UnknownIdError) as info:
        index.find("Star Wars")
    assert info.value.candidates == ["Star Wars: Episode IV - A New Hope (1977)"]


@pytest.mark.parametrize(("query", "message"), [("", "empty"), ("   ", "empty"), ("zzzqqq", "no movie titled"),
                                                ("999", "no movie with id 999"),
                                                ("20000000000000000000", "titled '2000"),  # past int64: no crash
                                                ("²", "titled '²'")])
def test_unknown_raises(index: TitleIndex, query: str, message: str) -> None:
    with pytest.raises(UnknownIdError, match=message):
        index.find(query)


def test_search_ranks_prefix_then_word_then_anywhere(index: TitleIndex) -> None:
    titles = index.catalog.titles
    assert list(titles[index.search("toy")]) == ["Toy Story (1995)", "Toy Story 2 (1999)"]
    assert list(titles[index.search("matrix")]) == ["Matrix, The (1999)", "Matrix Reloaded, The (2003)"]
    assert list(titles[index.search("reloaded")]) == ["Matrix Reloaded, The (2003)"]
    # every word somewhere, in any order
    assert list(titles[index.search("hope star")]) == ["Star Wars: Episode IV - A New Hope (1977)"]
    assert index.search("nothing like this") == []


def test_search_exact_title_beats_more_rated_prefix(index: TitleIndex) -> None:
    # "Toy Story" (100 ratings) is the exact match and comes first; then its prefix matches.
    assert index.search("toy story")[0] == index.catalog.rows(np.array([1]))[0]


def test_search_year_limit_and_offset(index: TitleIndex) -> None:
    rows = index.search("hamlet")
    assert list(index.catalog.movie_ids[rows]) == [9, 8]  # more-rated first
    assert list(index.catalog.movie_ids[index.search("hamlet (1990)")]) == [8]
    assert index.search("hamlet", limit=1, offset=1) == rows[1:2]
    assert len(index.search("", limit=100)) == len(TITLES)
    with pytest.raises(ValueError, match="limit"):
        index.search("x", limit=-1)


def test_normalize_one_matches_article_conventions() -> None:
    assert normalize_one("Matrix, The") == normalize_one("The Matrix") == "matrix"
    assert normalize_one("Boot, Das") == normalize_one("Das Boot") == "das boot"
    assert normalize_one("A.I. Artificial Intelligence") == "ai artificial intelligence"


def test_counts_shape_checked() -> None:
    catalog = Catalog.from_frame([1, 2], ["A (1990)", "B (1991)"], None)
    with pytest.raises(ValueError, match="one entry per catalog movie"):
        TitleIndex(catalog, np.zeros(3))


def test_every_real_title_is_found_as_written_and_as_said(shared_data) -> None:
    """On ml-latest-small: "Matrix, The (1999)" and "The Matrix (1999)" both find movie 2571."""
    from collections import Counter

    from movierec import load
    from movierec.data.titles import short_title

    catalog = load("ml-latest-small", shared_data).catalog
    index = TitleIndex(catalog)
    repeated = {t for t, n in Counter(catalog.titles.tolist()).items() if n > 1}  # a few titles occur twice
    assert 0 < len(repeated) < 10
    wrong = []
    for movie, title, year in zip(catalog.movie_ids.tolist(), catalog.titles.tolist(), catalog.years.tolist()):
        if title in repeated:
            continue
        said = short_title(title) + (f" ({year})" if year else "")
        wrong += [query for query in (title, said) if index.find(query) != movie]
    assert wrong == []
    assert index.find("The Matrix (1999)") == 2571 and index.find("Das Boot") == index.find("Boot, Das")


@settings(max_examples=200, deadline=None)
@given(
    strings=st.lists(st.text(alphabet="ab c", max_size=12), max_size=30),
    pattern=st.text(alphabet="ab c", min_size=1, max_size=7),
)
def test_ngram_index_agrees_with_a_scan(strings: list[str], pattern: str) -> None:
    index = NgramIndex(strings)
    contains = [i for i, s in enumerate(strings) if pattern in s]
    starts = [i for i, s in enumerate(strings) if s.startswith(pattern)]
    assert index.containing(pattern).tolist() == contains
    assert index.starting(pattern).tolist() == starts
