"""Every rating the server acknowledged survives a SIGKILL of the server."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from serve_support import Server, tiny_recommender

N_RATINGS = 40


@pytest.mark.slow
def test_acknowledged_ratings_survive_sigkill(tmp_path):
    rec = tiny_recommender()
    model_dir = tmp_path / "model"
    rec.save(model_dir)
    db = tmp_path / "feedback.db"
    movies = rec.movie_vocab.ids[:N_RATINGS].tolist()
    stars = (np.arange(N_RATINGS) % 10 + 1) / 2  # 0.5 .. 5

    server = Server(model_dir, db)
    acknowledged: dict[int, float] = {}
    with httpx.Client(base_url=server.base, timeout=30) as client:
        pid = client.post("/api/profiles").json()["profile_id"]
        for movie, value in zip(movies, stars.tolist()):
            response = client.put(f"/api/profiles/{pid}/ratings/{movie}", json={"rating": value})
            assert response.status_code == 200
            acknowledged[movie] = value
    server.kill()  # right after the last acknowledgement: no shutdown, no checkpoint

    restarted = Server(model_dir, db, port=None)
    try:
        with httpx.Client(base_url=restarted.base, timeout=30) as client:
            kept = {r["movie_id"]: r["rating"] for r in client.get(f"/api/profiles/{pid}").json()["ratings"]}
    finally:
        restarted.stop()
    lost = {m: v for m, v in acknowledged.items() if kept.get(m) != v}
    assert not lost, f"lost {len(lost)} of {len(acknowledged)} acknowledged ratings"
    assert len(kept) == N_RATINGS
