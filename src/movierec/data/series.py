"""Films of one series: a sequel, prequel or remake carries its franchise's name in its title.

MovieLens has no collection field, and co-ratings alone rarely put a sequel among a popular
film's ten nearest: almost everyone who rated "Speed 2" rated "Speed", but so did the raters of
every 1990s hit. So :mod:`movierec.recommend.similarity` multiplies the co-rating similarity of
two movies of one series (only where they share raters) by ``1 + SERIES_BOOST``, and the
hybrid ranker (:mod:`movierec.models.hybrid`) lifts the rest of a series the user liked.

A title's *name* is its part before a colon or " - ", without a trailing sequel marker ("2",
"II", "Part II", "Vol. 1", "Twelve"), normalized as title lookups are
(:func:`.titles.normalize`): "Toy Story 2 (1999)", "Godfather: Part II, The (1974)" and "Star
Wars: Episode V - The Empire Strikes Back (1980)" are named "toy story", "godfather" and "star
wars". Two movies are of one series when their names are equal ("speed", "Speed 2: Cruise
Control"), or when a name of two words or more appears anywhere in the other's title ("jurassic
park" in "The Lost World: Jurassic Park"). A one-word name at the start of another title is weak
evidence: "matrix" and "The Matrix Reloaded", but also "blade" and "Blade Runner", "ghost" and
"Ghost World". Such a pair counts only when the films share their audience: at least
``MIN_SHARED`` raters and ``AUDIENCE`` of the less-rated film's (on ml-latest-small it keeps 25
of 1,876 such pairs, 23 of them one franchise; the 99 it drops among films with 10+ ratings
mostly share a word by chance). A name found in more than ``MAX_SERIES`` titles is a common
phrase, not a series. Co-ratings still decide how far up a pair comes, and films that share
raters with nobody stay unrelated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .catalog import Catalog
from .titles import normalize, split_year

SERIES_BOOST = 2.0  # two films of one series: co-rating similarity x (1 + this)
MAX_SERIES = 30  # a name in more titles than this is a common phrase, not a series
NAMED, PREFIX = 2.0, 1.0  # same_series values: one name (or a longer name inside a title); a one-word prefix
AUDIENCE = 0.8  # a PREFIX pair counts when this share of the less-rated film's raters rated both ...
MIN_SHARED = 5  # ... and at least this many did
_MARKER = r"(?:\d+|[ivx]+|part|chapter|vol|volume|episode|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen)"


def series_names(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Each title's series name ("" when it has none) and its whole normalized title (vectorized)."""
    main = split_year(titles)[0].str.replace(r"\s*\([^()]*\)", "", regex=True)  # alternate titles
    whole = normalize(main)
    name = normalize(main.str.split(r":|\s-\s", n=1, regex=True).str[0])
    name = name.str.replace(rf"(?:\s+{_MARKER})+$", "", regex=True).str.replace(rf"^{_MARKER}$", "", regex=True)
    return name.where(name.str.len() >= 3, ""), whole


def same_series(titles: Sequence[str] | np.ndarray) -> sp.csr_matrix:
    """Symmetric float32 matrix [n, n] over ``titles`` (one per movie index; "" for a movie
    without a title): ``NAMED`` where two movies are of one series by name, ``PREFIX`` where
    only a one-word name starts the other's title (it needs :func:`borne_out`), 0 elsewhere."""
    n = len(titles)
    name, whole = series_names(pd.Series(np.asarray(titles, dtype=object)).fillna(""))
    # Every phrase of every title (one-word phrases only at its start), as (phrase, movie) rows:
    # a few dozen per title (about 3.6 s for 87k titles, ml-32m's catalog size).
    phrases = [
        (" ".join(words[start:stop]), movie)
        for movie, words in enumerate(whole.str.split())
        for start in range(len(words))
        for stop in range(start + (2 if start else 1), len(words) + 1)
    ]
    found = pd.DataFrame(phrases, columns=["name", "other"]).drop_duplicates()
    # Common phrases go before the join: each name then meets at most MAX_SERIES titles (and
    # "Movie 1" ... "Movie 80000" never make 80000² rows).
    found = found[found.groupby("name")["other"].transform("size") <= MAX_SERIES]
    names = pd.DataFrame({"name": name.to_numpy(), "movie": np.arange(n)})
    pairs = names[names["name"] != ""].merge(found, on="name")
    pairs = pairs[pairs["movie"] != pairs["other"]]
    rows, cols = pairs["movie"].to_numpy(np.int64), pairs["other"].to_numpy(np.int64)
    strong = pairs["name"].str.contains(" ").to_numpy() | (name.to_numpy()[cols] == pairs["name"].to_numpy())
    either = sp.csr_matrix((np.where(strong, NAMED, PREFIX).astype(np.float32), (rows, cols)), shape=(n, n))
    return either.maximum(either.T).tocsr()


def borne_out(kinds: np.ndarray, shared: np.ndarray, smaller: np.ndarray) -> np.ndarray:
    """Which pairs of one series (``kinds``: their :func:`same_series` values) the ratings bear
    out, given how many raters each pair shares and the rating count of its less-rated film."""
    return (kinds == NAMED) | ((shared >= MIN_SHARED) & (shared >= AUDIENCE * smaller))


def catalog_series(catalog: Catalog, movie_ids: np.ndarray) -> sp.csr_matrix:
    """:func:`same_series` over the movies ``movie_ids`` (a model's movie indices), by their
    catalog titles; a movie missing from the catalog is of no series."""
    rows = catalog.rows(np.asarray(movie_ids))
    return same_series(np.where(rows >= 0, catalog.titles[np.maximum(rows, 0)], ""))


def by_name(series: sp.csr_matrix) -> sp.csr_matrix:
    """The ``NAMED`` pairs of :func:`same_series` alone, as 0/1: those need no ratings to bear them out."""
    named = series.copy()
    named.data = (named.data == NAMED).astype(np.float32)
    named.eliminate_zeros()
    return named
