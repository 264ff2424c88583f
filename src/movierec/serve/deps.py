"""What the routes share: dependencies (the Recommender, the feedback store, the app's answer
caches) and the path and query parameters used by more than one router.

The Recommender and the store reach the routes through ``get_recommender`` / ``get_store``, so
tests swap in a tiny model with ``app.dependency_overrides``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi import Path as PathParam

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


def invalid(field: tuple[str | int, ...], message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming the field."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, [{"loc": list(field), "msg": message, "type": "value_error"}]
    )
