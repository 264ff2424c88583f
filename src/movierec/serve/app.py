"""The HTTP API and web page of ``movierec serve`` (FastAPI).

The Recommender is loaded once, in the lifespan, and reaches the routes through the
``get_recommender`` dependency (and the feedback store through ``get_store``), so tests swap
in a tiny model with ``app.dependency_overrides``. Handlers that only compute a few
vectorized scores are ``async``: they finish in well under a millisecond, and running them on
the event loop saves a thread hand-off per request. Handlers that wait on SQLite (fsync on
every write) or run KMeans are plain ``def``, which FastAPI runs in its thread pool.
"""

from __future__ import annotations

import gc
import os
import threading
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic_core import to_json as _to_json
from threadpoolctl import threadpool_limits

from ..errors import DataError, ModelError, UnknownIdError
from ..recommend.recommender import Recommender
from . import schemas
from .store import FeedbackStore

MAX_BODY_BYTES = 64 * 1024
WEB_DIR = Path(str(files("movierec") / "web"))

MovieIdPath = Annotated[int, PathParam(ge=1, le=2**53, description="A MovieLens movie id.")]
UserIdPath = Annotated[int, PathParam(ge=0, le=2**53, description="A user id of the training data.")]
ProfileIdPath = Annotated[
    str, PathParam(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="The secret profile id.")
]
N = Annotated[int, Query(ge=1, le=schemas.MAX_N, description="How many movies.")]
Genres = Annotated[
    list[str], Query(max_length=32, description="Keep movies having all of these genres (repeat the parameter).")
]
YearFrom = Annotated[int | None, Query(ge=1800, le=2200, description="Oldest release year kept.")]
YearTo = Annotated[int | None, Query(ge=1800, le=2200, description="Newest release year kept.")]


# -- dependencies --------------------------------------------------------------------------
async def get_recommender(request: Request) -> Recommender:
    return request.app.state.recommender


async def get_store(request: Request) -> FeedbackStore:
    return request.app.state.store


Rec = Annotated[Recommender, Depends(get_recommender)]
Store = Annotated[FeedbackStore, Depends(get_store)]


# -- helpers -------------------------------------------------------------------------------
def _invalid(field: tuple[str | int, ...], message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming the field."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, [{"loc": list(field), "msg": message, "type": "value_error"}]
    )


def _check_ratings(rec: Recommender, ratings: dict[int, float], where: tuple[str | int, ...]) -> None:
    """The Recommender's checks before ratings are stored: stars off the scale are a 422
    naming the field; movies outside the catalog a 404."""
    try:
        rec.check_ratings(ratings)
    except UnknownIdError as exc:
        raise UnknownIdError(f"{exc}; find movies with GET /api/movies?q=...") from None
    except DataError as exc:
        raise _invalid(where + ("rating",), str(exc)) from None


def _rating_scale(rec: Recommender) -> tuple[float, float]:
    low, high = rec.rating_scale
    return float(low), float(high)


def _stored_ratings(rec: Recommender, store: FeedbackStore, profile_id: str) -> tuple[np.ndarray, ...]:
    """A profile's (catalog rows, movie ids, stars, timestamps), oldest first. Ratings of movies
    this model's catalog lacks (the database may have served another model) are kept in the
    store but left out here, not an error."""
    movie_ids, ratings, stamps = store.ratings(profile_id)
    rows = rec.catalog.rows(movie_ids)
    keep = rows >= 0
    return rows[keep], movie_ids[keep], ratings[keep], stamps[keep]


def _profile(rec: Recommender, store: FeedbackStore, profile_id: str) -> schemas.Profile:
    rows, _, ratings, stamps = _stored_ratings(rec, store, profile_id)
    rated = [
        {**rec.catalog.movie(int(row)), "rating": float(r), "timestamp": int(t)}
        for row, r, t in zip(rows.tolist(), ratings.tolist(), stamps.tolist())
    ]
    return schemas.Profile(profile_id=profile_id, ratings=rated)


def _profile_recommendations(rec: Recommender, store: FeedbackStore, profile_id: str, **filters: Any) -> list:
    """Folded-in recommendations for a stored profile's ratings (see :func:`_stored_ratings`)."""
    _, movie_ids, ratings, _ = _stored_ratings(rec, store, profile_id)
    if not movie_ids.size:
        return []
    return rec.recommend_for_ratings(dict(zip(movie_ids.tolist(), ratings.tolist())), **filters)


# -- answers ---------------------------------------------------------------------------------
# The model never changes while the server runs, so answers that depend only on it and the
# request (search, movie details, similar movies, a training user's top-N) are computed once
# and kept as JSON bytes in a bounded LRU cache. Errors are not cached. pydantic_core.to_json
# writes the library's dataclasses straight to JSON (no asdict deep copies); the routes still
# declare response models for the OpenAPI schema, and the tests check answers against it.
CACHE_SIZE = 4096


def to_json(content: Any) -> bytes:
    return _to_json(content, inf_nan_mode="null")  # JSON has no Infinity


def _json(content: bytes) -> Response:
    return Response(content, media_type="application/json")


@lru_cache(maxsize=CACHE_SIZE)
def _cached_search(rec: Recommender, q: str, limit: int, offset: int) -> bytes:
    return to_json({"query": q, "limit": limit, "offset": offset, "results": rec.search(q, limit=limit, offset=offset)})


@lru_cache(maxsize=CACHE_SIZE)
def _cached_movie(rec: Recommender, movie_id: int) -> bytes:
    return to_json(rec.movie_info(movie_id))


@lru_cache(maxsize=CACHE_SIZE)
def _cached_similar(rec: Recommender, movie_id: int, n: int, min_ratings: int) -> bytes:
    similar = rec.similar(movie_id, n=n, min_ratings=min_ratings)
    return to_json({"movie": rec.movie_info(movie_id), "similar": similar})


@lru_cache(maxsize=CACHE_SIZE)
def _cached_user_recommendations(
    rec: Recommender, user_id: int, n: int, genres: tuple[str, ...], year_from: int | None, year_to: int | None
) -> bytes:
    recs = rec.recommend(user_id, n=n, genres=genres, year_from=year_from, year_to=year_to)
    return to_json({"recommendations": recs})


class _ClusterCache:
    """Cluster reports computed once per model and settings (KMeans takes a while), then shared."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get(self, rec: Recommender, k: int, min_ratings: int) -> dict:
        with self._lock:
            per_model = self._reports.setdefault(rec, {})
            if (k, min_ratings) not in per_model:
                per_model[k, min_ratings] = _cluster_report(rec, k, min_ratings)
            return per_model[k, min_ratings]


def _cluster_report(rec: Recommender, k: int, min_ratings: int) -> dict:
    from ..explore.clusters import cluster_recommender

    try:
        _, report = cluster_recommender(rec, k, "auto", min_ratings)
    except ModelError:
        raise ModelError("neither model has movie embeddings, so there is no cluster map; train with e.g. --rating mf") from None
    return report.as_dict(rec.catalog)


_clusters = _ClusterCache()


# -- the application -----------------------------------------------------------------------
def create_app(
    model_dir: str | os.PathLike | None = None,
    db_path: str | os.PathLike | None = None,
    *,
    recommender: Recommender | None = None,
) -> FastAPI:
    """The API and web page for a model directory (loaded at start-up) and a feedback database.

    Either argument may be left out when tests provide ``get_recommender`` / ``get_store``
    through ``app.dependency_overrides``.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Concurrency comes from requests (and --workers); BLAS threads on top oversubscribe the
        # cores: a fold-in took 4x longer with multithreaded BLAS on a busy 2-core machine.
        blas = threadpool_limits(limits=1)
        app.state.recommender = recommender
        if recommender is None and model_dir is not None:
            app.state.recommender = Recommender.load(model_dir)
        app.state.store = FeedbackStore(db_path) if db_path is not None else None
        if app.state.recommender is not None:
            app.state.recommender.warm_up()
        # The model's many long-lived objects would otherwise be re-scanned by every full
        # garbage collection, a pause of milliseconds in the middle of a request.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if app.state.store is not None:
                app.state.store.close()
            blas.restore_original_limits()

    app = FastAPI(
        title="movierec",
        summary="Movie recommendations from a MovieLens model: search, rate, recommend, explore clusters.",
        version="1",
        lifespan=lifespan,
        max_body_size=MAX_BODY_BYTES,  # larger bodies get 413 (Content-Length and streamed bytes)
        docs_url=None,  # served below from local assets: no CDN
        redoc_url=None,
    )

    @app.exception_handler(UnknownIdError)
    async def _unknown(request: Request, exc: UnknownIdError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "candidates": exc.candidates}, status.HTTP_404_NOT_FOUND)

    @app.exception_handler(ModelError)
    async def _incapable(request: Request, exc: ModelError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_409_CONFLICT)

    @app.exception_handler(ValueError)
    async def _invalid_value(request: Request, exc: ValueError) -> JSONResponse:
        # The library's checks (unknown genre, stars off this model's scale, too many clusters):
        # shaped like FastAPI's own 422s; the message names the value.
        where = "query" if request.method == "GET" else "body"
        detail = [{"loc": [where], "msg": str(exc), "type": "value_error"}]
        return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)

    _add_api(app)
    _add_pages(app)
    return app


def _add_api(app: FastAPI) -> None:
    @app.get("/api/health", response_model=schemas.Health, tags=["service"])
    def health(rec: Rec, store: Store) -> dict:
        """The loaded model, the data it was trained on, and how much feedback is stored."""
        info = rec.info
        feedback = store.counts() if store is not None else {"profiles": 0, "ratings": 0}
        return {
            "status": "ok",
            "model": ", ".join(f"{kind}: {m['name']}" for kind, m in info["models"].items()),
            "dataset": info["dataset"],
            "fingerprint": info["fingerprint"],
            **{key: info["counts"][key] for key in ("users", "movies", "ratings")},
            "profiles": feedback["profiles"],
            "profile_ratings": feedback["ratings"],
            "genres": list(rec.catalog.genre_names),
            "rating_scale": _rating_scale(rec),
        }

    @app.get("/api/movies", response_model=schemas.SearchPage, tags=["movies"])
    async def search(
        rec: Rec,
        q: Annotated[str, Query(min_length=1, max_length=200, description="Title, as you would type it.")],
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    ) -> Response:
        """Movies whose title matches ``q`` (forgiving: articles, accents, typos), best first, paged.

        Example: `/api/movies?q=matrix&limit=5`
        """
        return _json(_cached_search(rec, q, limit, offset))

    @app.get("/api/movies/{movie_id}", response_model=schemas.MovieDetails, tags=["movies"])
    async def movie(rec: Rec, movie_id: MovieIdPath) -> Response:
        """Title, year, genres, and how often and how well the movie was rated."""
        return _json(_cached_movie(rec, movie_id))

    @app.get("/api/movies/{movie_id}/similar", response_model=schemas.Similar, tags=["movies"])
    async def similar(
        rec: Rec,
        movie_id: MovieIdPath,
        n: N = 10,
        min_ratings: Annotated[int, Query(ge=0, le=100_000, description="Skip rarely rated movies.")] = 0,
    ) -> Response:
        """The movies closest to this one in the model's embedding space."""
        return _json(_cached_similar(rec, movie_id, n, min_ratings))

    @app.get("/api/users/{user_id}/recommendations", response_model=schemas.Recommendations, tags=["recommend"])
    async def recommend_user(
        rec: Rec, user_id: UserIdPath, n: N = 10, genres: Genres = [], year_from: YearFrom = None, year_to: YearTo = None
    ) -> Response:
        """Top-N unseen movies for a user of the training data, each with why.

        Example: `/api/users/1/recommendations?n=5&genres=Comedy&year_from=1990`
        """
        return _json(_cached_user_recommendations(rec, user_id, n, tuple(genres), year_from, year_to))

    @app.post("/api/recommendations", response_model=schemas.Recommendations, tags=["recommend"])
    async def recommend_ratings(rec: Rec, body: schemas.FoldInRequest) -> Response:
        """Top-N for the ratings you post (folded into the model; nothing is stored)."""
        ratings = {r.movie_id: r.rating for r in body.ratings}
        recs = rec.recommend_for_ratings(
            ratings, n=body.n, genres=body.genres, year_from=body.year_from, year_to=body.year_to
        )
        return _json(to_json({"recommendations": recs}))

    # -- profiles: stored ratings ---------------------------------------------------------
    @app.post("/api/profiles", response_model=schemas.Profile, status_code=201, tags=["profiles"])
    def create_profile(rec: Rec, store: Store, ratings: list[schemas.Rating] | None = None) -> schemas.Profile:
        """A new profile (optionally with ratings). Keep its id: it is the only key to the profile."""
        initial = {r.movie_id: r.rating for r in ratings or []}
        _check_ratings(rec, initial, ("body",))
        profile_id = store.create_profile()
        if initial:
            store.set_ratings(profile_id, initial)
        return _profile(rec, store, profile_id)

    @app.get("/api/profiles/{profile_id}", response_model=schemas.Profile, tags=["profiles"])
    def get_profile(rec: Rec, store: Store, profile_id: ProfileIdPath) -> schemas.Profile:
        """The profile's ratings, oldest first."""
        return _profile(rec, store, profile_id)

    @app.delete("/api/profiles/{profile_id}", status_code=204, tags=["profiles"])
    def delete_profile(store: Store, profile_id: ProfileIdPath) -> None:
        """Forget the profile and every rating in it."""
        store.delete_profile(profile_id)

    @app.put("/api/profiles/{profile_id}/ratings/{movie_id}", response_model=schemas.Profile, tags=["profiles"])
    def rate(
        rec: Rec, store: Store, profile_id: ProfileIdPath, movie_id: MovieIdPath, body: schemas.RatingValue
    ) -> schemas.Profile:
        """Add or change one rating; it is on disk before this answers."""
        _check_ratings(rec, {movie_id: body.rating}, ("body",))
        store.set_ratings(profile_id, {movie_id: body.rating})
        return _profile(rec, store, profile_id)

    @app.delete("/api/profiles/{profile_id}/ratings/{movie_id}", response_model=schemas.Profile, tags=["profiles"])
    def unrate(rec: Rec, store: Store, profile_id: ProfileIdPath, movie_id: MovieIdPath) -> schemas.Profile:
        """Remove one rating."""
        store.delete_rating(profile_id, movie_id)
        return _profile(rec, store, profile_id)

    @app.get(
        "/api/profiles/{profile_id}/recommendations", response_model=schemas.Recommendations, tags=["profiles"]
    )
    def recommend_profile(
        rec: Rec,
        store: Store,
        profile_id: ProfileIdPath,
        n: N = 10,
        genres: Genres = [],
        year_from: YearFrom = None,
        year_to: YearTo = None,
    ) -> Response:
        """Top-N for the profile's stored ratings; empty until it has rated a movie the model knows."""
        recs = _profile_recommendations(
            rec, store, profile_id, n=n, genres=genres, year_from=year_from, year_to=year_to
        )
        return _json(to_json({"recommendations": recs}))

    # -- clusters -----------------------------------------------------------------------
    @app.get("/api/clusters", response_model=schemas.Clusters, tags=["movies"])
    def clusters(
        rec: Rec,
        k: Annotated[int, Query(ge=2, le=50, description="Number of clusters.")] = 10,
        min_ratings: Annotated[int, Query(ge=1, le=100_000, description="Map movies with this many ratings.")] = 20,
    ) -> dict:
        """KMeans clusters of the movie embeddings: members with 2-D map coordinates, top genres,
        and genre purity / NMI next to random clusterings of the same sizes.

        Computed on the first request for each setting, then cached.
        """
        return _clusters.get(rec, k, min_ratings)


def _add_pages(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html")

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # without the bundle, /docs falls back to FastAPI's CDN-hosted assets
        swagger_ui_path = None
    assets: dict[str, str] = {}
    if swagger_ui_path is not None:
        app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
        assets = dict(
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="movierec API", **assets)

