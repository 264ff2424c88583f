"""Starting Spark for movierec, and turning Spark's failures into one clear MovierecError.

PySpark is optional (``pip install 'movierec[spark]'``) and imported only inside functions of
this package, so the rest of movierec never needs it. Every Spark call of movierec runs under
:func:`spark_session`, which checks Java and the master URL before starting a JVM, sets a
checkpoint directory (without one ALS's lineage grows each iteration until the stack
overflows, and ``checkpointInterval`` is silently ignored), and converts Java and Py4J
exceptions into :class:`~movierec.errors.ModelError` lines.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError, ModelError, MovierecError

DEFAULT_MASTER = "local[*]"
CHECKPOINT_CONF = "spark.checkpoint.dir"  # Spark 4's own key; movierec sets it on the context too
_MASTER = re.compile(
    r"local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|spark://[^\s/]+(:\d+)?(,[^\s/]+(:\d+)?)*|yarn|k8s://\S+"
)
_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""


def is_local(master: str) -> bool:
    """``local[...]`` and ``local-cluster[...]``: every JVM runs on this machine."""
    return master.startswith("local")


def check_master(master: str) -> str:
    """A Spark master URL Spark accepts, else one DataError with the forms it takes."""
    master = master.strip()
    if not _MASTER.fullmatch(master):
        raise DataError(
            f"--spark-master {master!r} is not a Spark master URL: expected local[N], local[*], "
            "local-cluster[WORKERS,CORES,MB], spark://HOST:PORT, yarn or k8s://URL"
        )
    return master


def parse_conf(pairs: list[str] | None) -> dict[str, str]:
    """``--spark-conf key=value`` pairs (e.g. spark.executor.memory=8g) as a dict."""
    conf = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().startswith("spark."):
            raise DataError(f"--spark-conf {pair!r}: expected spark.KEY=VALUE, e.g. --spark-conf spark.executor.memory=8g")
        conf[key.strip()] = value.strip()
    return conf


def _check_java() -> None:
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home) / "bin" / "java" if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "no java on PATH and JAVA_HOME is unset"
        raise ModelError(
            f"--engine spark needs Java 17 or newer, but {where}: install one "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
        )


def _check_reachable(master: str) -> None:
    """A spark:// master that refuses connections fails now, not after Spark's minute of retries."""
    if not master.startswith("spark://"):
        return
    errors = []
    for host_port in master[len("spark://") :].split(","):
        host, _, port = host_port.rpartition(":") if ":" in host_port else (host_port, "", "7077")
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
            return
        except OSError as exc:
            errors.append(f"{host}:{port} ({exc.strerror or exc})")
    raise ModelError(
        f"cannot reach the Spark master {master}: {'; '.join(errors)}; start it (sbin/start-master.sh) "
        "or check --spark-master"
    )


def _import_pyspark():
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError:
        raise ModelError(
            "--engine spark needs PySpark, which is not installed: pip install 'movierec[spark]' (and Java 17)"
        ) from None
    return SparkSession


@contextmanager
def spark_errors(doing: str) -> Iterator[None]:
    """Java, Py4J and PySpark exceptions raised while ``doing`` as one ModelError line."""
    try:
        yield
    except MovierecError:
        raise
    except Exception as exc:
        if not _is_spark_error(exc):
            raise
        raise ModelError(f"Spark failed while {doing}: {first_line(exc)}") from None


def _is_spark_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith(("py4j", "pyspark")) or isinstance(exc, ConnectionError)


def first_line(exc: BaseException) -> str:
    """The informative line of a (possibly Java) exception: no stack trace, no JVM frames."""
    text = str(getattr(exc, "desc", None) or exc).strip()
    raised = re.findall(r"^(\w+(?:Error|Exception): .+)$", text, re.MULTILINE)  # a Python worker's own error
    if "Traceback" in text and raised:
        return raised[-1].strip()[:500]
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("at ", "JVM stacktrace", "Traceback", "---")):
            return line[:500]
    return type(exc).__name__


@contextmanager
def spark_session(master: str = DEFAULT_MASTER, conf: dict[str, str] | None = None) -> Iterator[Any]:
    """A SparkSession on ``master`` with a checkpoint directory, stopped on exit.

    ``conf``: extra Spark settings. ``spark.checkpoint.dir`` (a folder every executor can
    write: HDFS, S3, a shared mount) is required on a cluster; local masters default to a
    temporary folder, removed afterwards. Local masters also run executors' Python with this
    interpreter and this ``PYTHONPATH``, so they import the same movierec.
    """
    master = check_master(master)
    SparkSession = _import_pyspark()
    _check_java()
    _check_reachable(master)
    conf = dict(conf or {})
    scratch = Path(tempfile.mkdtemp(prefix="movierec-spark-"))
    checkpoint = conf.get(CHECKPOINT_CONF)
    if checkpoint is None:
        if not is_local(master):
            shutil.rmtree(scratch, ignore_errors=True)
            raise DataError(
                f"training on {master} needs a checkpoint folder every executor can write: "
                f"--spark-conf {CHECKPOINT_CONF}=hdfs:///tmp/movierec-checkpoints (or s3a://..., a shared mount)"
            )
        checkpoint = str(scratch / "checkpoints")
    (scratch / "log4j2.properties").write_text(_LOG4J, encoding="utf-8")
    settings = {
        "spark.app.name": "movierec",
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.enabled": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # The driver collects every rating (the model folder holds them) and the factors, by design.
        "spark.driver.maxResultSize": "0",
        "spark.local.dir": str(scratch / "local"),
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{scratch / 'log4j2.properties'}",
        "spark.executor.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{scratch / 'log4j2.properties'}",
        CHECKPOINT_CONF: checkpoint,
    }
    if is_local(master):
        # local-cluster executors start Python workers from PYSPARK_PYTHON, not spark.pyspark.python.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        settings["spark.executorEnv.PYSPARK_PYTHON"] = sys.executable
        settings["spark.pyspark.python"] = sys.executable
        settings["spark.pyspark.driver.python"] = sys.executable
        if os.environ.get("PYTHONPATH"):
            settings["spark.executorEnv.PYTHONPATH"] = os.environ["PYTHONPATH"]
    settings.update(conf)
    builder = SparkSession.builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = None
    try:
        with spark_errors(f"starting Spark on {master}"):
            spark = builder.getOrCreate()
            spark.sparkContext.setLogLevel("ERROR")
            spark.sparkContext.setCheckpointDir(checkpoint)
        yield spark
    finally:
        if spark is not None:
            spark.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@dataclass(frozen=True)
class StageProgress:
    """Spark's progress as its status tracker reports it: finished stages, and the tasks of the
    running ones (ALS runs a few stages per iteration, so stages count its progress)."""

    stages_done: int
    tasks_done: int
    tasks_total: int


@contextmanager
def watch(spark: Any, callback: Callable[[StageProgress], None] | None, interval: float = 0.5) -> Iterator[None]:
    """Calls ``callback`` every ``interval`` seconds from a thread while the block runs."""
    if callback is None:
        yield
        return
    tracker = spark.sparkContext.statusTracker()
    stop = threading.Event()
    seen_done: set[int] = set()

    def poll() -> None:
        while not stop.wait(interval):
            try:
                done = total = 0
                for stage in tracker.getActiveStageIds():
                    info = tracker.getStageInfo(stage)
                    if info is not None:
                        done += info.numCompletedTasks
                        total += info.numTasks
                for job in tracker.getJobIdsForGroup(None):
                    info = tracker.getJobInfo(job)
                    if info is not None and info.status == "SUCCEEDED":
                        seen_done.update(info.stageIds)
                callback(StageProgress(len(seen_done), done, total))
            except Exception:  # the context is stopping: progress is best-effort
                return

    thread = threading.Thread(target=poll, name="movierec-spark-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
