"""``--engine spark`` with real Spark: local[2] in-process, and local-cluster[2,1,1024] (two
executor JVMs) through the CLI, then the model folder used by recommend and a real server.

Select with ``-m spark``; skipped (with the reason) when PySpark or Java is missing.
"""

from __future__ import annotations

import os
import shutil

import httpx
import numpy as np
import pandas as pd
import pytest
from cli_support import one_line_error
from typer.testing import CliRunner

from movierec.cli import app
from movierec.data.synthetic import generate
from movierec.data.writers import write_release
from movierec.eval.evaluation import rating_scores
from movierec.eval.splits import random_holdout
from movierec.models import make_model
from movierec.models.ials import ImplicitALS
from movierec.models.mf import BiasedMF
from movierec.recommend.artifact import Artifact, load, save
from movierec.recommend.recommender import Recommender

pytest.importorskip("pyspark", reason="--engine spark needs PySpark: pip install 'movierec[spark]'")
if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
    pytest.skip("--engine spark needs Java 17 (apt-get install openjdk-17-jre-headless)", allow_module_level=True)

pytestmark = [pytest.mark.spark, pytest.mark.slow]
runner = CliRunner()
CLUSTER = "local-cluster[2,1,1024]"


@pytest.fixture(scope="module")
def planted():
    """Ratings with a planted rank-8 taste and Gaussian noise 0.5 (the oracle's RMSE is ~0.51)."""
    return generate(n_users=600, n_movies=1500, n_ratings=40_000, rank=8, noise=0.5, seed=1)


@pytest.fixture(scope="module")
def spark():
    from movierec.spark.session import spark_session

    with spark_session("local[2]", {"spark.sql.shuffle.partitions": "4"}) as session:
        yield session


def test_spark_mf_rmse_is_within_2_percent_of_movierecs_own_and_round_trips(spark, planted, tmp_path):
    from movierec.spark.als import make_spark_model

    split = random_holdout(planted.dataset, 0.2, seed=42)
    params = {"factors": 8, "epochs": 15, "validation": 0.0, "reg": 0.12}  # one reg for both: no search
    on_spark = make_spark_model("mf", **params)
    on_spark.fit(split.train)
    local = make_model("mf", factors=8, reg=0.12).fit(split.train)
    spark_rmse = rating_scores(on_spark, split)[0]["rmse"]
    local_rmse = rating_scores(local, split)[0]["rmse"]
    assert spark_rmse <= 1.02 * local_rmse, (spark_rmse, local_rmse)
    assert spark_rmse < 0.8 * np.std(split.test.ratings)  # far better than predicting the mean

    # Saved and loaded, a Spark-trained model is movierec's own mf and ials, scoring the same.
    ranking = make_spark_model("ials", factors=8, iterations=5).fit(split.train)
    save(Artifact.from_dataset(split.train, rating=on_spark, ranking=ranking), tmp_path / "model")
    loaded = load(tmp_path / "model")
    assert type(loaded.rating) is BiasedMF and type(loaded.ranking) is ImplicitALS
    pairs = split.test.users[:100], split.test.movies[:100]
    np.testing.assert_allclose(loaded.rating.predict(*pairs), on_spark.predict(*pairs), rtol=1e-6)
    np.testing.assert_allclose(loaded.ranking.score_users(np.arange(10)), ranking.score_users(np.arange(10)), rtol=1e-6)
    assert np.isfinite(loaded.ranking.fold_in(np.array([0, 1]), np.array([5.0, 4.0], np.float32))).all()


def test_evaluate_through_the_shared_code(spark, planted):
    from movierec.eval import evaluation
    from movierec.spark.als import make_spark_model

    split = random_holdout(planted.dataset, 0.2, seed=42)
    result = evaluation.evaluate(
        ["mf", "ials"], split, params={"mf": {"factors": 8, "epochs": 10, "validation": 0.0}, "ials": {"factors": 8, "iterations": 5}},
        make=make_spark_model,
    )
    rows = {row["model"]: row for row in result.rows}
    assert rows["mf"]["rmse"] < 0.8 * np.std(split.test.ratings)
    assert rows["ials"]["ndcg@10"] > 0.0


def test_bad_inputs_are_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("userId,movieId,rating\n1,2,4.0\n1,x,3.0\n", encoding="utf-8")
    out = tmp_path / "m"
    one_line_error(runner.invoke(app, ["train", "--engine", "spark", "--spark-master", "local[2]", "-d", str(bad), "-o", str(out)]),
                   r"movieId that is not a number \(first: 'x'\)")
    one_line_error(runner.invoke(app, ["train", "--engine", "spark", "--spark-master", "mesos://x", "-d", str(bad), "-o", str(out)]),
                   r"not a Spark master URL")
    one_line_error(runner.invoke(app, ["train", "--engine", "spark", "--spark-master", "spark://127.0.0.1:1", "-d", str(bad), "-o", str(out)]),
                   r"cannot reach the Spark master spark://127.0.0.1:1")
    one_line_error(runner.invoke(app, ["train", "--engine", "spark", "--ranking", "ease", "-d", str(bad), "-o", str(out)]),
                   r"--engine spark trains mf and ials")
    good = tmp_path / "good.csv"
    good.write_text("userId,movieId,rating\n1,2,4.0\n2,2,3.0\n", encoding="utf-8")
    one_line_error(runner.invoke(app, ["train", "--engine", "spark", "--spark-master", "local[2]", "--ranking", "none",
                                       "-p", "mf.reg=high", "-d", str(good), "-o", str(out)]),
                   r"reg must be a number >= 0 or 'auto', got 'high'")


def test_local_cluster_train_recommend_serve(tmp_path, planted):
    from serve_support import Server

    release = write_release(planted.dataset, tmp_path / "release")
    model = tmp_path / "model"
    result = runner.invoke(app, [
        "train", "--engine", "spark", "--spark-master", CLUSTER, "-d", str(release), "-o", str(model),
        "-p", "mf.factors=8", "-p", "mf.epochs=10", "-p", "mf.validation=0", "-p", "ials.factors=8", "-p", "ials.iterations=5",
        "--spark-conf", "spark.sql.shuffle.partitions=4", "--holdout", "0.2",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "rmse" in result.output  # held-out metrics, measured by the shared code
    assert "Trained mf (rating) and ials (ranking) by Spark MLlib ALS" in " ".join(result.output.split())
    artifact = load(model)
    assert artifact.training["engine"] == "spark" and artifact.training["master"] == CLUSTER
    assert (artifact.rating.name, artifact.ranking.name) == ("mf", "ials")
    assert len(artifact.user_vocab) == planted.dataset.n_users and artifact.seen.nnz == planted.dataset.n_ratings
    # The folder round-trips: saved again, it loads to the same scores.
    save(artifact, tmp_path / "copy")
    again = load(tmp_path / "copy")
    np.testing.assert_array_equal(again.ranking.score_users(np.arange(5)), artifact.ranking.score_users(np.arange(5)))

    user = int(artifact.user_vocab.ids[0])
    local = runner.invoke(app, ["recommend", "-m", str(model), "--user", str(user), "--json", "-n", "5"])
    assert local.exit_code == 0, local.output

    recs = tmp_path / "recs.parquet"
    result = runner.invoke(app, ["recommend", "--engine", "spark", "--spark-master", CLUSTER, "-m", str(model),
                                 "--users", "all", "-n", "5", "-o", str(recs)])  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(recs).sort_values(["userId", "rank"])
    assert frame.userId.nunique() == planted.dataset.n_users
    # The cluster ranks as the local batch path does.
    movies, _ = Recommender(artifact).recommend_batch(np.array([user]), 5)
    assert frame[frame.userId == user].movieId.tolist() == movies[0].tolist()

    server = Server(model, tmp_path / "feedback.db")
    try:
        got = httpx.get(f"{server.base}/api/users/{user}/recommendations", params={"n": 5, "explore": 0}, timeout=30)  # batch lists are explore 0
        assert got.status_code == 200
        assert [r["movie_id"] for r in got.json()["recommendations"]] == movies[0].tolist()
    finally:
        server.stop()
