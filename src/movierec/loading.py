"""Turn ``--data`` (a release name, zip, folder or ratings CSV) into a Dataset.

FOUNDATION VERSION: reads CSV releases (ml-latest*, ml-20m/25m/32m) from a zip or folder.
The data-layer work extends this to every release format, downloads and bad-input checks.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from platformdirs import user_cache_dir

from .catalog import Catalog
from .dataset import Dataset
from .errors import DataError

DEFAULT_RELEASE = "ml-latest-small"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Folder holding downloaded releases: ``override``, else $MOVIEREC_DATA, else the user cache."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("MOVIEREC_DATA")
    return Path(env).expanduser() if env else Path(user_cache_dir("movierec"))


def load(data: str | os.PathLike = DEFAULT_RELEASE, data_dir_override: str | os.PathLike | None = None) -> Dataset:
    path = Path(data)
    if not path.exists():
        candidate = data_dir(data_dir_override) / f"{data}.zip"
        if not candidate.exists():
            raise DataError(f"no release or file named {data!r}: expected {candidate}")
        path = candidate
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            root = path.stem
            ratings = pd.read_csv(io.BytesIO(zf.read(f"{root}/ratings.csv")), engine="pyarrow")
            movies = pd.read_csv(io.BytesIO(zf.read(f"{root}/movies.csv")), engine="pyarrow")
        name = root
    else:
        ratings = pd.read_csv(path / "ratings.csv", engine="pyarrow")
        movies = pd.read_csv(path / "movies.csv", engine="pyarrow")
        name = path.name
    catalog = Catalog.from_frame(movies["movieId"], movies["title"], movies["genres"])
    return Dataset.from_ids(
        ratings["userId"].to_numpy(np.int64),
        ratings["movieId"].to_numpy(np.int64),
        ratings["rating"].to_numpy(np.float32),
        ratings["timestamp"].to_numpy(np.int64),
        catalog=catalog,
        name=name,
        source=str(path),
    )
