"""``/api/clusters``: the cluster map of the movie embeddings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from .. import schemas
from ..deps import Cached

router = APIRouter(tags=["movies"])


@router.get("/api/clusters", response_model=schemas.Clusters)
def clusters(
    answers: Cached,
    k: Annotated[int, Query(ge=2, le=50, description="Number of clusters.")] = 10,
    min_ratings: Annotated[int, Query(ge=1, le=100_000, description="Map movies with this many ratings.")] = 20,
) -> dict:
    """KMeans clusters of the movie embeddings: members with 2-D map coordinates, top genres,
    and genre purity / NMI next to random clusterings of the same sizes.

    Computed on the first request for each setting, then cached.
    """
    return answers.clusters(k, min_ratings)
