"""Cluster names and the cluster map: are the names true, and how long does the map take?

On an ml-latest-small model folder (trained here when --model is not given):

- the names at k=10 and k=20 (movies with >= 20 ratings) with their support, the share of
  members carrying every genre of the name; bar: all names different, and each either
  supported by >= 40% of its members or "Mixed: ...";
- the time of the 2-D map (t-SNE, explore.layout.map_coords) of the clustered movies, cold
  and then from the cache (the server's second k), and of a whole cluster report;

and on a large synthetic catalog (data.synthetic, planted genre taste; --movies movies, their
planted factors as embeddings): the same map time, where t-SNE fits the LAYOUT_FIT_MAX
most-rated movies and places the rest by their nearest fitted neighbours.

    python bench/clusters.py --model model
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from support import ensure_model


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, out


def names(rec) -> None:
    from movierec.explore.clusters import cluster_recommender
    from movierec.explore.naming import MIN_SUPPORT

    for k in (10, 20):
        seconds, (kind, report) = timed(lambda k=k: cluster_recommender(rec, k, "auto", 20))
        print(f"\nk={k}: {report.n_movies} movies with >= 20 ratings, {kind} model's embeddings; report in {seconds:.1f} s")
        for c in report.clusters:
            support = "" if c.mixed else f"support {c.name_support:.0%}, lift {c.name_lift:.1f}"
            print(f"  {c.label + 1:>2}. {c.name:<40} {support:<24} {c.size:>4} movies, e.g. {c.top_titles[0]}")
        unique = len({c.name for c in report.clusters}) == k
        supported = all(c.mixed or c.name_support >= MIN_SUPPORT for c in report.clusters)
        n_mixed = sum(c.mixed for c in report.clusters)
        print(f"  names all different: {unique}; named ones supported by >= {MIN_SUPPORT:.0%}: {supported}; "
              f"{n_mixed} Mixed   bar: {'PASS' if unique and supported else 'FAIL'}")


def map_time(label: str, x: np.ndarray) -> None:
    """Wall and CPU time: t-SNE runs on one thread, so on a busy machine CPU time is the fairer figure."""
    from movierec.explore.layout import map_coords

    cpu = time.process_time()
    cold, (layout, _) = timed(lambda: map_coords(x))
    cpu = time.process_time() - cpu
    warm, _ = timed(lambda: map_coords(x))
    print(f"  {label}: {x.shape[0]:,} movies x {x.shape[1]}, {layout}: {cold:.1f} s cold ({cpu:.1f} s CPU), "
          f"{warm * 1e3:.1f} ms cached (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model folder (default: train one here)")
    parser.add_argument("--movies", type=int, default=30_000, help="movies of the synthetic catalog")
    args = parser.parse_args()

    from movierec.data.synthetic import generate
    from movierec.eval.metrics import unit_rows
    from movierec.explore.clusters import model_embeddings
    from movierec.explore.layout import LAYOUT_FIT_MAX
    from movierec.recommend.recommender import Recommender

    with tempfile.TemporaryDirectory() as tmp:
        rec = Recommender.load(ensure_model(args.model, Path(tmp)))
    _, embeddings = model_embeddings(rec)
    counts = rec.artifact.movie_counts
    print(f"Map times (t-SNE fits at most {LAYOUT_FIT_MAX:,} movies):")
    chosen = np.flatnonzero(counts >= 20)
    chosen = chosen[np.argsort(-counts[chosen], kind="stable")]
    map_time(f"{rec.artifact.dataset}, >= 20 ratings", unit_rows(embeddings[chosen]))
    data = generate(n_users=2000, n_movies=args.movies, n_ratings=20 * args.movies, rank=32, seed=0)
    movie_counts = np.bincount(data.dataset.movies, minlength=data.movie_factors.shape[0])
    order = np.argsort(-movie_counts, kind="stable")
    map_time("synthetic, every rated movie", unit_rows(data.movie_factors[order]))
    names(rec)


if __name__ == "__main__":
    main()
