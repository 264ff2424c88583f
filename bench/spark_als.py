"""Spark ALS cost per iteration on a local cluster (separate executor JVMs), for SCALING.md.

    python bench/spark_als.py                                  # 1M, 4M, 16M ratings
    python bench/spark_als.py --ratings 1000000 --master "local-cluster[2,1,1024]"

For each size it writes ml-32m-shaped synthetic ratings (users and movies scaled with the
count) as Parquet, reads them on Spark, fits ``mf``'s ALS once untimed (the JVM's warm-up: the
first fit of a session is the slowest, whatever its length), then twice timed, with ``--short``
and ``--long`` iterations: the difference of the two wall times over the difference of
iterations (times the ALS fits per ``mf`` fit, ``BIAS_ROUNDS``) is the time of one ALS
iteration, without the fixed costs (reading, biases, collecting factors) that both fits pay. Prints one JSON line per size, with the load
average (the machine may be shared: figures under load are pessimistic).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from movierec.data.synthetic import generate
from movierec.models.mf import BiasedMFConfig
from movierec.spark.als import BIAS_ROUNDS, fit_mf
from movierec.spark.session import spark_session

ML32M = (200_948, 87_585, 32_000_204)  # users, movies, ratings of ml-32m


def write_parquet(n_ratings: int, folder: Path) -> Path:
    users, movies, total = ML32M
    share = n_ratings / total
    syn = generate(n_users=max(200, int(users * share)), n_movies=max(500, int(movies * share**0.5)), n_ratings=n_ratings, seed=0)
    d = syn.dataset
    path = folder / f"ratings-{n_ratings}.parquet"
    table = pa.table({
        "userId": d.user_vocab.ids[d.users].astype(np.int32), "movieId": d.movie_vocab.ids[d.movies].astype(np.int32),
        "rating": d.ratings, "timestamp": d.timestamps,
    })  # fmt: skip
    pq.write_table(table, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, nargs="+", default=[1_000_000, 4_000_000, 16_000_000])
    parser.add_argument("--master", default="local-cluster[2,1,1024]")
    parser.add_argument("--factors", type=int, default=32)
    parser.add_argument("--short", type=int, default=2)
    parser.add_argument("--long", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="movierec-bench-") as tmp, spark_session(args.master) as spark:
        from pyspark.sql import functions as F

        for n in args.ratings:
            path = write_parquet(n, Path(tmp))
            frame = spark.read.parquet(str(path)).select(
                F.col("userId").alias("u"), F.col("movieId").alias("m"), F.col("rating").alias("r")
            ).persist()
            frame.count()
            ids = frame.agg(F.max("u"), F.max("m")).first()
            users, movies = np.arange(ids[0] + 1), np.arange(ids[1] + 1)
            walls = {}
            fit_mf(frame, BiasedMFConfig(factors=args.factors, epochs=1, validation=0.0), users, movies)  # warm-up
            for iterations in (args.short, args.long):
                config = BiasedMFConfig(factors=args.factors, epochs=iterations, validation=0.0)
                start = time.perf_counter()
                fit_mf(frame, config, users, movies)
                walls[iterations] = time.perf_counter() - start
            frame.unpersist()
            per_iteration = (walls[args.long] - walls[args.short]) / (BIAS_ROUNDS * (args.long - args.short))
            print(json.dumps({
                "ratings": n, "master": args.master, "factors": args.factors,
                "fit_s": {str(k): round(v, 1) for k, v in walls.items()},
                "s_per_iteration": round(per_iteration, 2), "loadavg_1min": round(os.getloadavg()[0], 1),
            }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
