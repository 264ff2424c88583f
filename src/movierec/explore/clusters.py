"""Movie clusters from learned embeddings, and how well they agree with genres.

The notebook this project grew from clustered movie embeddings with KMeans and claimed that
"movies in the same cluster are in similar genres". Here the claim is measured: every
clustering is scored against the genre labels and against random clusterings of the same
sizes (the same cluster sizes, movies shuffled), so a purity of 0.6 means something only
next to what chance gives.

Genres are multi-label (Toy Story is Adventure|Animation|Children|Comedy|Fantasy):

- **purity** takes them as they are: a cluster's purity is the share of its movies that
  carry its most common genre; the score is the size-weighted mean over clusters.
- **NMI** needs one label per movie: each movie gets its *rarest* genre among the movies
  clustered (Toy Story -> Animation, not Comedy), the most specific thing known about it.
  Movies without genres share the label "(no genres listed)".

A cluster's **name** is a claim about its members, so it is checked before it is made (see
:func:`name_clusters`): the genres named must be over-represented in the cluster (lift) and
carried together by at least ``MIN_SUPPORT`` of its members (support), and no two clusters
share a name; a cluster no name fits is called "Mixed: ..." with its commonest genres' shares.

The **map** places the movies by t-SNE of their normalized embeddings (:func:`map_coords`),
which keeps neighbourhoods, so clusters show as regions instead of PCA's one overlapping mass.

Length: KMeans, the scores against chance, the report and k selection read as one story
(the names and the map live in :mod:`.naming` and :mod:`.layout`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score, silhouette_score

from ..data.catalog import NO_GENRES, Catalog
from ..errors import DataError, ModelError
from ..eval.metrics import unit_rows
from .layout import map_coords
from .naming import MIN_LIFT, MIN_SUPPORT, name_clusters

if TYPE_CHECKING:
    from ..recommend.recommender import Recommender

N_TOP_TITLES = 10
N_TOP_GENRES = 3

# 20 colours for 20 clusters, none a look-alike of another: picked greedily from an sRGB grid,
# each the farthest in CIELAB from those already picked (lightness 38-80 and chroma 30-75, so
# every one shows on white and none is grey). Any two differ by ΔE76 >= 33; tab20's light/dark
# pairs differ by as little as 17. The order is the picking order: the first k are as far apart
# as the greedy rule gets them. Clusters past 20 reuse the colours.
PALETTE = (
    "#1e78b4", "#f0a51e", "#00e187", "#d20069", "#5a692d", "#e187ff", "#ffb4a5", "#4bd2d2", "#b42d00", "#b4d23c",
    "#874b69", "#2d5ad2", "#1e8700", "#d2b4f0", "#a5d296", "#a5692d", "#ff87c3", "#0f7869", "#a51e96", "#f06969",
)


@dataclass(frozen=True)
class Cluster:
    """One cluster: its members (most-rated first) and what they have in common."""

    label: int  # 0 is the largest cluster
    size: int
    name: str  # Name.text: "Crime · Drama", or "Mixed: ..."; unique among the clusters
    name_genres: tuple[str, ...]  # the genres the name claims; () if mixed
    name_support: float | None  # share of members carrying every genre of the name; None if mixed
    name_lift: float | None  # name_support / the same share among all clustered movies
    top_genres: list[tuple[str, float, float]]  # (genre, share of members, lift), most common first
    top_titles: list[str]  # the 10 most-rated members, as the notebook printed them
    mean_rating: float | None  # mean of all training ratings of its members
    movie_ids: np.ndarray = field(repr=False)  # int64, most-rated first
    coords: np.ndarray = field(repr=False)  # float32 [size, 2], same order

    @property
    def color(self) -> str:
        """Its colour on the map (PNG and web page alike), "#rrggbb"."""
        return PALETTE[self.label % len(PALETTE)]

    @property
    def mixed(self) -> bool:
        return not self.name_genres

    def as_dict(self, catalog: Catalog | None = None, members: bool = True) -> dict:
        out: dict = {
            "label": self.label,
            "size": self.size,
            "name": self.name,
            "name_genres": list(self.name_genres),
            "name_support": _rounded(self.name_support),
            "name_lift": _rounded(self.name_lift),
            "mixed": self.mixed,
            "color": self.color,
            "top_genres": [{"genre": g, "share": round(s, 4), "lift": round(x, 4)} for g, s, x in self.top_genres],
            "top_titles": self.top_titles,
            "mean_rating": _rounded(self.mean_rating),
        }
        if members:
            ids = self.movie_ids.tolist()
            xy = np.round(self.coords.astype(np.float64), 4).tolist()
            titles = catalog.titles[catalog.rows(self.movie_ids)].tolist() if catalog is not None else [None] * len(ids)
            out["members"] = [
                {"movie_id": i, "title": t, "x": p[0], "y": p[1]} for i, t, p in zip(ids, titles, xy)
            ]
        return out


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class Score:
    """A clustering score next to the same score for random clusterings of the same sizes."""

    value: float
    random_mean: float
    random_std: float

    @property
    def z(self) -> float:
        """How many random standard deviations ``value`` lies above the random mean."""
        if self.random_std > 0:
            return (self.value - self.random_mean) / self.random_std
        return 0.0 if self.value == self.random_mean else float("inf")

    def as_dict(self) -> dict[str, float]:
        return {
            "value": round(self.value, 4),
            "random_mean": round(self.random_mean, 4),
            "random_std": round(self.random_std, 4),
            "z": round(self.z, 2),
        }


@dataclass(frozen=True)
class ClusterReport:
    """KMeans clusters of the movies with at least ``min_ratings`` ratings."""

    k: int
    min_ratings: int
    seed: int
    n_random: int
    clusters: list[Cluster]
    purity: Score
    nmi: Score
    movie_ids: np.ndarray = field(repr=False)  # int64, every clustered movie
    labels: np.ndarray = field(repr=False)  # int32 cluster of each
    coords: np.ndarray = field(repr=False)  # float32 [n, 2]: map positions, see map_coords
    counts: np.ndarray = field(repr=False)  # int64 training ratings of each
    layout: str = "tsne"  # how coords were made: "tsne", or "pca" for a handful of movies

    @property
    def n_movies(self) -> int:
        return int(self.movie_ids.size)

    def as_dict(self, catalog: Catalog | None = None, members: bool = True) -> dict:
        return {
            "k": self.k,
            "min_ratings": self.min_ratings,
            "seed": self.seed,
            "n_movies": self.n_movies,
            "n_random": self.n_random,
            "layout": self.layout,
            "min_support": MIN_SUPPORT,
            "min_lift": MIN_LIFT,
            "purity": self.purity.as_dict(),
            "nmi": self.nmi.as_dict(),
            "clusters": [c.as_dict(catalog, members) for c in self.clusters],
        }


def _check_k(k: int, n_movies: int, min_ratings: int) -> None:
    if k < 2:
        raise DataError(f"k={k} should be >= 2: one cluster says nothing")
    if n_movies < k:
        raise DataError(
            f"n_movies={n_movies} should be >= k={k}: only {n_movies} movies have >= {min_ratings} ratings; "
            "lower k or --min-ratings"
        )


def genre_matrix(catalog: Catalog, movie_ids: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Boolean movies x genres of ``movie_ids`` (without the "no genres" column) and the names."""
    rows = catalog.rows(movie_ids)
    keep = [j for j, name in enumerate(catalog.genre_names) if name != NO_GENRES]
    genres = np.zeros((rows.size, len(keep)), dtype=bool)
    found = rows >= 0
    genres[found] = catalog.genres[rows[found]][:, keep]
    return genres, [catalog.genre_names[j] for j in keep]


def purity(labels: np.ndarray, genres: np.ndarray, k: int | None = None) -> float:
    """Size-weighted genre purity: share of movies carrying their cluster's most common genre."""
    labels = np.asarray(labels)
    k = int(labels.max()) + 1 if k is None else k
    counts = np.zeros((k, genres.shape[1]), dtype=np.int64)
    np.add.at(counts, labels, genres.astype(np.int64))
    return float(counts.max(axis=1, initial=0).sum() / max(labels.size, 1))


def rarest_genre(genres: np.ndarray) -> np.ndarray:
    """One label per movie for NMI: its least frequent genre; -1 where it has none."""
    if genres.shape[1] == 0:  # a catalog without genres (a plain ratings CSV): every movie has none
        return np.full(genres.shape[0], -1)
    frequency = genres.sum(axis=0)
    masked = np.where(genres, frequency, np.iinfo(np.int64).max)
    return np.where(genres.any(axis=1), masked.argmin(axis=1), -1)


def coherence(
    labels: np.ndarray, genres: np.ndarray, n_random: int = 20, seed: int = 0
) -> tuple[Score, Score]:
    """Purity and NMI of ``labels`` against genres, each next to ``n_random`` shuffled clusterings."""
    labels = np.asarray(labels)
    k = int(labels.max()) + 1
    single = rarest_genre(genres)
    rng = np.random.default_rng(seed)
    shuffled = [rng.permutation(labels) for _ in range(n_random)]  # same sizes, movies shuffled
    random_purity = np.array([purity(s, genres, k) for s in shuffled])
    random_nmi = np.array([normalized_mutual_info_score(single, s) for s in shuffled])
    ddof = 1 if n_random > 1 else 0
    return (
        Score(purity(labels, genres, k), float(random_purity.mean()), float(random_purity.std(ddof=ddof))),
        Score(float(normalized_mutual_info_score(single, labels)), float(random_nmi.mean()), float(random_nmi.std(ddof=ddof))),
    )


def _selection(counts: np.ndarray, min_ratings: int) -> np.ndarray:
    return np.flatnonzero(np.asarray(counts) >= min_ratings)


def cluster_movies(
    embeddings: np.ndarray,
    movie_ids: np.ndarray,
    catalog: Catalog,
    counts: np.ndarray,
    mean_ratings: np.ndarray | None = None,
    k: int = 10,
    min_ratings: int = 20,
    seed: int = 0,
    n_random: int = 20,
) -> ClusterReport:
    """KMeans (scikit-learn) on the L2-normalized embeddings of movies with >= ``min_ratings``.

    ``embeddings``, ``movie_ids``, ``counts`` (training ratings per movie) and ``mean_ratings``
    are parallel, one row per movie of the model. Clusters are numbered by size, largest first.
    """
    embeddings = np.asarray(embeddings, dtype=np.float32)
    movie_ids = np.asarray(movie_ids, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    if not (embeddings.shape[0] == movie_ids.size == counts.size):
        raise ValueError(
            f"embeddings, movie_ids and counts must have one row per movie; got {embeddings.shape[0]}, "
            f"{movie_ids.size} and {counts.size}"
        )
    if n_random < 1:
        raise ValueError(f"n_random must be >= 1, got {n_random}")
    chosen = _selection(counts, min_ratings)
    _check_k(k, chosen.size, min_ratings)
    # Most-rated first, so every cluster's members come out in that order too.
    chosen = chosen[np.argsort(-counts[chosen], kind="stable")]
    x = unit_rows(embeddings[chosen])  # Euclidean KMeans on unit rows follows cosine
    kmeans = KMeans(n_clusters=k, n_init="auto", random_state=seed).fit(x)
    sizes = np.bincount(kmeans.labels_, minlength=k)
    relabel = np.empty(k, dtype=np.int32)
    relabel[np.argsort(-sizes, kind="stable")] = np.arange(k, dtype=np.int32)
    labels = relabel[kmeans.labels_]
    layout, coords = map_coords(x)

    ids = movie_ids[chosen]
    genres, genre_names = genre_matrix(catalog, ids)
    purity_score, nmi_score = coherence(labels, genres, n_random, seed)
    overall = genres.mean(axis=0)
    titles = catalog.titles[np.maximum(catalog.rows(ids), 0)]
    names = name_clusters(labels, genres, genre_names, k, titles)
    means = None if mean_ratings is None else np.asarray(mean_ratings, np.float64)[chosen]
    weights = counts[chosen].astype(np.float64)

    clusters = []
    for c in range(k):  # k is small; everything inside is vectorized over the members
        members = np.flatnonzero(labels == c)
        shares = genres[members].mean(axis=0)
        lift = np.divide(shares, overall, out=np.zeros_like(shares), where=overall > 0)
        top = np.argsort(-shares, kind="stable")[:N_TOP_GENRES]
        top_genres = [(genre_names[j], float(shares[j]), float(lift[j])) for j in top if shares[j] > 0]
        mean = None
        if means is not None and weights[members].sum() > 0:
            mean = float(np.average(means[members], weights=weights[members]))
        n = names[c]
        clusters.append(
            Cluster(
                label=c,
                size=int(members.size),
                name=n.text,
                name_genres=n.genres,
                name_support=n.support,
                name_lift=n.lift,
                top_genres=top_genres,
                top_titles=[str(t) for t in titles[members[:N_TOP_TITLES]]],
                mean_rating=mean,
                movie_ids=ids[members],
                coords=coords[members],
            )
        )
    return ClusterReport(
        k, min_ratings, seed, n_random, clusters, purity_score, nmi_score, ids, labels, coords, counts[chosen], layout
    )


@dataclass(frozen=True)
class KChoice:
    """Inertia and silhouette per k; ``suggested`` is the elbow of the inertia curve."""

    ks: list[int]
    inertia: list[float]
    silhouette: list[float]
    suggested: int

    def as_dict(self) -> dict:
        return {
            "suggested": self.suggested,
            "ks": [
                {"k": k, "inertia": round(i, 4), "silhouette": round(s, 4)}
                for k, i, s in zip(self.ks, self.inertia, self.silhouette)
            ],
        }


def choose_k(
    embeddings: np.ndarray,
    counts: np.ndarray,
    ks: range | list[int],
    min_ratings: int = 20,
    seed: int = 0,
    sample_size: int = 3000,
    callback=None,
) -> KChoice:
    """Fit KMeans for each k in ``ks``; report inertia and silhouette, and suggest a k.

    The suggestion is the elbow of the inertia curve: the k lying farthest below the straight
    line from the first k's inertia to the last one's (the "kneedle" rule). Silhouette is
    reported alongside but not used: on movie embeddings it is small everywhere and usually
    favours the smallest k. It is quadratic in the number of movies, so above ``sample_size``
    movies it is estimated on a seeded sample. ``callback(k)`` is called after each k.
    """
    ks = sorted(set(int(k) for k in ks))
    if not ks:
        raise ValueError("choose_k needs at least one k, e.g. range(5, 31, 5)")
    chosen = _selection(counts, min_ratings)
    for k in ks:
        _check_k(k, chosen.size, min_ratings)
    x = unit_rows(np.asarray(embeddings, dtype=np.float32)[chosen])
    inertia, silhouette = [], []
    for k in ks:
        kmeans = KMeans(n_clusters=k, n_init="auto", random_state=seed).fit(x)
        inertia.append(float(kmeans.inertia_))
        silhouette.append(
            float(
                silhouette_score(
                    x, kmeans.labels_, sample_size=min(sample_size, x.shape[0]), random_state=seed
                )
            )
            if k < x.shape[0]
            else float("nan")
        )
        if callback is not None:
            callback(k)
    return KChoice(ks, inertia, silhouette, elbow(ks, inertia))


def elbow(ks: list[int], inertia: list[float]) -> int:
    """The k farthest below the chord joining the first and last points of the inertia curve."""
    k, y = np.asarray(ks, np.float64), np.asarray(inertia, np.float64)
    if k.size < 3 or y[0] == y[-1]:
        return int(k[0])
    chord = y[0] + (y[-1] - y[0]) * (k - k[0]) / (k[-1] - k[0])
    return int(k[np.argmax(chord - y)])


EMBEDDINGS = ("auto", "rating", "ranking")


def model_embeddings(rec: Recommender, which: str = "auto") -> tuple[str, np.ndarray]:
    """(kind, movie embeddings) of a Recommender's ``rating`` or ``ranking`` model.

    ``auto`` takes the ranking model's when it has them, else the rating model's: the same
    vectors :meth:`Recommender.similar` uses.
    """
    if which not in EMBEDDINGS:
        raise ValueError(f"embedding must be one of {', '.join(EMBEDDINGS)}, got {which!r}")
    order = ("ranking", "rating") if which == "auto" else (which,)
    for kind in order:
        model = getattr(rec, kind)
        embeddings = model.movie_embeddings() if model is not None else None
        if embeddings is not None:
            return kind, np.asarray(embeddings, np.float32)
    have = ", ".join(f"{k}={m.name}" for k, m in rec.artifact.models().items())
    wanted = "either model" if which == "auto" else f"the {which} model"
    raise ModelError(
        f"{wanted} of this folder has no movie embeddings to cluster ({have}); "
        "train one that has them, e.g. movierec train --rating mf --ranking ials"
    )


def cluster_recommender(
    rec: Recommender, k: int = 10, embedding: str = "auto", min_ratings: int = 20, seed: int = 0, n_random: int = 20
) -> tuple[str, ClusterReport]:
    """:func:`cluster_movies` on a trained Recommender's movies; returns the embedding kind used too."""
    kind, embeddings = model_embeddings(rec, embedding)
    a = rec.artifact
    report = cluster_movies(
        embeddings, a.movie_vocab.ids, a.catalog, a.movie_counts, a.movie_means, k, min_ratings, seed, n_random
    )
    return kind, report
