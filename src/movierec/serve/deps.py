"""What the routes share: dependencies (the Recommender, the feedback store, the app's answer
caches) and the path and query parameters used by more than one router.

The Recommender and the store reach the routes through ``get_recommender`` / ``get_store``, so
tests swap in a tiny model with ``app.dependency_overrides``.
"""

from __future__ import annotations

import inspect
from functools import cache
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi import Path as PathParam

from ..errors import ModelError
from ..recommend.recommender import Recommender
from . import schemas
from .answers import Answers
from .store import FeedbackStore


async def get_recommender(request: Request) -> Recommender:
    return request.app.state.recommender


async def get_store(request: Request) -> FeedbackStore:
    return request.app.state.store


Rec = Annotated[Recommender, Depends(get_recommender)]
Store = Annotated[FeedbackStore, Depends(get_store)]


async def get_answers(request: Request, rec: Rec) -> Answers:
    """The app's answer caches, made for whichever Recommender the app serves (an override
    may swap it): cached answers always belong to the model that answers."""
    answers = request.app.state.answers
    if answers is None or answers.rec is not rec:
        answers = request.app.state.answers = Answers(rec)
    return answers


Cached = Annotated[Answers, Depends(get_answers)]

MovieIdPath = Annotated[int, PathParam(ge=1, le=2**53, description="A MovieLens movie id.")]
Filters = Annotated[schemas.Filters, Query()]  # the GET routes' n, genres, year_from, year_to, explore


@cache
def default_explore(kind: type) -> float | None:
    """The default ``explore`` of this Recommender's recommend methods; None when they have no
    such control (a movierec before issue 12)."""
    params = [inspect.signature(getattr(kind, m)).parameters for m in ("recommend", "recommend_for_ratings")]
    if not all("explore" in p for p in params):
        return None
    return float(params[0]["explore"].default)


def recommend_options(rec: Recommender, filters: schemas.Filters) -> dict:
    """``filters`` as keyword arguments of ``rec.recommend``; an explore value the model cannot
    use is a 409, not silently dropped."""
    options = filters.options()
    if "explore" in options and default_explore(type(rec)) is None:
        raise ModelError("this model has no explore control (it needs a newer movierec); leave explore out")
    return options


def invalid(field: tuple[str | int, ...], message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming the field."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, [{"loc": list(field), "msg": message, "type": "value_error"}]
    )
