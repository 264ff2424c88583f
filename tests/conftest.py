"""Shared fixtures: a seeded rng, a tiny MovieLens-shaped dataset, the shared data folder.

First of all, the terminal environment is pinned for the whole run (and the servers it starts):
Rich reads it once, when a console is built, so the width and colour of the CLI's output must
not depend on the shell that runs pytest (COLUMNS=40, FORCE_COLOR=1, NO_COLOR=1, ...).
"""

from __future__ import annotations

import os

for _name in ("FORCE_COLOR", "NO_COLOR", "CLICOLOR_FORCE", "PY_COLORS", "TTY_COMPATIBLE", "TTY_INTERACTIVE",
              "COLORTERM", "JUPYTER_COLUMNS", "JUPYTER_LINES"):  # fmt: skip
    os.environ.pop(_name, None)
os.environ.update(COLUMNS="100", LINES="40", TERM="dumb")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from movierec import Catalog, Dataset  # noqa: E402

SHARED_DATA = Path(os.environ.get("MOVIEREC_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True, scope="session")
def _parsed_release_cache(tmp_path_factory):
    """movierec.load caches parsed releases ($MOVIEREC_CACHE); tests keep it in a temporary folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOVIEREC_CACHE", str(tmp_path_factory.mktemp("movierec-cache")))
        yield


@pytest.fixture
def shared_data() -> Path:
    """Folder holding the real ml-latest-small.zip; tests that need it skip when it is absent."""
    if not (SHARED_DATA / "ml-latest-small.zip").exists():
        pytest.skip(f"ml-latest-small.zip not found in {SHARED_DATA} (set MOVIEREC_DATA)")
    return SHARED_DATA


@pytest.fixture
def tiny() -> Dataset:
    """Six users, five movies (one unrated), hand-made."""
    catalog = Catalog.from_frame(
        [10, 20, 30, 40, 50],
        ["Alpha (1990)", "Beta, The (1995)", "Gamma (2001)", "Delta", "Epsilon (1999)"],
        ["Action|Sci-Fi", "Comedy", "Drama|Romance", "(no genres listed)", "Comedy|Drama"],
    )
    users = [1, 1, 1, 2, 2, 3, 3, 3, 4, 5, 6, 6]
    movies = [10, 20, 30, 10, 30, 20, 30, 50, 10, 20, 10, 50]
    ratings = [5, 3, 4, 4.5, 2, 1, 5, 3.5, 4, 2.5, 0.5, 4]
    return Dataset.from_ids(users, movies, ratings, np.arange(12) * 1000, catalog=catalog, name="tiny")
