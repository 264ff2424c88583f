"""``--engine spark`` of ``train``, ``recommend`` and ``evaluate``: the options they share, and
the terminal side (progress, messages) of :mod:`movierec.spark`."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..models import AUTO, DEFAULT_RANKING
from .output import bold, progress, say, status

ENGINES = ("local", "spark")
EngineOption = Annotated[
    str,
    typer.Option(
        help="local (movierec's own trainers) or spark (Spark MLlib ALS, for mf and ials; "
        "needs pip install 'movierec\\[spark]' and Java 17).",
    ),
]
MasterOption = Annotated[
    str,
    typer.Option(help="With --engine spark: local[N], local-cluster[WORKERS,CORES,MB], spark://HOST:PORT or yarn."),
]
SparkConfOption = Annotated[
    list[str] | None,
    typer.Option(
        "--spark-conf",
        help="With --engine spark: a Spark setting KEY=VALUE, repeatable (e.g. spark.executor.memory=8g; on a "
        "cluster spark.checkpoint.dir=hdfs:///tmp/ckpt).",
    ),
]
DEFAULT_MASTER = "local[*]"


def check_engine(engine: str) -> bool:
    """True for spark; an unknown engine is one clear line."""
    engine = engine.strip().lower()
    if engine not in ENGINES:
        raise ValueError(f"--engine {engine!r}: expected local or spark")
    return engine == "spark"


ON_SPARK = {AUTO: "mf", DEFAULT_RANKING: "ials"}  # the local defaults' Spark MLlib counterparts


def spark_models(chosen: dict[str, str], feedback: Path | None) -> dict[str, str]:
    """The models of ``train --engine spark``: mf and ials (the local defaults, auto and hybrid,
    become mf and ials); anything else is one clear line."""
    from ..spark.als import SPARK_MODELS

    if feedback is not None:
        raise ValueError("--feedback is not available with --engine spark: merge the feedback into the ratings first")
    chosen = {kind: ON_SPARK.get(name, name) for kind, name in chosen.items()}
    for name in chosen.values():
        if name not in SPARK_MODELS:
            raise ValueError(f"--engine spark trains {' and '.join(SPARK_MODELS)} (Spark MLlib ALS); {name} needs --engine local")
    return chosen


@contextmanager
def session(master: str, conf: list[str] | None):
    """A Spark session for one command (the JVM's own start-up lines go to stderr)."""
    from ..spark.session import parse_conf, spark_session

    # PySpark 4 warns about pandas 3 on every DataFrame; movierec's Spark paths exchange Arrow tables.
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    with spark_session(master, parse_conf(conf)) as spark:
        yield spark


class SparkBars:
    """Progress of a Spark training: one bar per model, fed by Spark's status tracker."""

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self.progress = progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
        )
        self.task = None

    @contextmanager
    def running(self):
        from ..spark.session import watch

        with self.progress, watch(self.spark, self.stages):
            yield self

    def start(self, kind: str, model) -> None:
        if self.task is not None:
            self.progress.update(self.task, total=1, completed=1)
        self.task = self.progress.add_task(f"{kind}: {model.name} (Spark ALS)", total=None, info="")

    def stages(self, p) -> None:
        if self.task is not None:
            running = f", tasks {p.tasks_done}/{p.tasks_total}" if p.tasks_total else ""
            self.progress.update(self.task, info=f"{p.stages_done} Spark stages done{running}")

    def event(self, e) -> None:
        if self.task is not None and e.validation is not None:
            self.progress.update(self.task, info=f"step {e.epoch}/{e.n_epochs}  val_rmse {e.validation:.4f}")


def train(
    output: Path, data: str, data_dir: Path | None, chosen: dict[str, str], params: dict[str, dict[str, Any]],
    holdout: float | None, seed: int | None, master: str, conf: list[str] | None,
) -> dict[str, Any]:
    """``movierec train --engine spark``: returns the saved model's info for the metrics table."""
    from ..recommend.artifact import save
    from ..recommend.recommender import Recommender
    from ..spark.train import train as spark_train

    with session(master, conf) as spark:
        bars = SparkBars(spark)
        with bars.running():
            artifact = spark_train(
                spark, data, rating=chosen.get("rating"), ranking=chosen.get("ranking"),
                rating_params=params.get("rating"), ranking_params=params.get("ranking"), holdout=holdout,
                split_seed=42 if seed is None else seed, data_dir=data_dir, master=master,
                callback=bars.event, on_start=bars.start,
            )
    save(artifact, output)
    return Recommender(artifact).info


def recommend_all(model: Path, users: str, n: int, output: Path | None, master: str, conf: list[str] | None) -> None:
    """``movierec recommend --engine spark --users all -o recs.parquet``: scored on the cluster."""
    from ..errors import DataError
    from ..recommend.recommender import Recommender
    from ..spark.score import recommend_all as score_all

    if users.strip().lower() != "all":
        raise DataError("--engine spark scores every user: pass --users all (and -o FOLDER for the Parquet output)")
    if output is None:
        raise DataError("--engine spark writes partitioned Parquet: pass -o FOLDER, e.g. -o recs.parquet")
    rec = Recommender.load(model)
    with session(master, conf) as spark:
        with status("Scoring every user on Spark…"):
            rows = score_all(spark, rec.artifact, n, str(output))
    say(f"Wrote {rows:,} recommendations for {len(rec.user_vocab):,} users to {bold(output)} (Parquet).")
