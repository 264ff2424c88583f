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
