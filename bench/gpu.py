"""The GPU check: every torch model on ``--device cuda`` beside the CPU, then the default models
trained at ml-32m's shape on the GPU. One short script for a machine with a CUDA GPU:

    MOVIEREC_DATA=../shared/data python bench/gpu.py              # a few minutes on one GPU
    MOVIEREC_DATA=../shared/data python bench/gpu.py --no-scale   # the ml-latest-small part only

Part 1, ml-latest-small (as ``movierec evaluate``: random 80/20 split for rating models, per-user
80/20 for ranking models, seed 42): each model that takes a ``device`` is fitted on cuda and on
cpu; fit seconds and the metric (RMSE, or NDCG@10) for both. They should agree within the noise
of the seeded draws, which differ between the devices' generators (bayesfm, bayesmf, seed).
Part 2: ``movierec train --device cuda`` on the 32M-rating release that ``bench/scale.py`` caches
(generated when missing): wall and CPU seconds, peak RSS, as scale.py prints them.
Exits with status 2 and one line when no CUDA GPU is visible.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path


def fit_and_measure(name: str, device: str, splits) -> tuple[float, str]:
    """Fit seconds (synchronized) and the held-out metric of one model on one device."""
    import torch

    from movierec.models import make_model
    from movierec.recommend.training import evaluate_model

    model = make_model(name, device=device)
    split = splits[model.kind]
    start = time.perf_counter()
    model.fit(split.train)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    metrics = evaluate_model(model, split.train, split.test)
    metric = f"RMSE {metrics['rmse']:.4f}" if model.kind == "rating" else f"NDCG@10 {metrics['ndcg@10']:.4f}"
    return seconds, metric


def small(models: list[str], devices: list[str]) -> None:
    import movierec
    from movierec.eval.splits import random_holdout, user_holdout

    data = movierec.load("ml-latest-small")
    splits = {"rating": random_holdout(data, 0.2, seed=42), "ranking": user_holdout(data, 0.2, seed=42)}
    print(f"{'model':<10}" + "".join(f" {d + ' fit':>9} {d + ' metric':>16}" for d in devices), flush=True)
    for name in models:
        cells = [fit_and_measure(name, device, splits) for device in devices]
        print(f"{name:<10}" + "".join(f" {s:8.2f}s {m:>16}" for s, m in cells), flush=True)


def scale(cache: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from scale import SIZES, cli, line, release, run_stage

    folder, _ = release(cache, "32M", SIZES["32M"])
    work = cache / "32M-cuda"
    work.mkdir(parents=True, exist_ok=True)
    argv = cli("train", "-d", str(folder), "-o", str(work / "model"), "--force", "--device", "cuda")
    row = run_stage(argv, work / "train.log")
    row["log"] = str(work / "train.log")
    print(line("32M", "train cuda", row), flush=True)


def main() -> None:
    from platformdirs import user_cache_dir

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="mf,bayesfm,seed,ials,ease,hybrid", help="comma-separated torch models")
    parser.add_argument("--devices", default="cuda,cpu", help="compared side by side (cpu alone: a dry run)")
    parser.add_argument("--no-scale", action="store_true", help="skip the 32M training")
    parser.add_argument("--cache-dir", type=Path, default=Path(user_cache_dir("movierec")) / "scale")
    args = parser.parse_args()
    devices = [d for d in args.devices.split(",") if d]
    import torch

    if "cuda" in devices and not torch.cuda.is_available():
        print("no CUDA GPU is visible to torch (torch.cuda.is_available() is False): run this on a GPU machine")
        sys.exit(2)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"GPU: {gpu}   torch {torch.__version__}   cores: {os.cpu_count()}", flush=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Ss]parse.*", category=UserWarning)
        small([m for m in args.models.split(",") if m], devices)
    if not args.no_scale and "cuda" in devices:
        scale(args.cache_dir)


if __name__ == "__main__":
    main()
