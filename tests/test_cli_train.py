"""``movierec train`` and ``movierec predict`` through Typer's CliRunner."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from cli_support import one_line_error
from typer.testing import CliRunner

from movierec.cli import app
from movierec.data.synthetic import generate
from movierec.data.writers import write_release
from movierec.models import AUTO_LARGE, AUTO_LIMIT, DEFAULT_RATING, auto_rating
from movierec.recommend.recommender import Recommender

runner = CliRunner()


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    data = generate(n_users=80, n_movies=200, n_ratings=2_500, seed=9).dataset
    return data, write_release(data, tmp_path_factory.mktemp("data") / "synthetic", "csv")


@pytest.fixture(scope="module")
def model_dir(release, tmp_path_factory):
    data, folder = release
    out = tmp_path_factory.mktemp("models") / "m"
    result = runner.invoke(
        app, ["train", "-d", str(folder), "--rating", "biases", "--ranking", "popularity", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def test_train_fits_every_rating_by_default(model_dir, release):
    data, _ = release
    rec = Recommender.load(model_dir)
    assert rec.info["models"]["rating"]["name"] == "biases"
    assert rec.info["models"]["ranking"]["name"] == "popularity"
    assert rec.info["metrics"] == {} and not rec.info["training"]["holdout"]
    assert rec.info["counts"]["ratings"] == data.n_ratings
    # every movie's bias comes from its ratings: a holdout would leave some movies unseen by the model
    assert rec.rating.n_movies == data.n_movies if hasattr(rec.rating, "n_movies") else True


def test_train_holdout_is_opt_in_and_labelled(release, tmp_path):
    data, folder = release
    out = tmp_path / "m"
    args = ["train", "-d", str(folder), "--rating", "biases", "--ranking", "popularity", "--holdout", "0.25", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "Training on 75% of the ratings; 25% held out" in text and "trained on 75% of the ratings" in text
    rec = Recommender.load(out)
    assert 0 < rec.info["metrics"]["rating"]["rmse"] < 2 and "ndcg@10" in rec.info["metrics"]["ranking"]
    assert rec.info["training"]["holdout"] == 0.25 and rec.info["training"]["trained_on_share"] == 0.75


def test_train_refuses_to_overwrite_a_model_without_force(model_dir, release, tmp_path):
    _, folder = release
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    before = (copy / "model.json").read_bytes()
    args = ["train", "-d", str(folder), "--rating", "biases", "--ranking", "none", "-o", str(copy)]
    one_line_error(runner.invoke(app, args), "already holds a model: pass --force")
    assert (copy / "model.json").read_bytes() == before
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    assert "ranking" not in Recommender.load(copy).info["models"]


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_train_checks_the_output_before_training(release, tmp_path, kind):
    _, folder = release
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("x")
        pattern = "is a file: expected a folder"
    else:
        out.mkdir()
        (out / "notes.txt").write_text("x")
        pattern = "holding other files"
    result = runner.invoke(app, ["train", "-d", str(folder), "-o", str(out)])
    one_line_error(result, pattern)
    assert "Loading" not in result.output and "rating:" not in result.output  # refused before any work


def test_train_with_params_seed_and_no_holdout(release, tmp_path):
    _, folder = release
    out = tmp_path / "m"
    args = ["train", "-d", str(folder), "--rating", "mf", "--ranking", "none", "--no-holdout", "--seed", "3"]
    args += ["-p", "epochs=2", "-p", "mf.factors=4", "-p", "reg=0.05", "--device", "cpu", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rec = Recommender.load(out)
    params = rec.info["models"]["rating"]["params"]
    assert (params["epochs"], params["factors"], params["seed"], params["device"]) == (2, 4, 3, "cpu")
    assert params["reg"] == 0.05  # a number where the default is "auto"
    assert rec.info["metrics"] == {} and "ranking" not in rec.info["models"]


@pytest.mark.parametrize(
    "extra, pattern",
    [
        (["-p", "nonsense=1"], "no model being trained has a parameter 'nonsense'"),
        (["-p", "epochs"], "expected key=value"),
        (["-p", "bayesfm.epochs=many"], "expected a whole number"),  # auto: bayesfm on small data
        (["-p", "mf.epochs=9"], "'mf' is not one of the models being trained"),
        (["--rating", "popularity"], "popularity is a ranking model"),
        (["--rating", "none", "--ranking", "none"], "nothing to train"),
        (["--rating", "no-such-model"], "unknown model 'no-such-model'"),
    ],
)
def test_train_rejects_bad_options(release, tmp_path, extra, pattern):
    _, folder = release
    result = runner.invoke(app, ["train", "-d", str(folder), "-o", str(tmp_path / "m"), *extra])
    one_line_error(result, pattern)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "extra, pattern",
    [
        (["-p", "hybrid.iterations=0"], "iterations must be >= 1, got 0"),  # a part's setting
        (["--rating", "mf", "-p", "reg=high"], "reg must be a number >= 0 or 'auto', got 'high'"),
    ],
)
def test_bad_hyperparameters_stop_train_before_any_model_trains(release, tmp_path, extra, pattern):
    """Checked once the data is loaded (the summary line is printed), before the rating model trains."""
    _, folder = release
    result = runner.invoke(app, ["train", "-d", str(folder), "-o", str(tmp_path / "m"), *extra])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("Error: ") and pattern in errors[0], result.output
    assert "rating:" not in result.output and not (tmp_path / "m").exists()


def test_auto_rating_model_follows_size():
    assert auto_rating(AUTO_LIMIT) == (DEFAULT_RATING, None)
    name, note = auto_rating(AUTO_LIMIT + 1)
    assert name == AUTO_LARGE != DEFAULT_RATING and f"--rating {DEFAULT_RATING}" in note


def test_train_on_missing_data(tmp_path):
    one_line_error(runner.invoke(app, ["train", "-d", str(tmp_path / "nowhere.csv"), "-o", str(tmp_path / "m")]), "nowhere")


def test_predict_writes_clipped_predictions(model_dir, release, tmp_path):
    data, _ = release
    users = data.user_vocab.ids[data.users[:6]]
    movies = data.movie_vocab.ids[data.movies[:6]]
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"userId": [*users, 999999], "movieId": [*movies, movies[0]]}).to_csv(pairs, index=False)
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["predict", "-m", str(model_dir), "--pairs", str(pairs), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 of 7 pairs" in " ".join(result.output.split())  # the unknown user is reported
    got = pd.read_csv(out)
    assert list(got.columns) == ["userId", "movieId", "prediction"]
    expected = Recommender.load(model_dir).predict([*users, 999999], [*movies, movies[0]])
    np.testing.assert_allclose(got["prediction"], expected, atol=1e-4)
    stdout = runner.invoke(app, ["predict", "-m", str(model_dir), "--pairs", str(pairs)])
    assert stdout.exit_code == 0 and stdout.stdout.splitlines()[0] == "userId,movieId,prediction"


def test_predict_on_a_missing_model(tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("userId,movieId\n1,1\n")
    one_line_error(runner.invoke(app, ["predict", "-m", str(tmp_path / "nope"), "--pairs", str(pairs)]), "no model at")


@pytest.mark.parametrize(
    "content, pattern",
    [
        ("user,movie\n1,2\n", r"expected columns userId,movieId in the header, found 'user,movie'"),
        ("userId,movieId\n1,2\n3,x\n", r"pairs.csv line 3: movieId 'x' is not a non-negative integer id"),
        ("userId,movieId\n1.5,2\n", r"pairs.csv line 2: userId '1.5'"),
        ("userId,movieId\n1,\n", r"pairs.csv line 2: movieId ''"),
        ("", r"pairs.csv is empty"),
    ],
    ids=["columns", "not-a-number", "float", "blank", "empty"],
)
def test_predict_validates_the_pairs_file(model_dir, tmp_path, content, pattern):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(content)
    one_line_error(runner.invoke(app, ["predict", "-m", str(model_dir), "--pairs", str(pairs)]), pattern)


def test_predict_on_a_missing_pairs_file(model_dir, tmp_path):
    result = runner.invoke(app, ["predict", "-m", str(model_dir), "--pairs", str(tmp_path / "gone.csv")])
    one_line_error(result, "gone.csv does not exist")


def test_help_teaches_by_example():
    for command in ("train", "predict"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output


def test_ctrl_c_saves_the_best_model_so_far(release, tmp_path, monkeypatch):
    """Ctrl-C arrives while a progress bar updates: training stops and the model is still saved."""
    from movierec.cli.app import TrainingBars

    def press_ctrl_c(self, event):
        if event.epoch == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(TrainingBars, "event", press_ctrl_c)
    _, folder = release
    out = tmp_path / "m"
    args = ["train", "-d", str(folder), "--rating", "mf", "-p", "mf.factors=4", "--device", "cpu", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Stopped early" in result.output
    rec = Recommender.load(out)
    assert rec.info["models"]["rating"]["interrupted"] and rec.info["training"]["interrupted"]


def test_train_folds_in_server_feedback(release, tmp_path):
    from movierec.serve.store import FeedbackStore

    data, folder = release
    with FeedbackStore(tmp_path / "feedback.sqlite3") as store:
        profile = store.create_profile()
        store.set_ratings(profile, {int(data.movie_vocab.ids[0]): 5.0, int(data.movie_vocab.ids[1]): 3.5})
    out = tmp_path / "m"
    args = ["train", "-d", str(folder), "--rating", "biases", "--ranking", "popularity", "--no-holdout"]
    result = runner.invoke(app, [*args, "--feedback", str(tmp_path / "feedback.sqlite3"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    counts = Recommender.load(out).info["counts"]
    assert (counts["users"], counts["ratings"]) == (data.n_users + 1, data.n_ratings + 2)
