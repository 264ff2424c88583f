"""What several benchmark scripts share (they run as ``python bench/X.py``, so this imports as ``support``)."""

from __future__ import annotations

import time
import warnings
from pathlib import Path


def ensure_model(model: Path | None, workdir: Path) -> Path:
    """``model`` when given, else the default models trained on all of ml-latest-small, saved
    under ``workdir`` (about a minute)."""
    if model is not None:
        return model
    import movierec
    from movierec.recommend.recommender import Recommender

    out = workdir / "model"
    print("training the default models on all of ml-latest-small (no --model given)...", flush=True)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Ss]parse.*", category=UserWarning)
        Recommender.fit(movierec.load("ml-latest-small")).save(out)
    print(f"  trained in {time.perf_counter() - start:.0f} s", flush=True)
    return out


VALIDATION_SEEDS = (7, 8, 9)  # per-user 20% validation splits carved from the test split's training part


def validation_splits(train) -> list:
    """Per-user 80/20 splits of ``train`` (seeds ``VALIDATION_SEEDS``): where defaults are chosen,
    never on the test ratings; their mean evens out the luck of one split."""
    from movierec.eval.splits import user_holdout

    return [user_holdout(train, 0.2, seed=seed) for seed in VALIDATION_SEEDS]


def explored_metrics(model, split, explores, k: int = 10) -> dict:
    """Top-``k`` metrics of a fitted ranking ``model`` on ``split`` for each ``explore``, as the
    Recommender lists them (``explore_top`` over the unseen movies): {explore: RankingMetrics}."""
    import numpy as np

    from movierec.eval.metrics import ranking_metrics, self_information
    from movierec.recommend.novelty import explore_top

    train = split.train
    information = self_information(train.movie_counts(), train.n_users)
    seen = train.matrix(np.ones(train.n_ratings, np.float32))
    out = {}
    for explore in explores:
        def ranked(rows, explore=explore):  # the explored top k as scores k..1, the rest -inf
            scores = np.array(model.score_users(rows), np.float32)
            scores[seen[rows].nonzero()] = -np.inf
            top = explore_top(scores, information, k, explore)
            ranks = np.arange(top.shape[1], 0, -1, dtype=np.float32)[None, :]
            listed = np.full_like(scores, -np.inf)
            np.put_along_axis(listed, top, np.where(np.isfinite(np.take_along_axis(scores, top, 1)), ranks, -np.inf), 1)
            return listed

        out[explore] = ranking_metrics(ranked, train, split.test, k=k)
    return out
