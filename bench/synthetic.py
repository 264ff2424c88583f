"""Time and memory of the synthetic generator at MovieLens sizes (prints figures, asserts nothing).

Usage: python bench/synthetic.py [n_ratings ...]   (default: 1M 25M 32M)
Each size runs in a fresh process so peak memory (max RSS) is its own. CPU seconds are printed
beside wall seconds: on a shared, overloaded machine the wall clock mostly measures the queue.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

SIZES = {  # n_ratings: (n_users, n_movies): ml-1m, ml-25m, and ml-32m's users with a 90k-movie catalog
    1_000_000: (6_040, 3_900),
    25_000_000: (162_541, 62_423),
    32_000_000: (200_948, 90_000),
}


def run_one(n_ratings: int) -> None:
    from movierec.data.synthetic import generate

    n_users, n_movies = SIZES.get(n_ratings, (max(n_ratings // 150, 10), max(n_ratings // 350, 100)))
    start, cpu = time.perf_counter(), time.process_time()
    synth = generate(n_users=n_users, n_movies=n_movies, n_ratings=n_ratings, seed=0)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    d = synth.dataset
    print(
        f"{n_ratings:>12,} ratings  {n_users:>8,} users  {n_movies:>7,} movies  "
        f"wall {seconds:6.1f} s  CPU {cpu:6.1f} s  load {os.getloadavg()[0]:4.1f}  peak RSS {peak_gb:4.1f} GB  dataset {d.n_ratings * 20 / 1e9:4.2f} GB  "
        f"rated movies {d.n_movies:,}  mean {d.ratings.mean():.2f}  oracle RMSE {synth.oracle_rmse:.3f}",
        flush=True,
    )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        run_one(int(sys.argv[2]))
    else:
        for n in [int(a) for a in sys.argv[1:]] or list(SIZES):
            subprocess.run([sys.executable, __file__, "--one", str(n)], check=True)
