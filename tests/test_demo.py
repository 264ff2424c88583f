"""``movierec demo`` end to end on a small synthetic release whose best-known movies have famous titles."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from movierec import Catalog
from movierec.cli import app
from movierec.data.synthetic import generate
from movierec.data.writers import write_release
from movierec.recommend.recommender import Recommender

runner = CliRunner()
FAMOUS = (
    "Toy Story (1995)",
    "Matrix, The (1999)",
    "Star Wars: Episode IV - A New Hope (1977)",
    "Pulp Fiction (1994)",
    "Forrest Gump (1994)",
)


def famous_release(folder):
    """A synthetic release in the ml-latest CSV layout; its five most-rated movies get famous titles."""
    data = generate(n_users=300, n_movies=400, n_ratings=12_000, seed=7).dataset
    catalog = data.catalog
    top = data.movie_vocab.ids[np.argsort(-data.movie_counts(), kind="stable")[: len(FAMOUS)]]
    titles = catalog.titles.copy()
    titles[catalog.rows(top)] = FAMOUS
    genres = pd.Series(["|".join(catalog.genres_of(r)) or "(no genres listed)" for r in range(len(catalog))])
    data = dataclasses.replace(data, catalog=Catalog.from_frame(catalog.movie_ids, titles, genres))
    return write_release(data, folder, "csv")


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path) -> None:
    release = famous_release(tmp_path / "famous")
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--data", str(release), "--out", str(out), "-k", "5", "--min-ratings", "10"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for expected in (
        "Held-out metrics", "biases", "popularity", "RMSE", "NDCG@10",
        "Recommendations for user", "new user who rated 5 movies", "Movies like Matrix, The (1999)",
        "5 clusters of", "Genre purity", "random clusterings", "Next:", "movierec recommend -m",
    ):
        assert expected in text, expected
    assert "Warning" not in result.output and "Traceback" not in result.output
    rec = Recommender.load(out / "model")  # the saved model is usable
    assert rec.rating is not None and rec.ranking is not None
    assert (out / "clusters.png").read_bytes().startswith(b"\x89PNG")
    assert len(rec.recommend_for_ratings({rec.find_movie("toy story"): 5.0}, 10)) == 10


def test_demo_with_missing_data_is_one_line(tmp_path) -> None:
    result = runner.invoke(app, ["demo", "--data", str(tmp_path / "nothing.csv"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "Traceback" not in result.output


def test_demo_help_has_an_example() -> None:
    result = runner.invoke(app, ["demo", "--help"])
    assert result.exit_code == 0 and "Example" in result.output and "movierec demo" in result.output
