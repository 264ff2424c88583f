"""``movierec recommend --engine spark``: every user's top-n scored on the cluster, as Parquet.

The movie side of the model (factors, biases: the arrays not indexed by user) is broadcast
once to every executor; users travel as rows with their own arrays (``user_*``) and the
movies they rated. Each executor rebuilds the model for its block of users and scores it with
the model's own ``score_users``, masks rated movies and keeps the top n with the same helpers
as :meth:`Recommender.recommend_batch`, so both engines rank alike. The output is a folder of
Parquet part files (userId, rank, movieId, score), one per partition of users.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import ModelError
from ..recommend.artifact import Artifact
from .session import spark_errors

USERS_PER_PARTITION = 20_000  # users per Spark task: a block of scores stays ~ 20k x movies floats / 8


def _user_arrays(model) -> list[str]:
    state = model.get_state()
    names = [k for k in model.state_attrs if k.startswith("user_")]
    if not names or any(np.asarray(state[k]).shape[:1] != (model.n_users,) for k in names):
        raise ModelError(
            f"{model.name} cannot be scored on Spark (its state is not per-user arrays plus movie arrays): "
            "use movierec recommend without --engine spark"
        )
    return names


def recommend_all(spark: Any, artifact: Artifact, n: int, output: str, batch: int = 1024) -> int:
    """Write the top ``n`` unseen movies of every user to the Parquet folder ``output``; returns the row count."""
    import pyarrow as pa
    from pyspark.sql.types import FloatType, IntegerType, LongType, StructField, StructType

    model = artifact.ranking if artifact.ranking is not None else artifact.rating
    per_user = _user_arrays(model)
    state = model.get_state()
    shared = {k: np.asarray(v) for k, v in state.items() if k not in per_user}
    seen = artifact.seen
    columns = {
        "userId": pa.array(artifact.user_vocab.ids.astype(np.int64)),
        "seen": pa.ListArray.from_arrays(pa.array(seen.indptr.astype(np.int32)), pa.array(seen.indices.astype(np.int32))),
    }
    for name in per_user:
        values = np.asarray(state[name], np.float32).reshape(model.n_users, -1)
        columns[name] = pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), values.shape[1])
    dims = {k: np.asarray(state[k]).ndim for k in per_user}
    spec = (model.name, model.get_params(), shared, dims, artifact.movie_vocab.ids.astype(np.int64), int(n), batch)
    schema = StructType([
        StructField("userId", LongType(), False), StructField("rank", IntegerType(), False),
        StructField("movieId", LongType(), False), StructField("score", FloatType(), False),
    ])  # fmt: skip
    n_parts = max(1, -(-len(artifact.user_vocab) // USERS_PER_PARTITION))
    with spark_errors(f"scoring every user and writing {output}"):
        shipped = spark.sparkContext.broadcast(spec)
        users = spark.createDataFrame(pa.table(columns)).repartition(n_parts)
        users.mapInArrow(lambda batches: _score(batches, shipped.value), schema).write.parquet(output)
        return spark.read.parquet(output).count()


def _score(batches: Iterator[Any], spec: tuple) -> Iterator[Any]:
    """Runs on the executors: top-n rows of each block of users."""
    import pyarrow as pa

    from ..eval.metrics import top_k
    from ..models import model_class

    name, params, shared, per_user, movie_ids, n, batch = spec
    cls = model_class(name)
    for record in batches:
        for start in range(0, record.num_rows, batch):
            part = record.slice(start, batch)
            rows = part.num_rows
            state = dict(shared, n_users=np.asarray(rows, np.int64))
            for key in per_user:
                column = part.column(key)
                values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
                state[key] = values.reshape(rows, -1) if per_user[key] == 2 else values
            scores = np.array(cls.from_state(params, state).score_users(np.arange(rows)), np.float32, copy=True)
            lists = part.column("seen")
            offsets = lists.offsets.to_numpy()
            seen = lists.flatten().to_numpy()
            scores[np.repeat(np.arange(rows), np.diff(offsets)), seen] = -np.inf  # no movie the user rated
            top = top_k(scores, n)
            best = np.take_along_axis(scores, top, axis=1)
            keep = np.isfinite(best)
            users = np.broadcast_to(part.column("userId").to_numpy()[:, None], top.shape)
            ranks = np.broadcast_to(np.arange(1, top.shape[1] + 1, dtype=np.int32), top.shape)
            yield pa.RecordBatch.from_pydict({
                "userId": users[keep], "rank": ranks[keep], "movieId": movie_ids[top][keep], "score": best[keep],
            })  # fmt: skip
