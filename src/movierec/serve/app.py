"""The HTTP API and web page of ``movierec serve`` (FastAPI).

The Recommender is loaded once, in the lifespan, and reaches the routes through the
``get_recommender`` dependency (and the feedback store through ``get_store``), so tests swap
in a tiny model with ``app.dependency_overrides``. The routes live in ``routes/`` (one router
per job), answer caches on ``app.state.answers`` (see ``answers.py``), the page and /docs in
``pages.py``. Handlers that only compute a few vectorized scores are ``async``: they finish in
well under a millisecond, and running them on the event loop saves a thread hand-off per
request. Handlers that wait on SQLite (fsync on every write) or run KMeans are plain ``def``,
which FastAPI runs in its thread pool.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from threadpoolctl import threadpool_limits

from ..errors import ModelError, UnknownIdError
from ..recommend.recommender import Recommender
from .deps import get_recommender, get_store
from .pages import WEB_DIR, add_pages
from .routes import ROUTERS
from .store import FeedbackStore

MAX_BODY_BYTES = 64 * 1024

__all__ = ["MAX_BODY_BYTES", "WEB_DIR", "create_app", "get_recommender", "get_store"]


@asynccontextmanager
async def _lifespan(
    app: FastAPI, model_dir: str | os.PathLike | None, db_path: str | os.PathLike | None, recommender: Recommender | None
) -> AsyncIterator[None]:
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


async def _unknown(request: Request, exc: UnknownIdError) -> JSONResponse:
    return JSONResponse({"detail": str(exc), "candidates": exc.candidates}, status.HTTP_404_NOT_FOUND)


async def _incapable(request: Request, exc: ModelError) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_409_CONFLICT)


async def _invalid_value(request: Request, exc: ValueError) -> JSONResponse:
    # The library's checks (unknown genre, stars off this model's scale, too many clusters):
    # shaped like FastAPI's own 422s; the message names the value.
    where = "query" if request.method == "GET" else "body"
    detail = [{"loc": [where], "msg": str(exc), "type": "value_error"}]
    return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)


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
    app = FastAPI(
        title="movierec",
        summary="Movie recommendations from a MovieLens model: search, rate, recommend, explore clusters.",
        version="1",
        lifespan=partial(_lifespan, model_dir=model_dir, db_path=db_path, recommender=recommender),
        max_body_size=MAX_BODY_BYTES,  # larger bodies get 413 (Content-Length and streamed bytes)
        docs_url=None,  # served by pages.py from local assets: no CDN
        redoc_url=None,
        exception_handlers={UnknownIdError: _unknown, ModelError: _incapable, ValueError: _invalid_value},
    )
    app.state.answers = None  # made for the app's Recommender by deps.get_answers
    for router in ROUTERS:
        app.include_router(router)
    add_pages(app)
    return app
