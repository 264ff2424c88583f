"""What a newcomer meets first: plain ratings CSVs, bad input of every kind, outputs checked
before any work, output that a pipe or a script can read, and a process that always exits cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from cli_support import one_line_error
from typer.testing import CliRunner

from movierec.cli import app
from movierec.data.synthetic import generate
from movierec.data.writers import write_release

runner = CliRunner()
CLI = [sys.executable, "-c", "from movierec.cli import main; main()"]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """A release in the CSV layout, and a model trained from its ratings.csv alone (no --movies)."""
    data = generate(n_users=100, n_movies=200, n_ratings=3000, seed=5).dataset
    folder = write_release(data, tmp_path_factory.mktemp("plain") / "rel", "csv")
    model = folder.parent / "model"
    result = run("train", "-d", folder / "ratings.csv", "--ranking", "ials", "-p", "epochs=2", "-p", "iterations=2",
                 "-p", "factors=6", "-o", model)  # fmt: skip
    assert result.exit_code == 0, result.output
    return data, folder, model


# -- plain CSVs -----------------------------------------------------------------------------------
def test_a_model_without_genres_clusters_recommends_and_filters_with_a_note(plain) -> None:
    _, _, model = plain
    result = run("clusters", "-m", model, "-k", "3", "--min-ratings", "1")
    assert result.exit_code == 0, result.output
    assert "3 clusters of" in result.stdout and "have no genres" in " ".join(result.stderr.split())
    result = run("recommend", "-m", model, "--user", "1", "--genre", "Comedy", "-n", "4", "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 4 and "--genre Comedy is ignored" in " ".join(result.stderr.split())


def test_movies_option_on_train_and_evaluate(plain, tmp_path) -> None:
    _, folder, _ = plain
    csv, movies = folder / "ratings.csv", folder / "movies.csv"
    out = tmp_path / "m"
    result = run("train", "-d", csv, "--movies", movies, "--rating", "biases", "--ranking", "popularity", "-o", out)
    assert result.exit_code == 0, result.output
    recs = json.loads(run("recommend", "-m", out, "--user", "1", "--genre", "Comedy", "--json").stdout)
    assert recs and all("Comedy" in r["genres"] for r in recs)
    result = run("evaluate", "-d", csv, "--movies", movies, "-m", "biases", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"][0]["model"] == "biases"


def test_a_plain_csv_off_the_star_scale_is_an_error_naming_the_flag(tmp_path) -> None:
    csv = tmp_path / "r.csv"
    csv.write_text("userId,movieId,rating\n1,10,4\n1,20,40\n2,10,3.5\n2,20,5\n")
    one_line_error(run("data", "info", csv), r"line 3: rating 40 is not on a star scale of 0 to 5.*--rating-scale LOW,HIGH")
    one_line_error(run("train", "-d", csv, "-o", tmp_path / "m"), r"--rating-scale")
    assert not (tmp_path / "m").exists()
    facts = json.loads(run("data", "info", csv, "--rating-scale", "1,40", "--json").stdout)
    assert facts["rating_scale"] == [1, 40]
    one_line_error(run("data", "info", csv, "--rating-scale", "5"), r"expected LOW,HIGH")


# -- raw messages become movierec errors ---------------------------------------------------------
def test_bad_files_and_values_are_one_line(plain, tmp_path) -> None:
    _, folder, model = plain
    empty, garbled = tmp_path / "empty.csv", tmp_path / "garbled.csv"
    empty.write_text("")
    garbled.write_bytes(b'userId\n1\n"2,\x00\xff\n3,4,5,6\n')
    one_line_error(run("recommend", "-m", model, "--users", empty), r"holds no user ids")
    one_line_error(run("recommend", "-m", model, "--users", garbled), r"is not a user id")
    one_line_error(run("recommend", "-m", model, "--users", tmp_path), r"is a folder")
    one_line_error(run("predict", "-m", model, "--pairs", tmp_path), r"pairs file .* is a folder")
    one_line_error(run("train", "-d", folder, "-p", "factors=abc", "-o", tmp_path / "m"),
                   r"factors=abc: expected a whole number")  # fmt: skip
    one_line_error(run("evaluate", "-d", folder, "--test-fraction", "0"), r"--test-fraction.*0.01", 2)
    first = str(plain[0].movie_vocab.ids[0])
    one_line_error(run("similar", "-m", model, first, "--min-ratings", "100000"), r"lower --min-ratings")
    assert not (tmp_path / "m").exists()


def test_a_profile_the_model_cannot_score_gets_popular_movies(plain) -> None:
    data, folder, _ = plain
    model = folder.parent / "with-movies"
    result = run("train", "-d", folder / "ratings.csv", "--movies", folder / "movies.csv", "--rating", "biases",
                 "--ranking", "popularity", "-o", model)  # fmt: skip
    assert result.exit_code == 0, result.output
    unrated = int(np.setdiff1d(data.catalog.movie_ids, data.movie_vocab.ids)[0])
    result = run("recommend", "-m", model, "--rated", f"{unrated}=5", "-n", "5", "--json")
    assert result.exit_code == 0, result.output
    movies = json.loads(result.stdout)
    counts = [m["n_ratings"] for m in movies]
    assert len(movies) == 5 and counts == sorted(counts, reverse=True) and min(counts) > 0
    assert "showing the most-rated movies instead" in " ".join(result.stderr.split())


# -- outputs are checked before any work ---------------------------------------------------------
def test_outputs_are_checked_before_scoring(plain, tmp_path) -> None:
    _, _, model = plain
    one_line_error(run("recommend", "-m", model, "--users", "all", "-o", tmp_path / "no" / "top.csv"), r"does not exist")
    one_line_error(run("recommend", "-m", model, "--users", "all", "-o", tmp_path), r"is a folder: expected a file")
    one_line_error(run("predict", "-m", model, "--pairs", "x.csv", "-o", tmp_path), r"is a folder")
    one_line_error(run("clusters", "-m", model, "--plot", tmp_path / "no" / "map.png"), r"does not exist")
    assert list(tmp_path.iterdir()) == []


def test_batch_output_to_stdout_is_exactly_the_csv(plain) -> None:
    data, _, model = plain
    result = run("recommend", "-m", model, "--users", "all", "-n", "3", "-o", "-")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "userId,rank,movieId,score" and len(lines) == 1 + 3 * data.n_users


# -- the process itself ------------------------------------------------------------------------
def test_a_failing_command_exits_cleanly_every_time(plain, tmp_path) -> None:
    """The error, exit code 1, and no abort at exit ("terminate called ..."; exit 134), also
    while another process keeps a core busy."""
    _, folder, _ = plain
    bad = tmp_path / "bad.csv"
    bad.write_text("userId,movieId,rating\n1,2,x\n")
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        for _ in range(4):
            done = subprocess.run([*CLI, "evaluate", "-m", "biases", "--train", str(folder / "ratings.csv"), "--test", str(bad)],
                                  capture_output=True, text=True, timeout=300)  # fmt: skip
            assert done.returncode == 1, done.stderr
            assert done.stderr.strip().startswith("Error: ") and "terminate" not in done.stderr, done.stderr
            assert done.stdout == ""
    finally:
        spinner.kill()
        spinner.wait()


def test_json_stdout_is_exactly_the_data_on_any_terminal(plain) -> None:
    """FORCE_COLOR and a narrow terminal change how stderr looks, never what stdout carries."""
    data, _, model = plain
    env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "40"}
    first = str(data.movie_vocab.ids[0])
    done = subprocess.run([*CLI, "similar", "-m", str(model), first, "--min-ratings", "1", "--json"],
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["similar"]


@pytest.mark.parametrize("command", ["train", "evaluate", "recommend", "serve", "demo", "clusters", "predict"])
def test_help_reads_as_written(command) -> None:
    text = run(command, "--help").stdout
    assert "<bool>" not in text and "[bold]" not in text and "\\[" not in text and "…" not in text
