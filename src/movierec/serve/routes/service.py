"""``/api/health``: what the server runs."""

from __future__ import annotations

from fastapi import APIRouter

from ...recommend.novelty import DEFAULT_EXPLORE
from .. import schemas
from ..deps import Rec, Store

router = APIRouter(tags=["service"])


@router.get("/api/health", response_model=schemas.Health)
def health(rec: Rec, store: Store) -> dict:
    """The loaded model, the data it was trained on, and how much feedback is stored."""
    info = rec.info
    feedback = store.counts() if store is not None else {"profiles": 0, "ratings": 0}
    low, high = rec.rating_scale
    return {
        "status": "ok",
        "model": ", ".join(f"{kind}: {m['name']}" for kind, m in info["models"].items()),
        "dataset": info["dataset"],
        "fingerprint": info["fingerprint"],
        **{key: info["counts"][key] for key in ("users", "movies", "ratings")},
        "profiles": feedback["profiles"],
        "profile_ratings": feedback["ratings"],
        "genres": list(rec.catalog.genre_names),
        "rating_scale": (float(low), float(high)),
        "explore": DEFAULT_EXPLORE,
    }
