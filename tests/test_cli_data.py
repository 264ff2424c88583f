"""``movierec data``: list, fetch, info, convert, through Typer's CliRunner."""

from __future__ import annotations

import json

import pytest
from cli_support import one_line_error
from test_readers_writers import release_dataset
from typer.testing import CliRunner

from movierec.cli import app
from movierec.data.writers import write_release

runner = CliRunner()


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOVIEREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MOVIEREC_DATA", str(tmp_path / "data"))


def test_info_tables_and_json(tmp_path):
    data = release_dataset()
    folder = write_release(data, tmp_path / "synthetic", "csv")
    result = runner.invoke(app, ["data", "info", str(folder)])
    assert result.exit_code == 0, result.output
    assert "synthetic" in result.output and "movies in catalog" in result.output and "Comedy" in result.output
    facts = json.loads(runner.invoke(app, ["data", "info", str(folder), "--json"]).stdout)
    assert (facts["users"], facts["movies_rated"], facts["movies_in_catalog"], facts["ratings"]) == (
        data.n_users, data.n_movies, 9, 300,
    )
    assert sum(facts["rating_histogram"].values()) == 300 and set(facts["rating_histogram"]) <= {
        f"{s / 2:g}" for s in range(1, 11)
    }
    assert facts["genres"]["Comedy"] == 4 and facts["genres"]["(no genres listed)"] == 1
    assert facts["density"] == pytest.approx(300 / (data.n_users * data.n_movies))
    assert facts["first_rating"] <= facts["last_rating"] and facts["first_rating"].startswith(("1995", "1996"))


def test_info_on_the_real_release(shared_data):
    result = runner.invoke(app, ["data", "info", "ml-latest-small", "--data-dir", str(shared_data), "--json"])
    facts = json.loads(result.stdout)
    assert (facts["users"], facts["movies_rated"], facts["movies_in_catalog"], facts["ratings"]) == (610, 9724, 9742, 100_836)
    assert len(facts["genres"]) == 20 and facts["first_rating"] == "1996-03-29"


def test_plain_csv_with_movies_option(tmp_path):
    (tmp_path / "r.csv").write_text("userId,movieId,rating\n1,10,4\n2,10,5\n2,20,3\n")
    (tmp_path / "m.csv").write_text("movieId,title,genres\n10,Ten (2000),Drama\n20,Twenty (2001),Comedy\n")
    facts = json.loads(runner.invoke(app, ["data", "info", str(tmp_path / "r.csv"), "--movies", str(tmp_path / "m.csv"), "--json"]).stdout)
    assert facts["genres"] == {"Comedy": 1, "Drama": 1} and facts["first_rating"] is None


def test_repairs_are_printed_as_notes(tmp_path):
    (tmp_path / "r.csv").write_text("userId,movieId,rating,timestamp\n1,10,4,1\n1,10,5,2\n")
    result = runner.invoke(app, ["data", "info", str(tmp_path / "r.csv")])
    assert result.exit_code == 0, result.output
    assert "Note: " in result.output and "1 duplicate (user, movie) rating(s)" in " ".join(result.output.split())


def test_bad_input_is_one_line(tmp_path):
    (tmp_path / "r.csv").write_text("userId,movieId,rating\n1,10,4\n2,ten,5\n")
    one_line_error(runner.invoke(app, ["data", "info", str(tmp_path / "r.csv")]),
                    r"r.csv line 3: expected an integer in column 'movieId', found 'ten'")
    one_line_error(runner.invoke(app, ["data", "info", "ml-5m"]), r"no release or file named 'ml-5m'")
    one_line_error(runner.invoke(app, ["data", "fetch", "ml-5m"]), r"unknown MovieLens release 'ml-5m'")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    one_line_error(runner.invoke(app, ["data", "info", str(tmp_path / "broken.zip")]), r"is not a readable zip")


def test_fetch_uses_the_local_copy(shared_data):
    result = runner.invoke(app, ["data", "fetch", "ml-latest-small", "--data-dir", str(shared_data)])
    assert result.exit_code == 0, result.output
    assert "ml-latest-small.zip" in " ".join(result.output.split())


def test_fetch_refuses_a_tampered_local_zip(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ml-100k.zip").write_bytes(b"not the real archive")
    one_line_error(runner.invoke(app, ["data", "fetch", "ml-100k"]),
                    r"does not match the published checksum of ml-100k: expected MD5 0e33842e24a9c977be4e0107933c0723")


def test_convert_then_list(tmp_path):
    folder = write_release(release_dataset(whole_stars=True), tmp_path / "synthetic", "csv")
    out = tmp_path / "data" / "ml-1m"
    result = runner.invoke(app, ["data", "convert", str(folder), str(out), "--format", "ml-1m", "--zip"])
    assert result.exit_code == 0, result.output
    assert (out / "ratings.dat").exists() and (tmp_path / "data" / "ml-1m.zip").exists()
    before = json.loads(runner.invoke(app, ["data", "info", str(folder), "--json"]).stdout)
    after = json.loads(runner.invoke(app, ["data", "info", "ml-1m", "--json"]).stdout)
    assert after["fingerprint"] == before["fingerprint"] and after["name"] == "ml-1m"
    listed = {r["name"]: r for r in json.loads(runner.invoke(app, ["data", "list", "--json"]).stdout)}
    assert listed["ml-1m"]["local"].endswith("ml-1m.zip") and listed["ml-25m"]["local"] == ""


@pytest.mark.parametrize("command", ["list", "fetch", "info", "convert", "cache"])
def test_help_teaches_with_an_example(command):
    result = runner.invoke(app, ["data", command, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output and "movierec data" in result.output


def test_cache_lists_and_clears_only_its_own_entries(tmp_path):
    data = release_dataset()
    folder = write_release(data, tmp_path / "synthetic", "csv")
    assert runner.invoke(app, ["data", "info", str(folder)]).exit_code == 0  # parses and caches
    stranger = tmp_path / "cache" / "someone-elses"
    stranger.mkdir(parents=True)
    (stranger / "keep.txt").write_text("not movierec's")

    listed = json.loads(runner.invoke(app, ["data", "cache", "--json"]).stdout)
    assert [e["source"] for e in listed["entries"]] == [str(folder)]
    assert listed["entries"][0]["bytes"] > 0
    table = runner.invoke(app, ["data", "cache"]).stdout
    assert "1 entry" in table.splitlines()[0]  # the heading line is never wrapped, whatever the width

    cleared = json.loads(runner.invoke(app, ["data", "cache", "--clear", "--json"]).stdout)
    assert cleared["deleted"] == 1 and cleared["bytes"] == listed["entries"][0]["bytes"]
    assert json.loads(runner.invoke(app, ["data", "cache", "--json"]).stdout)["entries"] == []
    assert (stranger / "keep.txt").read_text() == "not movierec's"
    assert runner.invoke(app, ["data", "info", str(folder)]).exit_code == 0  # parses again
