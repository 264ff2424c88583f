"""Profiles: a visitor's ratings kept in the feedback store under a secret id, and their
recommendations. Handlers are plain ``def``: they wait on SQLite (an fsync per write), so
FastAPI runs them in its thread pool."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Response
from fastapi import Path as PathParam

from ...errors import DataError, UnknownIdError
from ...recommend.recommender import Recommender
from .. import schemas
from ..answers import json_response, to_json
from ..deps import Filters, MovieIdPath, Rec, Store, invalid
from ..store import FeedbackStore

router = APIRouter(tags=["profiles"])

ProfileIdPath = Annotated[
    str, PathParam(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="The secret profile id.")
]


def _check_ratings(rec: Recommender, ratings: dict[int, float], where: tuple[str | int, ...]) -> None:
    """The Recommender's checks before ratings are stored: stars off the scale are a 422
    naming the field; movies outside the catalog a 404."""
    try:
        rec.check_ratings(ratings)
    except UnknownIdError as exc:
        raise UnknownIdError(f"{exc}; find movies with GET /api/movies?q=...") from None
    except DataError as exc:
        raise invalid(where + ("rating",), str(exc)) from None


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


@router.post("/api/profiles", response_model=schemas.Profile, status_code=201)
def create_profile(rec: Rec, store: Store, ratings: list[schemas.Rating] | None = None) -> schemas.Profile:
    """A new profile (optionally with ratings). Keep its id: it is the only key to the profile."""
    initial = {r.movie_id: r.rating for r in ratings or []}
    _check_ratings(rec, initial, ("body",))
    profile_id = store.create_profile()
    if initial:
        store.set_ratings(profile_id, initial)
    return _profile(rec, store, profile_id)


@router.get("/api/profiles/{profile_id}", response_model=schemas.Profile)
def get_profile(rec: Rec, store: Store, profile_id: ProfileIdPath) -> schemas.Profile:
    """The profile's ratings, oldest first."""
    return _profile(rec, store, profile_id)


@router.delete("/api/profiles/{profile_id}", status_code=204)
def delete_profile(store: Store, profile_id: ProfileIdPath) -> None:
    """Forget the profile and every rating in it."""
    store.delete_profile(profile_id)


@router.put("/api/profiles/{profile_id}/ratings/{movie_id}", response_model=schemas.Profile)
def rate(
    rec: Rec, store: Store, profile_id: ProfileIdPath, movie_id: MovieIdPath, body: schemas.RatingValue
) -> schemas.Profile:
    """Add or change one rating; it is on disk before this answers."""
    _check_ratings(rec, {movie_id: body.rating}, ("body",))
    store.set_ratings(profile_id, {movie_id: body.rating})
    return _profile(rec, store, profile_id)


@router.delete("/api/profiles/{profile_id}/ratings/{movie_id}", response_model=schemas.Profile)
def unrate(rec: Rec, store: Store, profile_id: ProfileIdPath, movie_id: MovieIdPath) -> schemas.Profile:
    """Remove one rating."""
    store.delete_rating(profile_id, movie_id)
    return _profile(rec, store, profile_id)


@router.get("/api/profiles/{profile_id}/recommendations", response_model=schemas.Recommendations)
def recommend_profile(rec: Rec, store: Store, profile_id: ProfileIdPath, filters: Filters) -> Response:
    """Top-N for the profile's stored ratings; empty until it has rated a movie the model knows."""
    recs = _profile_recommendations(rec, store, profile_id, **filters.options())
    return json_response(to_json({"recommendations": recs}))
