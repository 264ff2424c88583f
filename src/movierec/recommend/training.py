"""Training a Recommender: fit the rating and ranking models, measure them, bundle the artifact."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import scipy.sparse as sp

from ..data.dataset import Dataset
from ..eval.evaluation import rating_scores, scoring_device
from ..eval.metrics import ranking_metrics
from ..eval.splits import Split, random_holdout, user_holdout
from ..models import AUTO, MOVIES, Model, TrainingEvent, auto_rating, make_model
from .artifact import Artifact
from .similarity import CoRatings, NeighbourBuild, Neighbours


def train_artifact(
    train: Dataset,
    rating: str | Model | None,
    ranking: str | Model | None,
    callback: Callable[[TrainingEvent], None] | None = None,
    *,
    rating_params: Mapping[str, Any] | None = None,
    ranking_params: Mapping[str, Any] | None = None,
    holdout: float | None = None,
    split_seed: int = 42,
    on_start: Callable[[str, Model | None], None] | None = None,
) -> Artifact:
    """What :meth:`Recommender.fit` does (see there): the fitted models, their held-out metrics,
    training notes and the movies' neighbours, bundled with ``train``'s vocabularies. The
    neighbours are built on a thread of their own while the models train (each stage leaves a
    core partly idle); when the models are done, ``on_start("similar movies", None)`` and
    ``callback`` events whose ``metric`` is ``MOVIES`` (movies done of all) report the rest.
    ``rating="auto"`` picks the rating model for ``train``'s size (``models.auto_rating``) and
    notes why."""
    if rating is None and ranking is None:
        raise ValueError("Recommender.fit needs a rating model, a ranking model or both; got neither")
    # Series found on this thread (a Python loop over titles must not hold the GIL on a starved
    # thread), and once: the hybrid ranker trained on ``train`` uses the same ones
    side = _SideNeighbours(train, train.movie_series)
    try:  # cancel: stops the build when anything ended early (a no-op once it is done)
        fitted, metrics, notes, stopped = _fit_models(
            train, rating, ranking, callback, rating_params, ranking_params, holdout, split_seed, on_start
        )
        neighbours = None
        if not stopped:
            if on_start is not None:
                on_start("similar movies", None)
            progress = None
            if callback is not None:
                progress = lambda done, total: callback(TrainingEvent(done, total, 0.0, metric=MOVIES))  # noqa: E731
            try:
                neighbours = side.result(progress)
            except KeyboardInterrupt:  # keep the models; the Recommender computes neighbours when asked
                stopped = True
    finally:
        side.cancel()
    notes["interrupted"] = stopped
    return Artifact.from_dataset(
        train,
        rating=fitted.get("rating"),
        ranking=fitted.get("ranking"),
        neighbours=neighbours,
        metrics=metrics,
        training=notes,
    )


def _fit_models(train, rating, ranking, callback, rating_params, ranking_params, holdout, split_seed, on_start):
    """The rating and ranking models in turn: (fitted, metrics, notes, stopped by Ctrl-C)."""
    fitted: dict[str, Model] = {}
    metrics: dict[str, Any] = {}
    notes: dict[str, Any] = {"holdout": holdout, "split_seed": split_seed if holdout else None}
    stopped = False
    chosen = []  # (kind, model, note): both made and checked before either trains
    for kind, spec, params in (("rating", rating, rating_params), ("ranking", ranking, ranking_params)):
        if spec is None:
            continue
        chosen_by_size = None
        if kind == "rating" and spec == AUTO:
            spec, chosen_by_size = auto_rating(train.n_ratings)
        model = make_model(spec, **(params or {})) if isinstance(spec, str) else spec
        if model.kind != kind:
            raise ValueError(f"{model.name} is a {model.kind} model; pass it as {model.kind}=, not {kind}=")
        model._check_config()  # bad hyperparameters: one clear error before any training
        chosen.append((kind, model, chosen_by_size))
    for kind, model, chosen_by_size in chosen:
        if stopped:
            notes[kind] = {"model": model.name, "skipped": "training was interrupted (Ctrl-C)"}
            continue
        split = None
        if holdout:
            split = (random_holdout if kind == "rating" else user_holdout)(train, holdout, split_seed)
        if on_start is not None:
            on_start(kind, model)
        start = time.perf_counter()
        try:
            model.fit(split.train if split else train, callback)
        except KeyboardInterrupt:  # the model had no state worth keeping yet
            stopped = True
            notes[kind] = {"model": model.name, "skipped": "training was interrupted (Ctrl-C) before a usable state"}
            continue
        notes[kind] = {"model": model.name, "seconds": round(time.perf_counter() - start, 3)}
        if chosen_by_size:
            notes[kind]["note"] = chosen_by_size
        fitted[kind] = model
        stopped = stopped or model.interrupted
        if split is not None:
            try:
                metrics[kind] = evaluate_model(model, split.train, split.test)
            except KeyboardInterrupt:
                stopped = True
    if not fitted:
        raise KeyboardInterrupt
    return fitted, metrics, notes, stopped


class _Cancelled(Exception):
    pass


def yield_cpu() -> None:
    """Lower the calling thread to the lowest CPU priority (nice 19) for good, on Linux, where
    priority is per thread; elsewhere it would lower the whole process, so nothing changes
    there. Beside another thread's OpenMP work, an equal-priority thread preempts its workers
    and every parallel region waits for the slowest; at nice 19 it runs only when they sleep."""
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except OSError:  # not allowed here: run at the usual priority
            pass


class _SideNeighbours:
    """The neighbours, built on a thread of their own from the start, at the lowest CPU priority
    (:func:`yield_cpu`): on ml-32m's shape the models leave ~130 CPU-seconds of the second core
    idle, most of what the neighbours need. (At equal priority the build took its share from
    the models' OpenMP regions instead, which then waited for their slowest thread: train
    306 s.) ``result``, called once the models are done, joins in on the calling thread at the
    usual priority and reports the progress there (callbacks never run on two threads);
    ``cancel`` stops the side thread after the block in hand."""

    def __init__(self, train: Dataset, series: sp.csr_matrix):
        self._train, self._series = train, series
        self._stop = threading.Event()
        self._job: NeighbourBuild | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._build, daemon=True, name="movierec-neighbours")
        self._thread.start()

    def _after_block(self) -> None:
        if self._stop.is_set():
            raise _Cancelled

    def _build(self) -> None:
        try:
            yield_cpu()  # this thread only; the co-ratings' who-rated-what matrix is dropped once built
            self._job = NeighbourBuild(CoRatings(self._train.matrix(), self._series))
            self._job.work(self._after_block)
        except _Cancelled:
            pass
        except BaseException as error:  # re-raised by result()
            self._error = error

    def result(self, progress: Callable[[int, int], None] | None) -> Neighbours | None:
        """The neighbours, taking the blocks left on this thread too and reporting progress;
        re-raises the build's error."""
        reported = [0]

        def report() -> None:
            job = self._job
            if progress is not None and job is not None and job.done > reported[0]:
                reported[0] = job.done
                progress(job.done, job.n_movies)

        while self._job is None and self._thread.is_alive():  # the co-ratings are still being counted
            self._thread.join(timeout=0.1)
        if self._job is not None:
            self._job.work(report)
        while self._thread.is_alive():  # the side thread's last block
            self._thread.join(timeout=0.1)
        report()
        if self._error is not None:
            raise self._error
        return None if self._job is None else self._job.result()

    def cancel(self) -> None:
        self._stop.set()
        self._thread.join()


def evaluate_model(model: Model, train: Dataset, test: Dataset, k: int = 10) -> dict[str, float]:
    """Held-out metrics of a fitted model, as ``movierec evaluate`` measures them: RMSE/MAE
    (with the count of test pairs answered by fallback) for rating models, top-``k`` ranking
    metrics for ranking models."""
    if model.kind == "rating":
        scores, unknown = rating_scores(model, Split(train, test))
        return {**scores, "test_ratings": test.n_ratings, "unknown": unknown}
    return ranking_metrics(model, train, test, k=k, device=scoring_device(model)).as_dict()
