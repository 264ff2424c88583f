"""``movierec evaluate`` through Typer's CliRunner, on a synthetic release written to disk."""

from __future__ import annotations

import json

import pytest
from cli_support import one_line_error
from typer.testing import CliRunner

from movierec.cli import app
from movierec.data.synthetic import generate
from movierec.data.writers import write_release

runner = CliRunner()


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOVIEREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MOVIEREC_DATA", str(tmp_path / "data"))


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    data = generate(n_users=120, n_movies=300, n_ratings=4000, seed=4).dataset
    return write_release(data, tmp_path_factory.mktemp("synthetic") / "synthetic", "csv")


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_default_split_rates_on_random_and_ranks_on_user_holdout(release):
    out = _json(runner.invoke(app, ["evaluate", "-d", str(release), "-m", "mean,biases,popularity", "--json"]))
    assert out["rating_split"] == "random 80/20 holdout (seed 42)"
    assert out["ranking_split"] == "per-user 80/20 holdout (seed 42)"
    assert [row["model"] for row in out["rows"]] == ["mean", "biases", "popularity"]
    mean, biases, popularity = out["rows"]
    assert biases["rmse"] < mean["rmse"] and popularity["rmse"] is None
    assert popularity["ndcg@10"] > mean["ndcg@10"]


def test_table_output(release):
    result = runner.invoke(app, ["evaluate", "-d", str(release), "-m", "biases,popularity", "-k", "5"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for expected in ("Evaluation", "biases", "popularity", "RMSE", "NDCG@5", "P@5", "Rating metrics: random 80/20"):
        assert expected in text, result.output


def test_kfold_table_has_mean_and_spread(release):
    args = ["evaluate", "-d", str(release), "-m", "biases", "--split", "kfold", "--folds", "3", "--seed", "7"]
    out = _json(runner.invoke(app, [*args, "--json"]))
    assert out["folds"] == 3 and out["rating_split"] == "3-fold cross-validation (seed 7)"
    assert out["rows"][0]["rmse_std"] > 0
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "±" in table.output


@pytest.mark.parametrize(
    "split, label",
    [
        ("random", "random 70/30 holdout (seed 42)"),
        ("user", "per-user 70/30 holdout (seed 42)"),
        ("temporal", "temporal: latest 30% of ratings held out"),
        ("last", "each user's last 2 ratings held out"),
    ],
)
def test_one_split_for_every_metric(release, split, label):
    args = ["evaluate", "-d", str(release), "-m", "biases", "--split", split, "--test-fraction", "0.3", "--last", "2"]
    out = _json(runner.invoke(app, [*args, "--json"]))
    assert out["rating_split"] == out["ranking_split"] == label
    assert out["rows"][0]["rmse"] is not None and out["rows"][0]["ndcg@10"] is not None


def test_params_and_seed_change_the_numbers(release):
    base = ["evaluate", "-d", str(release), "-m", "biases", "--split", "random", "--json"]
    default = _json(runner.invoke(app, base))["rows"][0]["rmse"]
    undamped = _json(runner.invoke(app, [*base, "-p", "biases.user_damping=0"]))["rows"][0]["rmse"]
    other_seed = _json(runner.invoke(app, [*base, "--seed", "1"]))["rows"][0]["rmse"]
    assert undamped != default and other_seed != default


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["-m", "mean,nope"], "unknown model 'nope'; expected one of"),
        (["-m", ""], "--models is empty"),
        (["-m", "mean,mean"], "each model may appear once"),
        (["--split", "weekly"], "unknown split 'weekly'; expected auto, random"),
        (["--train", "a.csv"], "--train and --test go together"),
        (["-p", "mean.speed=3", "-m", "mean"], "no model being trained has a parameter 'speed'"),
        (["--test-fraction", "1.0"], r"--test-fraction.*0.99"),
        (["--device", "tpu", "-m", "mean"], "device must be auto, cpu or cuda"),
    ],
)
def test_bad_input_is_one_line(release, args, pattern):
    one_line_error(runner.invoke(app, ["evaluate", "-d", str(release), *args]), pattern)


def test_missing_data_is_one_line(tmp_path):
    one_line_error(runner.invoke(app, ["evaluate", "-d", str(tmp_path / "nowhere.csv"), "-m", "mean"]), "no release or file")


def test_help_teaches_with_examples():
    result = runner.invoke(app, ["evaluate", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "Example: movierec evaluate" in text and "--split" in text and "per-user" in text


def test_auto_is_the_rating_model_train_picks(release):
    """auto: bayesfm at this size, compared once when also named (-p checked against it)."""
    args = ["evaluate", "-d", str(release), "-m", "auto,biases,bayesfm", "-p", "bayesfm.epochs=4", "--json"]
    rows = [row["model"] for row in _json(runner.invoke(app, args))["rows"]]
    assert rows == ["bayesfm", "biases"]


@pytest.mark.slow
def test_real_release_default_models(shared_data):
    result = runner.invoke(
        app, ["evaluate", "-d", "ml-latest-small", "--data-dir", str(shared_data), "-m", "biases,popularity", "--json"]
    )
    rows = {row["model"]: row for row in _json(result)["rows"]}
    assert 0.80 < rows["biases"]["rmse"] < 0.95  # the damped-bias baseline on ml-latest-small
    assert rows["popularity"]["precision@10"] > rows["biases"]["precision@10"]


def test_official_ml100k_split_and_explicit_files(tmp_path):
    from movierec.eval.splits import random_holdout

    data = generate(n_users=60, n_movies=200, n_ratings=1500, step=1.0, seed=8).dataset
    folder = write_release(data, tmp_path / "ml-100k", "100k")
    part = random_holdout(data, 0.2, 3)
    for name, piece in (("u1.base", part.train), ("u1.test", part.test)):
        lines = zip(piece.user_vocab.ids[piece.users], piece.movie_vocab.ids[piece.movies], piece.ratings.astype(int))
        (folder / name).write_text("".join(f"{u}\t{m}\t{r}\t0\n" for u, m, r in lines))

    out = _json(runner.invoke(app, ["evaluate", "-d", str(folder), "-m", "biases", "--split", "u1", "--json"]))
    assert out["rating_split"] == "ml-100k official split u1 (u1.base / u1.test)"
    official = out["rows"][0]["rmse"]

    args = ["evaluate", "-m", "biases", "--train", str(folder / "u1.base"), "--test", str(folder / "u1.test"), "--json"]
    out = _json(runner.invoke(app, args))
    assert out["rating_split"] == "files u1.base (train) / u1.test (test)"
    assert out["rows"][0]["rmse"] == pytest.approx(official, abs=1e-6)  # the same ratings, the same model

    one_line_error(
        runner.invoke(app, ["evaluate", "-d", str(folder), "-m", "biases", "--split", "u3"]), "no u3.base/u3.test"
    )
    one_line_error(runner.invoke(app, [*args[:-1], "--split", "kfold"]), "--train/--test are the split: drop --split")


def test_explicit_files_note_what_was_fixed(tmp_path):
    data = generate(n_users=60, n_movies=200, n_ratings=1500, step=1.0, seed=9).dataset
    lines = [f"{u},{m},{int(r)},{t}" for u, m, r, t in zip(
        data.user_vocab.ids[data.users], data.movie_vocab.ids[data.movies], data.ratings, data.timestamps)]  # fmt: skip
    header = "userId,movieId,rating,timestamp\n"
    (tmp_path / "train.csv").write_text(header + "\n".join(lines[:1200]) + "\n")
    (tmp_path / "test.csv").write_text(header + "\n".join(lines[1195:]) + "\n")  # 5 pairs in both
    result = runner.invoke(app, ["evaluate", "-m", "biases", "--train", str(tmp_path / "train.csv"),
                                 "--test", str(tmp_path / "test.csv")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Note: " in result.output and "5 (user, movie) pair(s) also rated in" in result.output
    assert "Warning" not in result.output
