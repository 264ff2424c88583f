"""Cluster names that are claims checked against the members: the genres named must be
over-represented in the cluster (lift) and carried together by at least ``MIN_SUPPORT`` of
its members (support), no two clusters share a name, and a cluster no name fits is called
"Mixed: ..." with its commonest genres' shares."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..data.titles import short_title

NOT_GENRES = ("IMAX",)  # a screen format MovieLens lists among genres: counted, never a cluster's name
MIN_SUPPORT = 0.40  # a name's genres are carried together by at least this share of the members
MIN_LIFT = 1.2  # and each is at least this many times as common in the cluster as among all clustered
MIXED = "Mixed"


@dataclass(frozen=True)
class Name:
    """What a cluster is called, and how well its members bear the name out."""

    text: str  # "Crime · Drama", or "Mixed: Drama 54% · Thriller 33%"
    genres: tuple[str, ...]  # the genres the name claims, most over-represented first; () if mixed
    support: float | None  # share of members carrying every genre of the name; None if mixed
    lift: float | None  # support / the same share among all clustered movies; None if mixed

    @property
    def mixed(self) -> bool:
        return not self.genres



def name_clusters(
    labels: np.ndarray, genres: np.ndarray, genre_names: list[str], k: int, titles: np.ndarray | None = None
) -> list[Name]:
    """One name per cluster, all different: a genre or a pair of genres that sets it apart, or "Mixed".

    A candidate name is one genre or two (never one of ``NOT_GENRES``). It fits a cluster when
    at least ``MIN_SUPPORT`` of the members carry all its genres and each of them is at least
    ``MIN_LIFT`` times as common in the cluster as among all the movies clustered (``genres``).
    Its score is ``support * log(lift)`` (lift of the genres together): broad and distinctive
    names score high, so "Crime · Drama" (50% of members, 4x as common) beats "Drama" (90%,
    1.8x). Names are then assigned as one matching (Hungarian algorithm) that names as many
    clusters as possible, then maximizes the total score: two crime clusters cannot both be
    "Crime", so the one Crime fits less well gets its next best name. A cluster left without
    one is "Mixed: " with its two commonest genres and their shares; if two Mixed names are
    still alike, the later one adds its best-known movie from ``titles`` (members most-rated first).
    """
    labels = np.asarray(labels)
    g = np.asarray(genres, dtype=np.float32)
    n = g.shape[0]
    usable = ~np.isin(np.asarray(genre_names, dtype=object), NOT_GENRES)
    # Candidates as index pairs (a, b); a == b is the genre alone, so one co-occurrence matrix
    # per cluster (its diagonal: genre counts) gives every candidate's count.
    allowed = np.flatnonzero(usable)
    a, b = np.array([(j, j) for j in allowed] + list(combinations(allowed, 2)), dtype=np.int64).reshape(-1, 2).T
    sizes = np.bincount(labels, minlength=k).astype(np.float64)
    together = np.stack([g[labels == c].T @ g[labels == c] for c in range(k)])  # [k, genres, genres]
    base = np.diagonal(g.T @ g) / max(n, 1)  # share of all clustered movies carrying each genre
    base_pair = (g.T @ g)[a, b] / max(n, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        support = together[:, a, b] / sizes[:, None]  # [k, candidates]
        share = np.diagonal(together, axis1=1, axis2=2) / sizes[:, None]  # [k, genres]
        genre_lift = np.where(base > 0, share / base, 0.0)
        lift = np.where(base_pair > 0, support / base_pair, 0.0)
        score = np.where(lift > 0, support * np.log(lift), 0.0)
    fits = (support >= MIN_SUPPORT) & (np.minimum(genre_lift[:, a], genre_lift[:, b]) >= MIN_LIFT)
    # Naming one more cluster outweighs any score: a score is at most log(n) (lift <= n).
    weight = np.where(fits, 1.0 + np.log(max(n, 2)) + score, 0.0)
    names: list[Name | None] = [None] * k
    if weight.size:
        for c, j in zip(*linear_sum_assignment(weight, maximize=True)):
            if fits[c, j]:
                pair = (a[j],) if a[j] == b[j] else tuple(sorted((a[j], b[j]), key=lambda i: -genre_lift[c, i]))
                names[c] = Name(
                    " · ".join(genre_names[i] for i in pair), tuple(genre_names[i] for i in pair),
                    float(support[c, j]), float(lift[c, j]),
                )
    taken = {x.text for x in names if x is not None}
    for c in range(k):
        if names[c] is None:
            names[c] = _mixed(share[c], genre_names, usable, taken, _best_known(labels, c, titles))
            taken.add(names[c].text)
    return names  # type: ignore[return-value]


def _mixed(share: np.ndarray, genre_names: list[str], usable: np.ndarray, taken: set[str], title: str | None) -> Name:
    """ "Mixed: Drama 54% · Thriller 33%": no name fits, so say what the members do carry."""
    share = np.where(usable, np.nan_to_num(share), 0.0)
    top = [j for j in np.argsort(-share, kind="stable")[:2] if share[j] > 0]
    text = f"{MIXED}: " + (" · ".join(f"{genre_names[j]} {share[j]:.0%}" for j in top) or "no genres")
    if text in taken and title:
        text += f" · like {short_title(title)}"
    return Name(text, (), None, None)


def _best_known(labels: np.ndarray, c: int, titles: np.ndarray | None) -> str | None:
    if titles is None:
        return None
    first = np.flatnonzero(labels == c)[:1]
    return str(titles[first[0]]) if first.size else None


