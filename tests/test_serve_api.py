"""The HTTP API in-process: a tiny model swapped in through ``app.dependency_overrides``."""

from __future__ import annotations

import re

import numpy as np
import pytest
from serve_support import TestClient, tiny_recommender

from movierec.errors import UnknownIdError
from movierec.recommend.recommender import Recommender
from movierec.serve import schemas
from movierec.serve.app import MAX_BODY_BYTES, WEB_DIR, create_app, get_recommender, get_store
from movierec.serve.store import FeedbackStore


@pytest.fixture(scope="module")
def rec():
    return tiny_recommender()


@pytest.fixture
def store(tmp_path):
    with FeedbackStore(tmp_path / "feedback.db") as s:
        yield s


@pytest.fixture
def client(rec, store):
    app = create_app()
    app.dependency_overrides[get_recommender] = lambda: rec
    app.dependency_overrides[get_store] = lambda: store
    with TestClient(app) as c:
        yield c


def popular(rec, k=5):
    """The k most rated movie ids of the model."""
    order = np.argsort(-rec.artifact.movie_counts, kind="stable")[:k]
    return rec.movie_vocab.ids[order].tolist()


def first_user(rec):
    return int(rec.user_vocab.ids[0])


def error_fields(response):
    return [tuple(d["loc"]) for d in response.json()["detail"]]


# -- service --------------------------------------------------------------------------------
def test_health_reports_model_data_and_feedback(client, rec):
    body = client.get("/api/health").json()
    schemas.Health.model_validate(body)
    assert body["status"] == "ok"
    assert "mf" in body["model"] and "ease" in body["model"]
    assert body["fingerprint"] == rec.info["fingerprint"]
    assert (body["users"], body["movies"], body["ratings"]) == (150, len(rec.movie_vocab), 8000)
    assert body["profiles"] == 0 and body["rating_scale"] == [0.5, 5.0]


# -- movies ---------------------------------------------------------------------------------
def test_search_is_forgiving_and_paged(client, rec):
    title = str(rec.catalog.titles[7])  # "Synthetic Movie 7 (2003)"-like
    words = re.sub(r"\s*\(\d{4}\)$", "", title).lower()
    first = client.get("/api/movies", params={"q": words, "limit": 3}).json()
    schemas.SearchPage.model_validate(first)
    assert first["results"][0]["title"] == title
    second = client.get("/api/movies", params={"q": "movie", "limit": 3, "offset": 3}).json()["results"]
    page_one = client.get("/api/movies", params={"q": "movie", "limit": 3}).json()["results"]
    assert len(second) == 3 and not {m["movie_id"] for m in second} & {m["movie_id"] for m in page_one}


def test_search_with_a_typo_suggests_what_the_cli_suggests(client, rec):
    title = str(rec.catalog.titles[0])  # "Synthetic Movie 13 (2005)"-like
    typo = re.sub(r"\s*\(\d{4}\)$", "", title).lower().replace("synthetic", "synthetc")
    page = client.get("/api/movies", params={"q": typo}).json()
    schemas.SearchPage.model_validate(page)
    assert page["results"] == []
    assert page["suggestions"][0]["title"] == title
    with pytest.raises(UnknownIdError) as cli:  # the CLI's "no movie titled ...; closest: ..."
        rec.find_movie(typo)
    assert [m["title"] for m in page["suggestions"]] == cli.value.candidates
    found = client.get("/api/movies", params={"q": "synthetic"}).json()
    assert found["results"] and found["suggestions"] == []
    assert client.get("/api/movies", params={"q": "qqqqzzzz"}).json()["suggestions"] == []


def test_popular_movies_to_start_with(client, rec):
    page = client.get("/api/movies/popular", params={"limit": 5}).json()
    schemas.SearchPage.model_validate(page)
    assert [m["movie_id"] for m in page["results"]] == popular(rec, 5)
    later = client.get("/api/movies/popular", params={"limit": 5, "offset": 5}).json()["results"]
    assert [m["movie_id"] for m in later] == popular(rec, 10)[5:]


@pytest.mark.parametrize("params, field", [({"q": ""}, "q"), ({"q": "a", "limit": 101}, "limit"), ({"q": "a", "offset": -1}, "offset")])
def test_search_rejects_bad_paging_naming_the_field(client, params, field):
    response = client.get("/api/movies", params=params)
    assert response.status_code == 422
    assert ("query", field) in error_fields(response)


def test_movie_details(client, rec):
    movie_id = popular(rec, 1)[0]
    body = client.get(f"/api/movies/{movie_id}").json()
    schemas.MovieDetails.model_validate(body)
    index = rec.movie_vocab.index([movie_id])[0]
    assert body["n_ratings"] == rec.artifact.movie_counts[index]
    assert body["mean_rating"] == pytest.approx(rec.artifact.movie_means[index], abs=1e-3)


def test_unknown_movie_is_404_with_a_message(client):
    response = client.get("/api/movies/987654")
    assert response.status_code == 404
    assert "987654" in response.json()["detail"]
    assert client.get("/api/movies/987654/similar").status_code == 404


def test_similar_movies(client, rec):
    movie_id = popular(rec, 1)[0]
    body = client.get(f"/api/movies/{movie_id}/similar", params={"n": 4}).json()
    schemas.Similar.model_validate(body)
    sims = [s["similarity"] for s in body["similar"]]
    assert len(sims) == 4 and sims == sorted(sims, reverse=True)
    assert movie_id not in [s["movie_id"] for s in body["similar"]]


# -- recommendations ------------------------------------------------------------------------
def test_user_recommendations_exclude_seen_and_explain(client, rec):
    user = first_user(rec)
    body = client.get(f"/api/users/{user}/recommendations", params={"n": 7}).json()
    schemas.Recommendations.model_validate(body)
    recs = body["recommendations"]
    seen, _ = rec.user_ratings(user)
    assert len(recs) == 7
    assert not {r["movie_id"] for r in recs} & set(seen.tolist())
    assert any(r["because"] for r in recs)
    assert all({b["movie_id"] for b in r["because"]} <= set(seen.tolist()) for r in recs)


def test_user_recommendation_filters(client, rec):
    user = first_user(rec)
    params = {"n": 5, "genres": ["Drama"], "year_from": 1990, "year_to": 2010}
    recs = client.get(f"/api/users/{user}/recommendations", params=params).json()["recommendations"]
    assert recs
    assert all("Drama" in r["genres"] and 1990 <= r["year"] <= 2010 for r in recs)


def test_user_recommendation_errors(client, rec):
    assert client.get("/api/users/99999999/recommendations").status_code == 404
    bad_genre = client.get(f"/api/users/{first_user(rec)}/recommendations", params={"genres": "Nope"})
    assert bad_genre.status_code == 422 and "unknown genre 'Nope'" in bad_genre.json()["detail"][0]["msg"]
    for n in (0, 101):
        response = client.get(f"/api/users/{first_user(rec)}/recommendations", params={"n": n})
        assert response.status_code == 422 and ("query", "n") in error_fields(response)


def test_year_range_out_of_order_is_422_everywhere(client, rec):
    years = {"year_from": 2010, "year_to": 1990}
    pid = client.post("/api/profiles", json=[{"movie_id": popular(rec, 1)[0], "rating": 4}]).json()["profile_id"]
    answers = [
        client.get(f"/api/users/{first_user(rec)}/recommendations", params=years),
        client.get(f"/api/profiles/{pid}/recommendations", params=years),
        client.post("/api/recommendations", json={"ratings": [{"movie_id": popular(rec, 1)[0], "rating": 4}], **years}),
    ]
    for response in answers:
        assert response.status_code == 422
        assert response.json()["detail"][0]["msg"] == "year_from 2010 is after year_to 1990: swap them"
    same_year = client.get(f"/api/users/{first_user(rec)}/recommendations", params={"year_from": 2000, "year_to": 2000})
    assert same_year.status_code == 200


@pytest.mark.parametrize("explore", [-0.1, 1.01, "nan", "much"])
def test_explore_outside_0_to_1_is_422(client, rec, explore):
    response = client.get(f"/api/users/{first_user(rec)}/recommendations", params={"explore": explore})
    assert response.status_code == 422 and ("query", "explore") in error_fields(response)
    body = {"ratings": [{"movie_id": popular(rec, 1)[0], "rating": 4}], "explore": explore}
    response = client.post("/api/recommendations", json=body)
    assert response.status_code == 422 and ("body", "explore") in error_fields(response)


def test_explore_favours_less_rated_movies(client, rec):
    assert 0 <= client.get("/api/health").json()["explore"] <= 1
    user = first_user(rec)
    counts = {}
    for explore in (0, 1):
        recs = client.get(f"/api/users/{user}/recommendations", params={"n": 10, "explore": explore}).json()
        counts[explore] = np.mean([client.get(f"/api/movies/{r['movie_id']}").json()["n_ratings"] for r in recs["recommendations"]])
    assert counts[1] < counts[0]
    liked = popular(rec, 4)
    body = {"ratings": [{"movie_id": m, "rating": 4.5} for m in liked], "n": 10}
    folded = [client.post("/api/recommendations", json={**body, "explore": x}).json()["recommendations"] for x in (0, 1)]
    assert [r["movie_id"] for r in folded[0]] != [r["movie_id"] for r in folded[1]]


def test_fold_in_recommendations_for_posted_ratings(client, rec):
    liked = popular(rec, 4)
    body = {"ratings": [{"movie_id": m, "rating": 4.5} for m in liked], "n": 6}
    response = client.post("/api/recommendations", json=body)
    assert response.status_code == 200
    recs = schemas.Recommendations.model_validate(response.json()).recommendations
    assert len(recs) == 6 and not {r.movie_id for r in recs} & set(liked)


@pytest.mark.parametrize(
    "ratings, field",
    [
        ([{"movie_id": 1, "rating": 4.2}], ("body", "ratings", 0, "rating")),  # not a half star
        ([{"movie_id": 1, "rating": 5.5}], ("body", "ratings", 0, "rating")),
        ([{"movie_id": 1, "rating": 0}], ("body", "ratings", 0, "rating")),
        ([{"movie_id": 0, "rating": 3}], ("body", "ratings", 0, "movie_id")),
        ([], ("body", "ratings")),
    ],
)
def test_fold_in_rejects_invalid_ratings_naming_the_field(client, ratings, field):
    response = client.post("/api/recommendations", json={"ratings": ratings})
    assert response.status_code == 422
    assert field in error_fields(response)


def test_fold_in_unknown_movie_is_404(client):
    response = client.post("/api/recommendations", json={"ratings": [{"movie_id": 987654, "rating": 3}]})
    assert response.status_code == 404 and "987654" in response.json()["detail"]


# -- profiles -------------------------------------------------------------------------------
def test_profile_lifecycle(client, rec, store):
    created = client.post("/api/profiles")
    assert created.status_code == 201
    pid = created.json()["profile_id"]
    assert len(pid) >= 20 and created.json()["ratings"] == []
    assert client.get(f"/api/profiles/{pid}/recommendations").json() == {"recommendations": []}

    a, b, c = popular(rec, 3)
    for movie, stars in ((a, 5), (b, 2.5), (c, 4)):
        assert client.put(f"/api/profiles/{pid}/ratings/{movie}", json={"rating": stars}).status_code == 200
    changed = client.put(f"/api/profiles/{pid}/ratings/{b}", json={"rating": 3.5}).json()
    assert {r["movie_id"]: r["rating"] for r in changed["ratings"]} == {a: 5, b: 3.5, c: 4}
    after_delete = client.delete(f"/api/profiles/{pid}/ratings/{c}").json()
    assert [r["movie_id"] for r in after_delete["ratings"]] == [a, b]
    assert dict(zip(*(x.tolist() for x in store.ratings(pid)[:2]))) == {a: 5.0, b: 3.5}  # on disk

    recs = client.get(f"/api/profiles/{pid}/recommendations", params={"n": 5}).json()["recommendations"]
    assert len(recs) == 5 and not {r["movie_id"] for r in recs} & {a, b}
    assert client.get(f"/api/profiles/{pid}").json()["ratings"][0]["movie_id"] == a

    assert client.delete(f"/api/profiles/{pid}").status_code == 204
    assert client.get(f"/api/profiles/{pid}").status_code == 404


def test_profile_with_initial_ratings(client, rec):
    a, b = popular(rec, 2)
    body = client.post("/api/profiles", json=[{"movie_id": a, "rating": 4}, {"movie_id": b, "rating": 1}]).json()
    assert {r["movie_id"]: r["rating"] for r in body["ratings"]} == {a: 4, b: 1}


def test_profile_errors(client, rec):
    assert client.get("/api/profiles/NoSuchProfile123").status_code == 404
    response = client.get("/api/profiles/bad id!")
    assert response.status_code == 422 and ("path", "profile_id") in error_fields(response)
    pid = client.post("/api/profiles").json()["profile_id"]
    assert client.put(f"/api/profiles/{pid}/ratings/987654", json={"rating": 3}).status_code == 404
    response = client.put(f"/api/profiles/{pid}/ratings/{popular(rec, 1)[0]}", json={"rating": 7})
    assert response.status_code == 422 and ("body", "rating") in error_fields(response)
    assert client.delete(f"/api/profiles/{pid}/ratings/{popular(rec, 1)[0]}").status_code == 404


# -- clusters -------------------------------------------------------------------------------
def test_clusters_have_members_genres_and_coordinates(client):
    response = client.get("/api/clusters", params={"k": 4, "min_ratings": 20})
    assert response.status_code == 200
    report = schemas.Clusters.model_validate(response.json())
    assert report.k == len(report.clusters) == 4
    assert sum(c.size for c in report.clusters) == report.n_movies == sum(len(c.members) for c in report.clusters)
    assert all(c.top_genres for c in report.clusters)
    assert client.get("/api/clusters", params={"k": 4, "min_ratings": 20}).json() == response.json()


def test_clusters_of_a_model_without_embeddings_is_409(store):
    from movierec.data.synthetic import generate

    flat = Recommender.fit(generate(n_users=60, n_movies=100, n_ratings=900, seed=5).dataset, rating="biases", ranking="popularity")
    app = create_app()
    app.dependency_overrides[get_recommender] = lambda: flat
    app.dependency_overrides[get_store] = lambda: store
    with TestClient(app) as c:
        response = c.get("/api/clusters", params={"k": 4})
    assert response.status_code == 409
    assert response.json()["detail"].startswith("neither model has movie embeddings, so there is no cluster map")


def test_clusters_asking_too_much_is_422(client):
    response = client.get("/api/clusters", params={"k": 50, "min_ratings": 100_000})
    assert response.status_code == 422


# -- limits and pages -----------------------------------------------------------------------
def test_large_bodies_are_rejected_with_413(client):
    big = b'{"ratings": [' + b" " * MAX_BODY_BYTES + b"]}"
    response = client.post("/api/recommendations", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413

    def chunks():  # no Content-Length: the streamed bytes are counted
        for _ in range(20):
            yield b" " * 8192

    response = client.post("/api/recommendations", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_page_and_docs_need_no_internet(client):
    page = client.get("/")
    assert page.status_code == 200 and "<title>movierec" in page.text
    names = sorted(p.name for p in WEB_DIR.iterdir() if p.suffix in (".html", ".js", ".css"))
    assert {"index.html", "app.js", "api.js", "map.js", "app.css"} <= set(names)
    for name in names:
        text = (WEB_DIR / name).read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//|https?://", text) and "cdn" not in text.lower()
        assert client.get(f"/static/{name}").status_code == 200
    for module in re.findall(r'from "\./([\w.]+)"', (WEB_DIR / "app.js").read_text()):
        assert client.get(f"/static/{module}").headers["content-type"].startswith("text/javascript")
    docs = client.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in docs and "cdn.jsdelivr" not in docs
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert "/api/recommendations" in client.get("/openapi.json").json()["paths"]
