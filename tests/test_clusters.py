"""Clusters on synthetic embeddings with planted genre groups, the scores, choose_k and the plot."""

from __future__ import annotations

import json

import numpy as np
import pytest

from movierec import Catalog, DataError
from movierec.explore.clusters import choose_k, cluster_movies, coherence, elbow, purity, rarest_genre
from movierec.explore.plot import plot_clusters

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
    assert {c.name.split(" · ")[0] for c in report.clusters} == set(GENRES)
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
    assert "members" not in report.as_dict(catalog, members=False)["clusters"][0]


def test_plot_writes_a_png(tmp_path, rng) -> None:
    embeddings, ids, catalog, counts, _ = planted(rng, n_per_group=20)
    report = cluster_movies(embeddings, ids, catalog, counts, k=len(GENRES), min_ratings=0)
    path = plot_clusters(report, catalog, tmp_path / "map.png")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000
    with pytest.raises(OSError, match="does not exist"):
        plot_clusters(report, catalog, tmp_path / "missing" / "map.png")


def test_elbow_is_the_point_farthest_below_the_chord() -> None:
    assert elbow([3, 4, 5, 6, 7, 8, 9], [100, 80, 60, 40, 38, 37, 36]) == 6
    assert elbow([2, 3, 4], [10, 9, 8]) == 2  # a straight line has no elbow: the first k
    assert elbow([5, 10], [3.0, 1.0]) == 5
