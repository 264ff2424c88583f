"""Per-app caches of answers that depend only on the model and the request.

The model never changes while the server runs, so search, movie details, similar movies and a
training user's top-N are computed once and kept as JSON bytes in bounded LRU caches; cluster
reports (KMeans takes a while) are computed once per setting. One :class:`Answers` lives on
``app.state.answers`` for the app's Recommender, so two apps (or a test's swapped-in model)
never share entries, and the caches go away with the app. Errors are not cached.

pydantic_core.to_json writes the library's dataclasses straight to JSON (no asdict deep
copies); the routes still declare response models for the OpenAPI schema, and the tests check
answers against it.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from fastapi import Response
from pydantic_core import to_json as _to_json

from ..errors import ModelError, UnknownIdError
from ..recommend.recommender import Recommender

CACHE_SIZE = 4096


def to_json(content: object) -> bytes:
    return _to_json(content, inf_nan_mode="null")  # JSON has no Infinity


def json_response(content: bytes) -> Response:
    return Response(content, media_type="application/json")


class Answers:
    """JSON answers of one Recommender, each cache bounded to ``size`` entries."""

    def __init__(self, rec: Recommender, size: int = CACHE_SIZE):
        self.rec = rec
        # lru_cache on bound methods: per instance, thread-safe, dropped with the instance.
        self.search = lru_cache(maxsize=size)(self._search)
        self.movie = lru_cache(maxsize=size)(self._movie)
        self.similar = lru_cache(maxsize=size)(self._similar)
        self.user_recommendations = lru_cache(maxsize=size)(self._user_recommendations)
        self._clusters: dict[tuple[int, int], dict] = {}
        self._clusters_lock = threading.Lock()

    def _search(self, q: str, limit: int, offset: int) -> bytes:
        results = self.rec.search(q, limit=limit, offset=offset)
        suggestions = self._did_you_mean(q) if not results and not offset else []
        return to_json({"query": q, "limit": limit, "offset": offset, "results": results, "suggestions": suggestions})

    def _did_you_mean(self, q: str) -> list[dict]:
        """The closest titles to a query that matches nothing: the candidates of the CLI's
        "no movie titled ...; closest: ..." error, each as its movie (the most rated one of
        a title that several movies share)."""
        try:
            self.rec.find_movie(q)
        except UnknownIdError as exc:
            titles = exc.candidates
        else:
            return []
        movies = {m["movie_id"]: m for title in titles for m in self.rec.search(title, limit=1)}
        return list(movies.values())

    def _movie(self, movie_id: int) -> bytes:
        return to_json(self.rec.movie_info(movie_id))

    def _similar(self, movie_id: int, n: int, min_ratings: int) -> bytes:
        similar = self.rec.similar(movie_id, n=n, min_ratings=min_ratings)
        return to_json({"movie": self.rec.movie_info(movie_id), "similar": similar})

    def _user_recommendations(self, user_id: int, **options) -> bytes:
        return to_json({"recommendations": self.rec.recommend(user_id, **options)})

    def clusters(self, k: int, min_ratings: int) -> dict:
        """The cluster report for these settings; concurrent first requests compute it once."""
        with self._clusters_lock:
            if (k, min_ratings) not in self._clusters:
                self._clusters[k, min_ratings] = _cluster_report(self.rec, k, min_ratings)
            return self._clusters[k, min_ratings]


def _cluster_report(rec: Recommender, k: int, min_ratings: int) -> dict:
    from ..explore.clusters import cluster_recommender

    try:
        _, report = cluster_recommender(rec, k, "auto", min_ratings)
    except ModelError:
        raise ModelError("neither model has movie embeddings, so there is no cluster map; train with e.g. --rating mf") from None
    return report.as_dict(rec.catalog)
