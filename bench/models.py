"""Models benchmark: movierec's models next to the baselines, and next to quoted peer figures.

    python bench/models.py                         # every registered model on ml-latest-small
    python bench/models.py --models mf,ials,ease   # a few
    python bench/models.py --scale                 # plus the default models on 25M generated ratings
    python bench/models.py --no-small --scale --scale-ratings 5000000   # a quicker scale run only

Accuracy (issue "Models that beat every peer on held-out MovieLens"): on ml-latest-small, rating
metrics (RMSE, MAE) on a random 80/20 holdout and ranking metrics (NDCG@10, precision, recall,
hit rate, coverage) on a per-user 80/20 holdout, both seed 42, measured by
``movierec.eval.evaluation.evaluate`` exactly as ``movierec evaluate`` does. Rating models are ranked
by their predicted ratings. Scale: the default rating and ranking models fitted on a generated
MovieLens-shaped dataset (25M ratings, 162k users, 60k movies, like ml-25m): fit seconds and peak RSS.

Every model runs in its own fresh process, so its peak RSS is its own (the interpreter, imports
and the dataset included; the "data only" row shows that floor). The parent stays small and never
loads data, so children do not inherit a large peak from it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from rich.console import Console
from rich.table import Table

# Figures quoted in the issue for the same protocols; not measured here.
PEER_RMSE = {
    "Surprise SVD": 0.879,
    "Surprise SVD++": 0.869,
    "Surprise KNNBaseline": 0.850,
    "LensKit biased MF": 0.851,
    "Spark ALS": 0.884,
}
PEER_NDCG = {"Surprise SVD": 0.067, "popularity": 0.149, "implicit ALS": 0.220, "EASE": 0.290}

WORKER = r"""
import json, resource, sys, time, warnings
args = json.loads(sys.argv[1])
warnings.simplefilter("ignore")  # a model's library warnings must not end up in the JSON line
import numpy as np
import movierec
from movierec.eval.splits import random_holdout, user_holdout
start = time.perf_counter()
if args["scale"]:
    from movierec.data.synthetic import generate
    data = generate(n_users=args["users"], n_movies=args["movies"], n_ratings=args["ratings"], seed=42).dataset
else:
    data = movierec.load(args["data"], args["data_dir"])
out = {"data_s": time.perf_counter() - start, "ratings": data.n_ratings, "users": data.n_users, "movies": data.n_movies}
name = args["model"]
if name and args["scale"]:
    from movierec.models import make_model
    model = make_model(name, **args["params"])
    start = time.perf_counter()
    model.fit(data)
    out["fit_s"] = time.perf_counter() - start
elif name:
    from movierec.eval.evaluation import evaluate
    table = evaluate([name], random_holdout(data, 0.2, seed=42), params={name: args["params"]} if args["params"] else None,
                     ranking_splits=user_holdout(data, 0.2, seed=42))
    out.update(table.rows[0])
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(out))
"""


def run_worker(model: str | None, args: argparse.Namespace, scale: bool, params: dict) -> dict:
    spec = {
        "model": model,
        "scale": scale,
        "data": args.data,
        "data_dir": args.data_dir,
        "users": args.scale_users,
        "movies": args.scale_movies,
        "ratings": args.scale_ratings,
        "params": params,
    }
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", WORKER, json.dumps(spec)], capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"model": model or "data only", "error": tail, "wall_s": wall}
    result = json.loads(lines[-1][len("RESULT ") :])
    result["model"] = model or "data only"
    result["wall_s"] = wall
    return result


def fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def parse_params(items: list[str]) -> dict[str, dict]:
    """``model.key=value`` -> {model: {key: value}} (values as JSON, else strings)."""
    out: dict[str, dict] = {}
    for item in items:
        key, _, value = item.partition("=")
        model, _, name = key.partition(".")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(model, {})[name] = parsed
    return out


def main() -> None:
    from movierec.models import DEFAULT_RANKING, DEFAULT_RATING, model_names

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="ml-latest-small")
    parser.add_argument("--data-dir", default=os.environ.get("MOVIEREC_DATA"))
    parser.add_argument("--models", default=",".join(model_names()), help="comma-separated registry names")
    parser.add_argument("--param", action="append", default=[], help="model.key=value, e.g. mf.factors=64")
    parser.add_argument("--no-small", action="store_true", help="skip the ml-latest-small accuracy table")
    parser.add_argument("--scale", action="store_true", help="also fit the default models on generated data")
    parser.add_argument("--scale-ratings", type=int, default=25_000_000)
    parser.add_argument("--scale-users", type=int, default=162_000)
    parser.add_argument("--scale-movies", type=int, default=60_000)
    parser.add_argument("--scale-models", help="comma-separated models for --scale [default: the default rating and ranking models]")
    parser.add_argument("--json", help="also write every result to this JSON file")
    args = parser.parse_args()
    params = parse_params(args.param)
    console = Console()
    if not console.is_terminal:  # a log file or pipe: wide enough that the table is not squeezed
        console = Console(width=170)
    results: dict[str, list[dict]] = {"small": [], "scale": []}

    if not args.no_small:
        names = [n for n in args.models.split(",") if n]
        table = Table(title=f"{args.data}: rating metrics on a random 80/20 holdout, ranking metrics on a per-user "
                      "80/20 holdout (seed 42); every model in its own process", title_justify="left")
        columns = ["rmse", "mae", "ndcg@10", "precision@10", "recall@10", "hit_rate@10", "coverage", "fit_s", "peak_rss_mb"]
        table.add_column("model")
        table.add_column("kind")
        for c in columns:
            table.add_column(c.replace("_mb", " MB").replace("fit_s", "fit s"), justify="right")
        for name in [None, *names]:
            with console.status(f"{args.data}: {name or 'loading the data only'}…"):
                row = run_worker(name, args, scale=False, params=params.get(name or "", {}))
            results["small"].append(row)
            if "error" in row:
                table.add_row(row["model"], "", f"[red]failed: {row['error']}[/red]")
                continue
            table.add_row(
                row["model"],
                row.get("kind", ""),
                *[fmt(row.get(c), 1 if c in ("fit_s", "peak_rss_mb") else 4) for c in columns],
            )
        console.print(table)

        peers = Table(title="Quoted peer figures from the issue (same protocols; NOT measured here)", title_justify="left")
        peers.add_column("peer")
        peers.add_column("RMSE", justify="right")
        peers.add_column("NDCG@10", justify="right")
        for peer in dict.fromkeys([*PEER_RMSE, *PEER_NDCG]):
            peers.add_row(peer, fmt(PEER_RMSE.get(peer), 3), fmt(PEER_NDCG.get(peer), 3))
        console.print(peers)
        measured = [r for r in results["small"] if "error" not in r and r.get("kind")]
        best_rmse = min((r for r in measured if r.get("rmse") is not None), key=lambda r: r["rmse"], default=None)
        best_ndcg = max((r for r in measured if r.get("ndcg@10") is not None), key=lambda r: r["ndcg@10"], default=None)
        if best_rmse:
            console.print(
                f"Best RMSE: {best_rmse['model']} {best_rmse['rmse']:.4f} vs best quoted peer "
                f"{min(PEER_RMSE.values()):.3f} ({min(PEER_RMSE, key=PEER_RMSE.get)})"
            )
        if best_ndcg:
            console.print(
                f"Best NDCG@10: {best_ndcg['model']} {best_ndcg['ndcg@10']:.4f} vs best quoted peer "
                f"{max(PEER_NDCG.values()):.3f} ({max(PEER_NDCG, key=PEER_NDCG.get)})"
            )

    if args.scale:
        table = Table(
            title=f"Scale: generated {args.scale_ratings:,} ratings, {args.scale_users:,} users, "
            f"{args.scale_movies:,} movies; default models, each in its own process",
            title_justify="left",
        )
        for c in ("model", "ratings", "data s", "fit s", "peak RSS MB"):
            table.add_column(c, justify="left" if c == "model" else "right")
        names = [n for n in (args.scale_models or f"{DEFAULT_RATING},{DEFAULT_RANKING}").split(",") if n]
        for name in (None, *names):
            with console.status(f"scale: {name or 'generating the data only'}…"):
                row = run_worker(name, args, scale=True, params=params.get(name or "", {}))
            results["scale"].append(row)
            console.print(f"scale row done: {json.dumps(row)}", highlight=False)  # long runs: each figure as it lands
            if "error" in row:
                table.add_row(row["model"], f"[red]failed: {row['error']}[/red]")
                continue
            table.add_row(row["model"], fmt(row["ratings"]), fmt(row["data_s"], 1), fmt(row.get("fit_s"), 1), fmt(row["peak_rss_mb"], 0))
        console.print(table)

    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
