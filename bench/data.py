"""Data-layer benchmark: how fast releases load, and how much memory a large one takes.

    python bench/data.py                    # ml-latest-small + a 25M-rating ml-25m-shaped release
    python bench/data.py --ratings 2500000  # a quicker, smaller large-release run
    python bench/data.py --release DIR      # time an existing release folder (e.g. a real ml-25m)

Bars (issue "Foundation: every MovieLens release loaded fast and safely"):
ml-latest-small loads in <= 0.5 s; a 25M-rating CSV release in <= 30 s with peak RSS <= 3 GB;
a cached reload in <= 3 s. The large loads run in a fresh subprocess each, so the peak RSS printed
is the load's own (plus the interpreter and imports), not the generator's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, os, sys, time
t0 = time.perf_counter()
import movierec
t1, c1 = time.perf_counter(), time.process_time()
data = movierec.load(sys.argv[1], cache=sys.argv[2] == "cache")
t2, c2 = time.perf_counter(), time.process_time()
# One pass over every rating array: a memory-mapped cache pays its page-ins here, so report it.
data.users.max(), data.movies.max(), data.ratings.sum(), data.timestamps.max()
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "cpu_s": c2 - c1, "touch_s": t3 - t2,
                  "loadavg": os.getloadavg()[0], "ratings": data.n_ratings, "users": data.n_users,
                  "movies": data.n_movies, "catalog": len(data.catalog)}))
"""
# Linux carries a parent's peak RSS into a forked child, so every measured process is started
# by this tiny launcher, which reports RUSAGE_CHILDREN: the load's own peak.
LAUNCHER = """
import json, resource, subprocess, sys
out = subprocess.run(sys.argv[1:], check=True, capture_output=True, text=True).stdout
result = json.loads(out.strip().splitlines()[-1])
result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(result))
"""


def launch(*args: str) -> dict:
    """Run ``python -c CODE args`` under the launcher; its JSON line plus ``maxrss_mb``."""
    out = subprocess.run(
        [sys.executable, "-c", LAUNCHER, sys.executable, "-c", *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_child(folder: Path, cache: bool) -> dict:
    return launch(CHILD, str(folder), "cache" if cache else "nocache")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def bench_small(repeats: int) -> None:
    import movierec

    folder = os.environ.get("MOVIEREC_DATA")
    if not folder or not (Path(folder) / "ml-latest-small.zip").exists():
        print("ml-latest-small: skipped (set MOVIEREC_DATA to the folder holding ml-latest-small.zip)")
        return
    parse, cached = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        data = movierec.load("ml-latest-small", folder, cache=False)
        parse.append(time.perf_counter() - t)
    movierec.load("ml-latest-small", folder)  # writes the cache
    for _ in range(repeats):
        t = time.perf_counter()
        movierec.load("ml-latest-small", folder)
        cached.append(time.perf_counter() - t)
    p, c = statistics.median(parse), statistics.median(cached)
    print(f"ml-latest-small: {data.n_ratings:,} ratings, {data.n_users:,} users, {len(data.catalog):,} movies")
    print(f"  parse (no cache), median of {repeats}: {p:.3f} s   [bar <= 0.5 s: {verdict(p <= 0.5)}]")
    print(f"  cached reload,    median of {repeats}: {c:.3f} s")


def bench_layouts(n_ratings: int, root: Path, repeats: int) -> None:
    """Parse time of the same ratings in each on-disk layout (csv, dat with '::', 100k)."""
    import movierec
    from movierec.data.releases import FORMATS
    from movierec.data.synthetic import generate
    from movierec.data.writers import write_release

    data = generate(n_users=n_ratings // 150, n_movies=10_000, n_ratings=n_ratings, seed=1, step=1.0).dataset
    print(f"layouts, {data.n_ratings:,} whole-star ratings each (no cache, median of {repeats}):")
    for fmt in FORMATS:
        folder = write_release(data, root / f"layout-{fmt}", fmt)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            movierec.load(folder, cache=False)
            times.append(time.perf_counter() - t)
        best = statistics.median(times)
        print(f"  {fmt:>4}: {best:.2f} s ({data.n_ratings / best / 1e6:.1f} M ratings/s)")


def make_release(n_ratings: int, root: Path) -> Path:
    """An ml-25m-shaped release (162,541 users, 62,423 movies) written as ratings.csv/movies.csv."""
    from movierec.data.synthetic import generate
    from movierec.data.writers import write_release

    scale = n_ratings / 25_000_095
    t = time.perf_counter()
    data = generate(
        n_users=max(round(162_541 * scale), 100), n_movies=62_423, n_ratings=n_ratings, seed=0, name="ml-25m-synthetic"
    ).dataset
    print(f"generated {data!r} in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    folder = write_release(data, root / "ml-25m-synthetic", "csv")
    size = (folder / "ratings.csv").stat().st_size
    print(f"wrote {folder} ({size / 1e6:,.0f} MB ratings.csv) in {time.perf_counter() - t:.1f} s")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=25_000_095, help="ratings in the large release (ml-25m: 25,000,095)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the ml-latest-small timings")
    parser.add_argument("--release", type=Path, help="time this existing release folder instead of generating one")
    parser.add_argument("--layouts", type=int, default=1_000_000, help="ratings for the per-layout timings (0: skip)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="movierec-bench-") as tmp:
        os.environ["MOVIEREC_CACHE"] = str(Path(tmp) / "cache")  # never the user's cache
        bench_small(args.repeats)
        if args.layouts:
            bench_layouts(args.layouts, Path(tmp), min(args.repeats, 3))
        folder = args.release or make_release(args.ratings, Path(tmp))
        first = run_child(folder, cache=True)  # parses, validates, writes the cache
        print(f"large release: {first['ratings']:,} ratings, {first['users']:,} users, {first['catalog']:,} movies")
        big = first["ratings"] >= 25_000_000
        bar = lambda ok: f"[bar: {verdict(ok)}]" if big else "[bars apply to 25M ratings]"  # noqa: E731
        print(f"  first load (parse + validate + write cache): {first['load_s']:.1f} s wall, {first['cpu_s']:.1f} s CPU, "
              f"load average {first['loadavg']:.1f}   {bar(first['load_s'] <= 30)}")
        print(f"  peak RSS of that load (RUSAGE_CHILDREN): {first['maxrss_mb']:,.0f} MB   {bar(first['maxrss_mb'] <= 3072)}")
        again = run_child(folder, cache=True)
        print(f"  cached reload: {again['load_s']:.2f} s, then {again['touch_s']:.2f} s for a first pass over the "
              f"memory-mapped arrays (peak RSS {again['maxrss_mb']:,.0f} MB)   {bar(again['load_s'] + again['touch_s'] <= 3)}")
        plain = run_child(folder, cache=False)
        print(f"  parse without cache: {plain['load_s']:.1f} s wall, {plain['cpu_s']:.1f} s CPU "
              f"(peak RSS {plain['maxrss_mb']:,.0f} MB)")
        print(f"  (interpreter + imports: {first['import_s']:.1f} s, not counted)")
    print(f"load average at the end {os.getloadavg()[0]:.1f} (2 cores shared: figures vary with it)")


if __name__ == "__main__":
    main()
