"""``movierec recommend``, ``similar`` and ``clusters`` through Typer's CliRunner, on a tiny trained model."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from cli_support import one_line_error
from typer.testing import CliRunner

from movierec import Catalog
from movierec.cli import app
from movierec.data.synthetic import generate
from movierec.recommend.recommender import Recommender

runner = CliRunner()
NAMED = ("Toy Story (1995)", "Matrix, The (1999)", "Hamlet (1990)", "Hamlet (1996)", "Heat (1995)")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small synthetic release whose first rated movies carry famous titles, and its model folder."""
    data = generate(n_users=100, n_movies=150, n_ratings=2500, seed=3).dataset
    catalog = data.catalog
    titles = catalog.titles.copy()
    rows = catalog.rows(data.movie_vocab.ids[: len(NAMED)])
    titles[rows] = NAMED
    genres = pd.Series(["|".join(catalog.genres_of(r)) or "(no genres listed)" for r in range(len(catalog))])
    data = dataclasses.replace(data, catalog=Catalog.from_frame(catalog.movie_ids, titles, genres))
    rec = Recommender.fit(
        data,
        rating="mf",
        ranking="ials",
        rating_params={"epochs": 3, "factors": 8},
        ranking_params={"iterations": 3, "factors": 8},
    )
    folder = tmp_path_factory.mktemp("use") / "model"
    rec.save(folder)
    return data, Recommender.load(folder), folder


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def ok_json(*args: str):
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def movie_id(data, title: str) -> int:
    return int(data.catalog.movie_ids[list(data.catalog.titles).index(title)])


# -- recommend ----------------------------------------------------------------------------------
def test_recommend_for_a_user_table_and_json(trained) -> None:
    data, rec, folder = trained
    user = int(data.user_vocab.ids[0])
    result = run("recommend", "-m", folder, "--user", user, "-n", 5)
    assert result.exit_code == 0, result.output
    assert f"Top 5 for user {user}" in result.output and "because" in result.output
    recs = ok_json("recommend", "-m", folder, "--user", user, "-n", 7, "--explore", 0)
    assert len(recs) == 7
    seen = set(rec.user_ratings(user)[0].tolist())
    assert not seen & {r["movie_id"] for r in recs}
    assert [r["score"] for r in recs] == sorted((r["score"] for r in recs), reverse=True)
    assert all(0.5 <= r["predicted_rating"] <= 5 for r in recs)
    assert all({"movie_id", "title", "rating"} <= set(b) for r in recs for b in r["because"])


def test_recommend_filters_by_genre_and_years(trained) -> None:
    data, _, folder = trained
    user = int(data.user_vocab.ids[1])
    recs = ok_json("recommend", "-m", folder, "--user", user, "--genre", "drama", "--year-from", 1990, "--year-to", 2005)
    assert recs and all("Drama" in r["genres"] and 1990 <= r["year"] <= 2005 for r in recs)


def test_new_user_from_titles_ids_and_a_file_agree(trained, tmp_path) -> None:
    data, _, folder = trained
    heat = movie_id(data, "Heat (1995)")
    by_flags = ok_json("recommend", "-m", folder, "--rated", "toy story=5", "--rated", "the matrix (1999)=4.5",
                       "--rated", f"{heat}=1")
    assert len(by_flags) == 10
    rated = {movie_id(data, "Toy Story (1995)"), movie_id(data, "Matrix, The (1999)"), heat}
    assert not rated & {r["movie_id"] for r in by_flags}
    ratings = tmp_path / "mine.csv"
    ratings.write_text(f"title,rating\nToy Story,5\n\"Matrix, The\",4.5\n{heat},1\n")
    assert ok_json("recommend", "-m", folder, "--ratings", ratings) == by_flags
    result = run("recommend", "-m", folder, "--rated", "toy story=5", "-n", 3)
    assert result.exit_code == 0 and "new user who rated 1 movie" in result.output


def test_batch_mode_writes_every_users_unseen_top_n(trained, tmp_path) -> None:
    data, rec, folder = trained
    out = tmp_path / "top.csv"
    result = run("recommend", "-m", folder, "--users", "all", "-n", 4, "-o", out)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["userId", "rank", "movieId", "score"]
    assert len(frame) == 4 * data.n_users
    assert frame["userId"].is_monotonic_increasing
    assert (frame["rank"].to_numpy() == np.tile(np.arange(1, 5), data.n_users)).all()
    seen = set(zip(data.user_vocab.ids[data.users].tolist(), data.movie_vocab.ids[data.movies].tolist()))
    assert not seen & set(zip(frame["userId"], frame["movieId"]))
    user = int(data.user_vocab.ids[5])
    batch = frame.loc[frame["userId"] == user, "movieId"].tolist()
    assert batch == [r.movie_id for r in rec.recommend(user, 4, explore=0.0)]  # batch mode ranks by score alone


def test_batch_mode_parquet_with_titles_matches_csv(trained, tmp_path) -> None:
    data, rec, folder = trained
    csv, parquet = tmp_path / "top.csv", tmp_path / "top.parquet"
    assert run("recommend", "-m", folder, "--users", "all", "-n", 3, "-o", csv).exit_code == 0
    result = run("recommend", "-m", folder, "--users", "all", "-n", 3, "-o", parquet, "--titles")
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(parquet)
    assert list(frame.columns) == ["userId", "rank", "movieId", "score", "title"]
    expected = pd.read_csv(csv)
    assert (frame[["userId", "rank", "movieId"]].to_numpy() == expected[["userId", "rank", "movieId"]].to_numpy()).all()
    movie = int(frame["movieId"].iloc[0])
    assert frame["title"].iloc[0] == rec.catalog.titles[rec.catalog.rows(np.array([movie]))[0]]


def test_batch_from_file_to_stdout(trained, tmp_path) -> None:
    data, _, folder = trained
    first, second = (int(u) for u in data.user_vocab.ids[[3, 0]])
    ids = tmp_path / "users.csv"
    ids.write_text(f"userId\n{first}\n{second}\n")
    result = run("recommend", "-m", folder, "--users", ids, "-n", 2)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "userId,rank,movieId,score"
    assert [line.split(",")[0] for line in lines[1:]] == [str(first)] * 2 + [str(second)] * 2


# -- similar ------------------------------------------------------------------------------------
def test_similar_by_title_and_id(trained) -> None:
    data, rec, folder = trained
    matrix = movie_id(data, "Matrix, The (1999)")
    found = ok_json("similar", "-m", folder, "the matrix", "-n", 5, "--min-ratings", 0)
    assert found["movie"]["movie_id"] == matrix
    sims = [s["similarity"] for s in found["similar"]]
    assert len(sims) == 5 and sims == sorted(sims, reverse=True) and matrix not in [s["movie_id"] for s in found["similar"]]
    assert ok_json("similar", "-m", folder, matrix, "-n", 5, "--min-ratings", 0) == found
    result = run("similar", "-m", folder, "Matrix, The", "--min-ratings", 0)
    assert result.exit_code == 0 and "Movies like Matrix, The (1999)" in result.output
    popular = ok_json("similar", "-m", folder, matrix, "--min-ratings", 30)["similar"]
    counts = {r["movie_id"]: rec.movie_info(r["movie_id"])["n_ratings"] for r in popular}
    assert all(c >= 30 for c in counts.values())


# -- clusters -----------------------------------------------------------------------------------
def test_clusters_table_json_plot_and_choose_k(trained, tmp_path) -> None:
    _, _, folder = trained
    plot = tmp_path / "map.png"
    result = run("clusters", "-m", folder, "-k", 4, "--min-ratings", 10, "--plot", plot, "--choose-k", "2..5")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Genre purity" in text and "random clusterings" in text and "suggested" in text
    assert plot.read_bytes().startswith(b"\x89PNG")
    payload = ok_json("clusters", "-m", folder, "-k", 4, "--min-ratings", 10, "--embedding", "rating")
    assert payload["embedding"] == "rating" and payload["k"] == 4
    assert sum(c["size"] for c in payload["clusters"]) == payload["n_movies"]
    assert {"value", "random_mean", "random_std", "z"} <= set(payload["purity"])
    assert all({"top_genres", "top_titles", "mean_rating", "members"} <= set(c) for c in payload["clusters"])


# -- bad input: one line, exit 1 ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["recommend", "--user", "999999"], r"unknown user 999999"),
        (["recommend", "--rated", "Toy Stroy=5"], r"no movie titled 'Toy Stroy'.*Toy Story \(1995\)"),
        (["recommend", "--rated", "hamlet=4"], r"matches 2 movies.*Hamlet \(1990\).*Hamlet \(1996\)"),
        (["recommend", "--rated", "toy story=6"], r"between 0.5 and 5"),
        (["recommend", "--rated", "toy story"], r"expected MOVIE=STARS"),
        (["recommend", "--rated", "toy story=great"], r"not a number of stars"),
        (["recommend"], r"expected one of --user"),
        (["recommend", "--user", "1", "--rated", "toy story=5"], r"choose one of"),
        (["recommend", "--user", "1", "--genre", "Nonsense"], r"unknown genre 'Nonsense'"),
        (["recommend", "--user", "1", "--year-from", "2000", "--year-to", "1990"], r"after --year-to"),
        (["recommend", "--users", "nobody.csv"], r"expected 'all' or a file of user ids"),
        (["recommend", "--users", "all", "--explore", "0.5"], r"do not apply to --users batch mode"),
        (["recommend", "--ratings", "missing.csv"], r"does not exist"),
        (["similar", "Forest Gump"], r"no movie titled"),
        (["similar", "999999"], r"no movie with id 999999"),
        (["clusters", "-k", "500"], r"n_movies=\d+ should be >= k=500"),
        (["clusters", "--choose-k", "5-9"], r"expected A..B"),
        (["clusters", "--embedding", "genre"], r"embedding must be one of"),
    ],
)
def test_bad_input_is_one_line(trained, args, pattern) -> None:
    _, _, folder = trained
    one_line_error(run(args[0], "-m", folder, *args[1:]), pattern)


def test_bad_ratings_file_and_user_file(trained, tmp_path) -> None:
    _, _, folder = trained
    bad = tmp_path / "bad.csv"
    bad.write_text("film,stars\nToy Story,5\n")
    one_line_error(run("recommend", "-m", folder, "--ratings", bad), r"expected columns movieId \(or title\) and rating")
    bad.write_text("movieId,rating\n1,five\n")
    one_line_error(run("recommend", "-m", folder, "--ratings", bad), r"line 2: rating 'five' is not a number")
    users = tmp_path / "users.csv"
    users.write_text("userId\n1\n999999\n")
    one_line_error(run("recommend", "-m", folder, "--users", users), r"unknown user 999999")


@pytest.mark.parametrize("command", [["recommend", "--user", "1"], ["similar", "toy story"], ["clusters"]])
def test_missing_and_corrupt_model_folders(trained, tmp_path, command) -> None:
    _, _, folder = trained
    one_line_error(run(command[0], "-m", tmp_path / "nothing", *command[1:]), r"no model at")
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    for path in broken.iterdir():
        if path.suffix == ".json":
            path.write_text("{ not json")
    one_line_error(run(command[0], "-m", broken, *command[1:]), r"corrupt")


@pytest.mark.parametrize("command", ["recommend", "similar", "clusters"])
def test_help_teaches_with_an_example(command) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output and f"movierec {command} -m model" in " ".join(result.output.split())


def test_recommend_for_ratings_matches_the_library(trained) -> None:
    data, rec, folder = trained
    toy = movie_id(data, "Toy Story (1995)")
    from_cli = ok_json("recommend", "-m", folder, "--rated", f"{toy}=5", "-n", 5)
    assert [r["movie_id"] for r in from_cli] == [r.movie_id for r in rec.recommend_for_ratings({toy: 5.0}, 5)]
    assert np.isfinite([r["score"] for r in from_cli]).all()


def test_new_user_rating_an_untrained_movie_gets_a_note(trained) -> None:
    data, _, folder = trained
    unrated = np.setdiff1d(data.catalog.movie_ids, data.movie_vocab.ids)[0]
    result = run("recommend", "-m", folder, "--rated", f"{unrated}=4", "--rated", "toy story=5", "-n", 3)
    assert result.exit_code == 0, result.output
    assert "no ratings in the training data" in " ".join(result.output.split())


def test_explore_matches_the_library(trained) -> None:
    data, rec, folder = trained
    user = int(data.user_vocab.ids[0])
    from_cli = ok_json("recommend", "-m", folder, "--user", user, "-n", 6, "--explore", 0.7)
    assert [r["movie_id"] for r in from_cli] == [r.movie_id for r in rec.recommend(user, 6, explore=0.7)]
    assert [r["movie_id"] for r in from_cli] != [r.movie_id for r in rec.recommend(user, 6)]
    result = run("recommend", "-m", folder, "--user", user, "--explore", 2)
    assert result.exit_code == 2 and "less than or equal to 1" in result.output
