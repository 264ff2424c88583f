"""Recommendations for a training user and for posted ratings (folded in, nothing stored)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from fastapi import Path as PathParam

from .. import schemas
from ..answers import json_response, to_json
from ..deps import Cached, Filters, Rec

router = APIRouter(tags=["recommend"])

UserIdPath = Annotated[int, PathParam(ge=0, le=2**53, description="A user id of the training data.")]


@router.get("/api/users/{user_id}/recommendations", response_model=schemas.Recommendations)
async def recommend_user(answers: Cached, user_id: UserIdPath, filters: Filters) -> Response:
    """Top-N unseen movies for a user of the training data, each with why.

    Example: `/api/users/1/recommendations?n=5&genres=Comedy&year_from=1990`
    """
    return json_response(answers.user_recommendations(user_id, **filters.options()))


@router.post("/api/recommendations", response_model=schemas.Recommendations)
async def recommend_ratings(rec: Rec, body: schemas.FoldInRequest) -> Response:
    """Top-N for the ratings you post (folded into the model; nothing is stored)."""
    ratings = {r.movie_id: r.rating for r in body.ratings}
    recs = rec.recommend_for_ratings(ratings, **body.options())
    return json_response(to_json({"recommendations": recs}))
