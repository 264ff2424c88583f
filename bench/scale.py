"""Scale: the whole pipeline on ml-32m-shaped synthetic data, and how each stage grows with size.

    python bench/scale.py                              # 1M, 4M, 16M and 32M ratings
    python bench/scale.py --sizes 4M                   # one size (e.g. while profiling)
    python bench/scale.py --sizes 32M --stages train,recommend
    python bench/scale.py --cache-dir /big/disk        # where releases and models live

For each size a MovieLens-shaped release folder (ratings.csv + movies.csv) is generated once by
``movierec.data.synthetic.generate`` and ``formats.write_release`` and kept under the cache
folder (default ``<user cache>/movierec/scale``), so later runs skip it. The shape follows
ml-32m: 32,000,204 ratings by 200,948 users of an 87,585-movie catalog; smaller sizes keep its
ratings per user (users scale with the ratings) and shrink the catalog with the square root.

Stages, each run as the real CLI in its own process so its peak RSS and CPU time are its own
(``os.wait4``'s rusage of that child):

- ``load``: ``movierec.load`` of the release (first parse, then cached), in a fresh process;
- ``train``: ``movierec train --force`` (the default models, bayesfm up to 12M ratings then mf, + hybrid, on every rating, and the
  movies' neighbours; an earlier model folder of the same size is replaced);
- ``recommend``: ``movierec recommend --users all -n 10 -o recs.parquet``;
- ``evaluate``: ``movierec evaluate -m mf,hybrid`` (random 80/20 for RMSE, per-user 80/20 with
  full-ranking metrics).

Bars at 32M (issue 13): recommend <= 90 s and <= 4 GB; train <= 4 min and <= 5 GB; evaluate
<= 10 min. Figures are printed as each stage ends, with the 1-minute load average before and
after it: on a shared machine the wall clock also measures everyone else's work, CPU seconds
do not.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ML32M = (32_000_204, 200_948, 87_585)  # ratings, users, catalog movies
SIZES = {"1M": 1_000_000, "4M": 4_000_000, "16M": 16_000_000, "32M": ML32M[0]}
STAGES = ("load", "train", "recommend", "evaluate")
BARS = {"train": (240, 5.0), "recommend": (90, 4.0), "evaluate": (600, None)}  # seconds, GB at 32M

GENERATE = r"""
import sys
from movierec.data.synthetic import generate
from movierec.data.writers import write_release
n_ratings, n_users, n_movies, folder = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
write_release(generate(n_users=n_users, n_movies=n_movies, n_ratings=n_ratings, seed=0).dataset, folder)
"""

LOAD = r"""
import sys, time
import movierec
start = time.perf_counter()
data = movierec.load(sys.argv[1])
first = time.perf_counter() - start
start = time.perf_counter()
movierec.load(sys.argv[1])
print(f"{data.n_ratings:,} ratings, {data.n_users:,} users, {data.n_movies:,} movies; "
      f"load {first:.2f} s, reload {time.perf_counter() - start:.2f} s", file=sys.stderr)
"""


def shape(n_ratings: int) -> tuple[int, int]:
    """Users and catalog movies for ``n_ratings`` in ml-32m's shape (see the module docstring)."""
    share = n_ratings / ML32M[0]
    return max(10, round(ML32M[1] * share)), max(100, round(ML32M[2] * math.sqrt(share)))


def run_stage(argv: list[str], log: Path) -> dict:
    """Run ``argv`` as a child; its wall and CPU seconds, peak RSS (GB) and exit status."""
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "120"})
        _, status, usage = os.wait4(proc.pid, 0)
    return {
        "wall_s": time.perf_counter() - start,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_gb": usage.ru_maxrss / 1024**2,  # Linux reports KiB
        "rc": os.waitstatus_to_exitcode(status),
        "load": (load_before, os.getloadavg()[0]),
    }


def cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from movierec.cli import main; sys.argv[0] = 'movierec'; main()", *args]


def release(cache: Path, label: str, n_ratings: int) -> tuple[Path, dict | None]:
    """The cached release folder of this size, generated (and timed) when missing."""
    n_users, n_movies = shape(n_ratings)
    folder = cache / f"synthetic-{n_ratings}-{n_users}-{n_movies}"
    if (folder / "ratings.csv").is_file() and (folder / "movies.csv").is_file():
        return folder, None
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    figures = run_stage(
        [sys.executable, "-c", GENERATE, str(n_ratings), str(n_users), str(n_movies), str(tmp)], cache / f"{label}-generate.log"
    )
    if figures["rc"] == 0:
        tmp.rename(folder)
    return folder, figures


def stage_argv(stage: str, data: Path, work: Path) -> list[str]:
    if stage == "load":
        return [sys.executable, "-c", LOAD, str(data)]
    if stage == "train":
        return cli("train", "-d", str(data), "-o", str(work / "model"), "--force")
    if stage == "recommend":
        return cli("recommend", "-m", str(work / "model"), "--users", "all", "-n", "10", "-o", str(work / "recs.parquet"))
    return cli("evaluate", "-d", str(data), "-m", "mf,hybrid")


def verdict(stage: str, label: str, row: dict) -> str:
    if label != "32M" or stage not in BARS:
        return ""
    seconds, gb = BARS[stage]
    ok = row["wall_s"] <= seconds and (gb is None or row["peak_gb"] <= gb)
    bar = f"<= {seconds} s" + (f", <= {gb:g} GB" if gb else "")
    return f"{'meets' if ok else 'MISSES'} {bar}"


def line(label: str, stage: str, row: dict) -> str:
    if row["rc"] != 0:
        return f"{label:>4}  {stage:<10} FAILED (exit {row['rc']}); see {row['log']}"
    return (
        f"{label:>4}  {stage:<10} wall {row['wall_s']:7.1f} s  CPU {row['cpu_s']:7.1f} s  peak RSS {row['peak_gb']:5.2f} GB"
        f"  load {row['load'][0]:4.1f}->{row['load'][1]:4.1f}  {verdict(stage, label, row)}"
    )


def main() -> None:
    from platformdirs import user_cache_dir

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(SIZES), help=f"comma-separated, of {', '.join(SIZES)}")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, of {', '.join(STAGES)}")
    parser.add_argument("--cache-dir", type=Path, default=Path(user_cache_dir("movierec")) / "scale")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args()
    labels = [s for s in args.sizes.split(",") if s]
    stages = [s for s in args.stages.split(",") if s]
    bad = [s for s in labels if s not in SIZES] + [s for s in stages if s not in STAGES]
    if bad:
        parser.error(f"unknown size or stage {bad[0]!r}: expected sizes {', '.join(SIZES)} and stages {', '.join(STAGES)}")
    if "recommend" in stages and "train" not in stages:
        print("note: recommend uses the model folder left by an earlier train stage of the same size", flush=True)
    print(f"cache: {args.cache_dir}   cores: {os.cpu_count()}   load average: {os.getloadavg()}", flush=True)
    rows = []
    for label in labels:
        n_ratings = SIZES[label]
        work = args.cache_dir / label
        work.mkdir(parents=True, exist_ok=True)
        data, generated = release(args.cache_dir, label, n_ratings)
        if generated is not None:
            generated["log"] = str(args.cache_dir / f"{label}-generate.log")
            rows.append({"size": label, "stage": "generate", **generated})
            print(line(label, "generate", generated), flush=True)
        for stage in stages:
            log = work / f"{stage}.log"
            row = {"size": label, "stage": stage, **run_stage(stage_argv(stage, data, work), log), "log": str(log)}
            rows.append(row)
            print(line(label, stage, row), flush=True)
    print("\nwall s / CPU s / peak RSS GB per stage and size")
    print("stage       " + "".join(f"{label:>26}" for label in labels))
    for stage in ("generate", *stages):
        cells = []
        for label in labels:
            row = next((r for r in rows if r["size"] == label and r["stage"] == stage), None)
            ok = row is not None and row["rc"] == 0
            cells.append(f"{row['wall_s']:7.1f} {row['cpu_s']:7.1f} {row['peak_gb']:5.2f}" if ok else ("-" if row is None else "failed"))
        if any(c != "-" for c in cells):
            print(f"{stage:<12}" + "".join(f"{c:>26}" for c in cells))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
