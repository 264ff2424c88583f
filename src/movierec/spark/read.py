"""Ratings as a Spark DataFrame, and the same ratings checked on the driver as a Dataset.

Spark reads a ratings CSV (userId,movieId,rating[,timestamp] header), Parquet with those
columns, or a release folder holding ``ratings.csv`` or ``ratings.parquet`` (and
``movies.csv``), at any path the cluster reads (local, ``hdfs://``, ``s3a://``...). Anything
else movierec reads (a release name, a release zip, the ``.dat`` and ``u.data`` layouts) is
loaded on the driver and handed to Spark.

The model folder holds every training rating (to exclude seen movies and explain
recommendations), so the driver collects the four columns anyway, about 20 bytes a rating;
they go through movierec's own checks (ids, rating scale, duplicate pairs, catalog), so a
file means the same thing to both engines.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.dataset import Dataset
from ..data.loading import from_raw, load
from ..data.readers import RawMovies, RawRatings, read_movies_csv
from ..data.releases import by_folder
from ..errors import DataError, DataWarning
from .als import check_ids, frame_of
from .session import spark_errors

_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://")
COLUMNS = ("userId", "movieId", "rating")


@dataclass
class Ratings:
    """The ratings on the cluster, as (u, m, r) = (userId, movieId, stars), and on the driver."""

    frame: Any  # pyspark DataFrame, persisted
    dataset: Dataset


def _spark_source(data: str) -> tuple[str, str, str | None] | None:
    """(ratings path, format, movies path or None) when Spark reads ``data`` itself, else None."""
    remote = bool(_SCHEME.match(data))
    path = Path(data).expanduser()
    if not remote and not path.exists():
        return None
    base = data.rstrip("/")
    lower = base.lower()
    if lower.endswith(".csv"):
        return base, "csv", None
    if lower.endswith(".parquet"):
        return base, "parquet", None
    if remote:  # a folder: a release folder or a Parquet dataset
        return None if lower.endswith(".zip") else (base, "folder", f"{base}/movies.csv")
    if path.is_dir():
        for name, fmt in (("ratings.csv", "csv"), ("ratings.parquet", "parquet")):
            if (path / name).exists():
                movies = path / "movies.csv"
                return str(path / name), fmt, str(movies) if movies.is_file() else None
        if any(path.glob("*.parquet")):
            return str(path), "parquet", None
    return None


def read_ratings(spark: Any, data: str, data_dir: Path | None = None) -> Ratings:
    """The ratings of ``data`` (see the module docstring), checked, on the cluster and the driver."""
    source = _spark_source(str(data))
    if source is None:
        dataset = load(data, data_dir)
        users, movies = dataset.user_vocab.ids, dataset.movie_vocab.ids
        for ids, column in ((users, "userId"), (movies, "movieId")):
            check_ids(int(ids.min()), int(ids.max()), column, str(data))
        frame = frame_of(spark, users[dataset.users], movies[dataset.movies], dataset.ratings)
        return Ratings(frame.persist(), dataset)
    path, fmt, movies_path = source
    with spark_errors(f"reading {path}"):
        frame = _typed(_read(spark, path, fmt), path).persist()
        table = frame.toArrow()
        raw = RawRatings(
            table.column("u").to_numpy(), table.column("m").to_numpy(), table.column("r").to_numpy().astype(np.float32),
            table.column("t").to_numpy(), path, 2 if fmt == "csv" else 1,
        )
        raw_movies = _read_movies(spark, movies_path) if movies_path else None
    release = by_folder(Path(path).parent.name) if fmt != "folder" else by_folder(Path(path).name)
    folder = Path(path).parent.name if Path(path).name.startswith("ratings.") else Path(path).stem
    dataset = from_raw(raw, release.name if release else folder, release.rating_scale if release else None, path, raw_movies)
    frame = frame.select("u", "m", "r", "t")
    if dataset.n_ratings < raw.ratings.size:  # duplicate pairs: keep the latest, as the driver did
        from pyspark.sql import functions as F

        frame = frame.groupBy("u", "m").agg(F.max_by("r", "t").alias("r"), F.max("t").alias("t")).persist()
    return Ratings(frame.select("u", "m", "r"), dataset)


def _read(spark: Any, path: str, fmt: str):
    if fmt == "folder":  # a remote folder: its ratings.csv, else Parquet files
        try:
            return _read(spark, f"{path}/ratings.csv", "csv")
        except Exception:
            return _read(spark, path, "parquet")
    if fmt == "csv":
        return spark.read.csv(path, header=True, inferSchema=False, mode="FAILFAST")
    return spark.read.parquet(path)


def _typed(frame, path: str):
    """(u, m, r, t) columns with Spark's types, or a DataError naming the bad column and row."""
    from pyspark.sql import functions as F

    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: expected columns userId,movieId,rating[,timestamp], found {','.join(frame.columns)!r} "
            f"(missing {', '.join(missing)}); rename them to match"
        )
    ts = F.col("timestamp").try_cast("long") if "timestamp" in frame.columns else F.lit(0).cast("long")
    typed = frame.select(
        F.col("userId").try_cast("long").alias("u"), F.col("movieId").try_cast("long").alias("m"),
        F.col("rating").try_cast("double").alias("r"), ts.alias("t"), *[F.col(c).alias(f"_{c}") for c in COLUMNS],
    )
    checks = typed.agg(
        F.count(F.lit(1)).alias("n"),
        *[F.sum(F.col(c).isNull().cast("long")).alias(f"bad_{c}") for c in ("u", "m", "r", "t")],
        F.min("u"), F.max("u"), F.min("m"), F.max("m"),
    ).first()
    if checks["n"] == 0:
        raise DataError(f"{path} holds no ratings: expected a userId,movieId,rating[,timestamp] header and one rating per line")
    for column, name in (("u", "userId"), ("m", "movieId"), ("r", "rating"), ("t", "timestamp")):
        if checks[f"bad_{column}"]:
            row = typed.filter(F.col(column).isNull()).first()
            value = row[f"_{name}"] if name in COLUMNS else "?"
            raise DataError(f"{path}: {checks[f'bad_{column}']:,} row(s) with a {name} that is not a number (first: {value!r})")
    check_ids(checks["min(u)"], checks["max(u)"], "userId", path)
    check_ids(checks["min(m)"], checks["max(m)"], "movieId", path)
    return typed.select(F.col("u").cast("int"), F.col("m").cast("int"), F.col("r").cast("float"), "t")


def _read_movies(spark: Any, path: str) -> RawMovies | None:
    """movies.csv (small) read whole through Spark, so it may live wherever the ratings do."""
    try:
        rows = spark.read.text(path, wholetext=True).collect()
    except Exception:  # no movies file beside the ratings: placeholder titles
        warnings.warn(f"no {path}: movies get placeholder titles and no genres", DataWarning, stacklevel=2)
        return None
    text = rows[0][0] if rows else ""
    return read_movies_csv(lambda: io.BytesIO(text.encode("utf-8")), path)
