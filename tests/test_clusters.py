"""Clusters on synthetic embeddings with planted genre groups, the scores, choose_k and the plot."""

from __future__ import annotations

import json

import numpy as np
import pytest

from movierec import Catalog, DataError
from movierec.data.synthetic import generate
from movierec.eval.metrics import unit_rows
from movierec.explore import layout as layout_module
from movierec.explore.clusters import (
    PALETTE,
    choose_k,
    cluster_movies,
    coherence,
    elbow,
    genre_matrix,
    purity,
    rarest_genre,
)
from movierec.explore.layout import map_coords
from movierec.explore.naming import MIN_LIFT, MIN_SUPPORT, name_clusters
from movierec.explore.plot import _candidates, plot_clusters

GENRES = ("Action", "Animation", "Documentary", "Horror", "Romance", "Western")


def planted(rng: np.random.Generator, n_per_group: int = 50, noise: float = 0.15, dim: int = 8):
    """Movies in len(GENRES) groups: each group shares a genre and an embedding centre."""
    n_groups = len(GENRES)
    group = np.repeat(np.arange(n_groups), n_per_group)
    centres = rng.normal(size=(n_groups, dim))
    embeddings = (centres[group] + noise * rng.normal(size=(group.size, dim))).astype(np.float32)
    ids = np.arange(1, group.size + 1) * 10
    genres = [GENRES[g] + ("|Drama" if i % 3 == 0 else "") for i, g in enumerate(group)]
    catalog = Catalog.from_frame(ids, [f"Movie {i} ({1990 + i % 30})" for i in ids], genres)
    counts = rng.integers(20, 500, size=group.size)
    return embeddings, ids, catalog, counts, group


def test_planted_genre_clusters_are_found_and_beat_random(rng) -> None:
    embeddings, ids, catalog, counts, group = planted(rng)
    means = np.linspace(2.0, 4.5, ids.size)
    report = cluster_movies(embeddings, ids, catalog, counts, means, k=len(GENRES), min_ratings=0, seed=0)
    assert report.purity.value > 0.95
    assert report.purity.random_mean < 0.45
    assert report.purity.z > 20
    assert report.nmi.value > 0.9 > report.nmi.random_mean + 0.5
    assert report.nmi.z > 20
    # Each cluster is one planted group, named after its genre.
    assert sorted(c.size for c in report.clusters) == [50] * len(GENRES)
    assert {c.top_genres[0][0] for c in report.clusters} == set(GENRES)
    assert all(c.top_genres[0][1] == 1.0 for c in report.clusters)
    assert {c.name for c in report.clusters} == set(GENRES)  # Drama (1 in 3 of each) names none
    assert all(c.name_support == 1.0 and not c.mixed for c in report.clusters)
    # Members come most-rated first, and the top titles are the 10 most-rated.
    first = report.clusters[0]
    member_counts = counts[np.searchsorted(ids, first.movie_ids)]
    assert np.all(np.diff(member_counts) <= 0)
    assert first.top_titles == list(catalog.titles[catalog.rows(first.movie_ids[:10])])
    # Mean rating is the ratings-weighted mean over the members.
    rows = np.searchsorted(ids, first.movie_ids)
    assert first.mean_rating == pytest.approx(np.average(means[rows], weights=counts[rows]))
    assert report.coords.shape == (ids.size, 2) and report.labels.shape == (ids.size,)


def test_unstructured_embeddings_score_like_random(rng) -> None:
    embeddings, ids, catalog, counts, _ = planted(rng)
    noise = rng.normal(size=embeddings.shape).astype(np.float32)
    report = cluster_movies(noise, ids, catalog, counts, k=len(GENRES), min_ratings=0, seed=1, n_random=30)
    assert abs(report.purity.z) < 4
    assert report.purity.value < 0.45


def test_min_ratings_selects_movies_and_k_is_checked(rng) -> None:
    embeddings, ids, catalog, counts, _ = planted(rng)
    counts = np.where(np.arange(ids.size) < 100, 5, 50)
    report = cluster_movies(embeddings, ids, catalog, counts, k=3, min_ratings=20)
    assert report.n_movies == ids.size - 100
    assert set(report.movie_ids.tolist()) == set(ids[100:].tolist())
    with pytest.raises(DataError, match=r"n_movies=200 should be >= k=500"):
        cluster_movies(embeddings, ids, catalog, counts, k=500, min_ratings=20)
    with pytest.raises(DataError, match="k=1"):
        cluster_movies(embeddings, ids, catalog, counts, k=1)
    with pytest.raises(ValueError, match="one row per movie"):
        cluster_movies(embeddings[:-1], ids, catalog, counts)


def test_purity_and_rarest_genre_by_hand() -> None:
    genres = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [1, 0, 1]], dtype=bool)
    # cluster 0 = movies 0, 1 (both Action): 2; cluster 1 = movies 2, 3 (no shared genre): 1
    assert purity(np.array([0, 0, 1, 1]), genres) == pytest.approx(3 / 4)
    assert purity(np.array([0, 0, 0, 0]), genres) == pytest.approx(3 / 4)
    assert purity(np.array([0, 1, 2, 3]), genres) == pytest.approx(1.0)
    # genre frequencies 3, 2, 1: each movie's rarest genre; a movie without genres gets -1
    assert rarest_genre(genres).tolist() == [0, 1, 1, 2]
    assert rarest_genre(np.zeros((2, 3), bool)).tolist() == [-1, -1]


def test_coherence_random_baseline_keeps_cluster_sizes(rng) -> None:
    genres = rng.random((400, 5)) < 0.3
    labels = np.repeat(np.arange(4), [200, 100, 60, 40])
    purity_score, nmi_score = coherence(labels, genres, n_random=25, seed=3)
    assert purity_score.random_std > 0 and nmi_score.random_std > 0
    assert abs(purity_score.z) < 4  # labels unrelated to genres
    same = coherence(labels, genres, n_random=25, seed=3)
    assert same[0] == purity_score  # seeded


def test_choose_k_suggests_the_planted_number(rng) -> None:
    embeddings, ids, catalog, counts, _ = planted(rng, n_per_group=30, noise=0.1)
    seen = []
    choice = choose_k(embeddings, counts, range(3, 10), min_ratings=0, callback=seen.append)
    assert choice.suggested == len(GENRES)
    assert seen == list(range(3, 10))
    assert all(a >= b for a, b in zip(choice.inertia, choice.inertia[1:]))  # more clusters, less inertia
    assert json.loads(json.dumps(choice.as_dict()))["suggested"] == len(GENRES)
    with pytest.raises(DataError, match="should be >= k"):
        choose_k(embeddings, counts, [2, 1000], min_ratings=0)


def test_report_as_dict_is_json_with_members_and_coordinates(rng) -> None:
    embeddings, ids, catalog, counts, _ = planted(rng, n_per_group=10)
    report = cluster_movies(embeddings, ids, catalog, counts, k=3, min_ratings=0)
    payload = json.loads(json.dumps(report.as_dict(catalog)))
    assert payload["k"] == 3 and payload["n_movies"] == ids.size
    assert set(payload["purity"]) == {"value", "random_mean", "random_std", "z"}
    members = [m for c in payload["clusters"] for m in c["members"]]
    assert sorted(m["movie_id"] for m in members) == ids.tolist()
    assert all(m["title"].startswith("Movie ") and isinstance(m["x"], float) for m in members)
    assert payload["layout"] == "tsne" and payload["min_support"] == MIN_SUPPORT
    for c in payload["clusters"]:
        assert c["color"] == PALETTE[c["label"]]
        assert c["mixed"] == (c["name_support"] is None) == (not c["name_genres"])
        assert all(set(g) == {"genre", "share", "lift"} for g in c["top_genres"])
    assert "members" not in report.as_dict(catalog, members=False)["clusters"][0]


def test_plot_writes_a_png(tmp_path, rng) -> None:
    embeddings, ids, catalog, counts, _ = planted(rng, n_per_group=20)
    report = cluster_movies(embeddings, ids, catalog, counts, k=len(GENRES), min_ratings=0)
    path = plot_clusters(report, catalog, tmp_path / "map.png")
    labelled = _candidates(report)
    assert len(set(labelled.tolist())) == labelled.size  # a title is tried once, never drawn twice
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000
    with pytest.raises(OSError, match="does not exist"):
        plot_clusters(report, catalog, tmp_path / "missing" / "map.png")


def test_elbow_is_the_point_farthest_below_the_chord() -> None:
    assert elbow([3, 4, 5, 6, 7, 8, 9], [100, 80, 60, 40, 38, 37, 36]) == 6
    assert elbow([2, 3, 4], [10, 9, 8]) == 2  # a straight line has no elbow: the first k
    assert elbow([5, 10], [3.0, 1.0]) == 5


def _lab(hexes) -> np.ndarray:
    """CIELAB (D65) of "#rrggbb" colours, for telling look-alikes apart."""
    rgb = np.array([[int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)] for h in hexes])
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    f = np.cbrt(xyz / [0.95047, 1.0, 1.08883])  # every palette colour is far above the linear toe
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def _closest_pair(hexes) -> float:
    lab = _lab(hexes)
    distance = np.linalg.norm(lab[:, None] - lab[None], axis=2)
    np.fill_diagonal(distance, np.inf)
    return float(distance.min())


def test_palette_has_20_colours_none_alike() -> None:
    import matplotlib
    from matplotlib.colors import to_hex

    assert len(set(PALETTE)) == 20
    assert _closest_pair(PALETTE) > 30  # ΔE76; 2.3 is a just-noticeable difference
    assert _closest_pair([to_hex(c) for c in matplotlib.colormaps["tab20"].colors]) < 20  # its light/dark pairs


def test_names_are_unique_and_supported_or_mixed_on_synthetic_taste() -> None:
    """The synthetic generator plants genre structure in the movie factors: cluster those."""
    data = generate(n_users=200, n_movies=700, n_ratings=12_000, seed=3)
    d = data.dataset
    counts = np.bincount(d.movies, minlength=d.movie_vocab.ids.size)
    for k in (10, 20):
        report = cluster_movies(data.movie_factors, d.movie_vocab.ids, d.catalog, counts, k=k, min_ratings=0)
        names = [c.name for c in report.clusters]
        assert len(set(names)) == k, names
        genres, genre_names = genre_matrix(d.catalog, report.movie_ids)
        column = {g: j for j, g in enumerate(genre_names)}
        for c in report.clusters:
            if c.mixed:
                assert c.name.startswith("Mixed: ") and c.name_support is None
                continue
            # Support and lift measured again here from the catalog, not taken from the report.
            carries = genres[:, [column[g] for g in c.name_genres]].all(axis=1)
            members = np.isin(report.movie_ids, c.movie_ids)
            assert c.name_support == pytest.approx(carries[members].mean()) and c.name_support >= MIN_SUPPORT
            assert c.name_lift == pytest.approx(carries[members].mean() / carries.mean())
            for g in c.name_genres:
                j = column[g]
                assert genres[members, j].mean() >= MIN_LIFT * genres[:, j].mean()
        assert sum(not c.mixed for c in report.clusters) >= k // 2  # planted genres do name clusters


def test_names_by_hand_one_name_per_cluster_next_best_or_mixed() -> None:
    names = ["Action", "Comedy", "IMAX", "Romance", "Western"]
    labels = np.repeat([0, 1, 2, 3], 10)
    g = np.zeros((40, 5), bool)
    g[:10, 0] = True  # cluster 0: all Action
    g[10:18, 0] = True  # cluster 1: 80% Action, and 50% Action and Romance together
    g[10:15, 3] = True
    g[20:30, 2] = True  # cluster 2: all IMAX (never a name) and 30% Western
    g[20:23, 4] = True
    g[30:40, 1] = g[30:34, 3] = True  # cluster 3: all Comedy, 40% also Romance
    got = name_clusters(labels, g, names, 4, np.array([f"Film {i} (2000)" for i in range(40)], dtype=object))
    assert [n.text for n in got[:2]] == ["Action", "Romance · Action"]  # Action once; lift orders the pair
    assert got[1].support == pytest.approx(0.5) and got[1].genres == ("Romance", "Action")
    assert got[2].mixed and got[2].text == "Mixed: Western 30%" and got[2].support is None
    assert got[3].text == "Comedy" and got[3].lift == pytest.approx(4.0)
    # Two clusters that are alike and fit nothing: the second Mixed name adds its best-known film.
    twin = name_clusters(np.repeat([0, 1], 10), np.zeros((20, 5), bool), names, 2, np.array(["A (1990)"] * 10 + ["B (1991)"] * 10, dtype=object))
    assert [n.text for n in twin] == ["Mixed: no genres", "Mixed: no genres · like B"]


def _planted_blobs(rng, n_groups: int = 12, per_group: int = 40, dim: int = 16, noise: float = 0.5):
    group = np.repeat(np.arange(n_groups), per_group)
    x = rng.normal(size=(n_groups, dim))[group] + noise * rng.normal(size=(group.size, dim))
    return unit_rows(x.astype(np.float32)), group


def test_map_keeps_planted_clusters_apart_better_than_pca(rng) -> None:
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score

    x, group = _planted_blobs(rng)
    layout, coords = map_coords(x)
    assert layout == "tsne" and coords.shape == (group.size, 2) and coords.dtype == np.float32
    pca = PCA(n_components=2).fit_transform(x)
    assert silhouette_score(coords, group) > silhouette_score(pca, group) + 0.3
    assert map_coords(x)[1] is coords  # cached: the same embedding is laid out once


def test_map_above_the_fit_cap_places_the_rest_by_their_neighbours(rng, monkeypatch) -> None:
    from sklearn.metrics import silhouette_score

    x, group = _planted_blobs(rng, n_groups=6, per_group=60)
    order = rng.permutation(group.size)
    x, group = x[order], group[order]
    monkeypatch.setattr(layout_module, "LAYOUT_FIT_MAX", 120)  # t-SNE sees 120 of 360 movies
    layout, coords = map_coords(x)
    assert layout == "tsne" and np.isfinite(coords).all()
    assert silhouette_score(coords[120:], group[120:]) > 0.5  # the other 240 land with their groups
