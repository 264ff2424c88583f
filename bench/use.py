"""Using a trained model: latency of recommend / new-user / similar, and cluster genre purity.

Loads an ml-latest-small model folder (trains the default models on every rating when
--model is not given), then measures on this machine, in-process (no HTTP):

- top-10 for a known user (``Recommender.recommend``): median and p99, bar p99 <= 5 ms;
- top-10 for a new user from 10 ratings, fold-in included (``recommend_for_ratings``):
  bar p99 <= 20 ms;
- 10 similar movies (``Recommender.similar``): bar p99 <= 5 ms;
- title lookups (``find_movie``) and searches, for reference;
- genre purity of KMeans clusters (k=20, movies with >= 20 ratings, normalized embeddings)
  of each model's embeddings, next to random clusterings of the same sizes: bar >= 0.65.
  KMeans is run with several seeds; the mean and range are printed.

    python bench/use.py                  # trains first (a minute or more)
    python bench/use.py --model model    # a folder from `movierec train -o model`
    python bench/use.py --model model --threads 0   # BLAS/torch thread pools left as they are

Latency runs with BLAS and torch limited to --threads (default 1): one request is a
vector-matrix product of a few hundred microseconds, which extra threads only slow down with
synchronization (badly so on a machine whose cores are busy with other work). A server
answers requests in parallel across processes instead.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from support import ensure_model

BARS_MS = {"recommend": 5.0, "new user": 20.0, "similar": 5.0}
PURITY_BAR = 0.65


def timed(calls, repeat: int) -> tuple[np.ndarray, np.ndarray]:
    """Wall and CPU milliseconds of each call (after a warm-up pass over a few of them).

    CPU time is this thread's (time.thread_time): with one BLAS/torch thread it is the work a
    call costs, without the time spent waiting for a core that other processes hold, which on
    a shared, busy machine dominates the wall-clock tail.
    """
    for call in calls[:5]:
        call()
    wall, cpu = np.empty(repeat), np.empty(repeat)
    for i in range(repeat):
        call = calls[i % len(calls)]
        start, start_cpu = time.perf_counter(), time.thread_time()
        call()
        wall[i] = (time.perf_counter() - start) * 1e3
        cpu[i] = (time.thread_time() - start_cpu) * 1e3
    return wall, cpu


def report(name: str, ms: tuple[np.ndarray, np.ndarray], bar: float | None) -> None:
    wall, cpu = ms
    p50, p99 = np.percentile(wall, [50, 99])
    c50, c99 = np.percentile(cpu, [50, 99])
    verdict = "" if bar is None else f"  bar p99 <= {bar:g} ms: wall {'PASS' if p99 <= bar else 'FAIL'}, cpu {'PASS' if c99 <= bar else 'FAIL'}"
    print(f"{name:<24} wall median {p50:6.2f} p99 {p99:6.2f} ms | cpu median {c50:6.2f} p99 {c99:6.2f} ms{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model folder (default: train one here)")
    parser.add_argument("--repeat", type=int, default=2000, help="timed calls per operation")
    parser.add_argument("--seeds", type=int, default=5, help="KMeans seeds for the purity figure")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/torch threads while timing (0: leave as is)")
    parser.add_argument("--skip-latency", action="store_true", help="only the purity figures")
    args = parser.parse_args()

    from movierec.recommend.recommender import Recommender

    with tempfile.TemporaryDirectory() as tmp:
        folder = ensure_model(args.model, Path(tmp))
        start = time.perf_counter()
        rec = Recommender.load(folder)
        print(f"{rec}: loaded in {(time.perf_counter() - start) * 1e3:.0f} ms")

    rng = np.random.default_rng(0)
    users = rng.choice(rec.user_vocab.ids, size=200)
    counts = rec.artifact.movie_counts
    popular = rec.movie_vocab.ids[counts >= 20]
    low, high = rec.rating_scale
    stars = np.arange(low, high + 0.25, 0.5)
    new_users = [
        dict(zip(rng.choice(popular, 10, replace=False).tolist(), rng.choice(stars, 10).tolist())) for _ in range(200)
    ]
    movies = rng.choice(popular, size=200)
    titles = [str(t) for t in rec.catalog.titles[rec.catalog.rows(movies)]]

    if not args.skip_latency:
        latency(rec, users, new_users, movies, titles, args.repeat, args.threads)
    purity_figures(rec, args.seeds)


def latency(rec, users, new_users, movies, titles, repeat: int, threads: int) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    if threads > 0:
        limits = threadpool_limits(limits=threads)
        torch.set_num_threads(threads)
    else:
        limits = None
    print(f"\nLatency, in-process, top-10 ({repeat} calls each; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"{'threads as configured' if limits is None else f'{threads} BLAS/torch thread(s)'}):")
    report("recommend (known user)", timed([lambda u=u: rec.recommend(int(u), 10) for u in users], repeat),
           BARS_MS["recommend"])
    report("new user, 10 ratings", timed([lambda r=r: rec.recommend_for_ratings(r, 10) for r in new_users],
                                         repeat), BARS_MS["new user"])
    report("similar movies", timed([lambda m=m: rec.similar(int(m), 10) for m in movies], repeat),
           BARS_MS["similar"])
    report("find_movie (title)", timed([lambda t=t: rec.find_movie(t) for t in titles], repeat), None)
    report("search (3 letters)", timed([lambda t=t: rec.search(t[:3], 20) for t in titles], repeat // 4), None)
    if limits is not None:
        limits.restore_original_limits()


def purity_figures(rec, seeds: int) -> None:
    from movierec.explore.clusters import cluster_recommender

    print(f"\nGenre purity, k=20, movies with >= 20 ratings, {seeds} KMeans seeds, 20 random clusterings each:")
    for kind in ("rating", "ranking"):
        model = getattr(rec, kind)
        if model is None or model.movie_embeddings() is None:
            print(f"  {kind}: no embeddings")
            continue
        reports = [cluster_recommender(rec, 20, kind, 20, seed)[1] for seed in range(seeds)]
        purity = np.array([r.purity.value for r in reports])
        z = np.array([r.purity.z for r in reports])
        nmi = np.array([r.nmi.value for r in reports])
        first = reports[0]
        verdict = "PASS" if purity.mean() >= PURITY_BAR else "FAIL"
        print(
            f"  {kind:<8} {model.name:<6} purity {purity.mean():.3f} (seeds {purity.min():.3f}-{purity.max():.3f}) "
            f"vs random {first.purity.random_mean:.3f} ± {first.purity.random_std:.3f}, z = {z.mean():.1f}; "
            f"NMI {nmi.mean():.3f} vs {first.nmi.random_mean:.3f}; {first.n_movies} movies"
            f"   bar >= {PURITY_BAR}: {verdict}"
        )


if __name__ == "__main__":
    main()
