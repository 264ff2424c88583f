"""Movies: title search, details, similar movies. Answers come from the app's caches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from .. import schemas
from ..answers import json_response
from ..deps import Cached, MovieIdPath

router = APIRouter(tags=["movies"])
Limit = Annotated[int, Query(ge=1, le=100, description="Movies per page.")]
N = Annotated[int, Query(ge=1, le=schemas.MAX_N, description="How many movies.")]
Offset = Annotated[int, Query(ge=0, le=10_000, description="Movies skipped (earlier pages).")]


@router.get("/api/movies", response_model=schemas.SearchPage)
async def search(
    answers: Cached,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Title, as you would type it.")],
    limit: Limit = 20,
    offset: Offset = 0,
) -> Response:
    """Movies whose title matches ``q`` (forgiving: articles, accents), best first, paged. When
    nothing matches (a typo: "godfathr"), ``suggestions`` holds the closest titles.

    Example: `/api/movies?q=matrix&limit=5`
    """
    return json_response(answers.search(q, limit, offset))


@router.get("/api/movies/popular", response_model=schemas.SearchPage)
async def popular(answers: Cached, limit: Limit = 20, offset: Offset = 0) -> Response:
    """The most rated movies first, paged: well-known movies to start a profile with."""
    return json_response(answers.search("", limit, offset))


@router.get("/api/movies/{movie_id}", response_model=schemas.MovieDetails)
async def movie(answers: Cached, movie_id: MovieIdPath) -> Response:
    """Title, year, genres, and how often and how well the movie was rated."""
    return json_response(answers.movie(movie_id))


@router.get("/api/movies/{movie_id}/similar", response_model=schemas.Similar)
async def similar(
    answers: Cached,
    movie_id: MovieIdPath,
    n: N = 10,
    min_ratings: Annotated[int, Query(ge=0, le=100_000, description="Skip rarely rated movies.")] = 0,
) -> Response:
    """The movies most often rated by the same people as this one (shrunk co-rating similarity,
    tripled for films of one series: a sequel, prequel or remake)."""
    return json_response(answers.similar(movie_id, n, min_ratings))
