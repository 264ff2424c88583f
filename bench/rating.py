"""Rating accuracy side by side with myFM (issue 11): one process, one split, same conditions.

    python bench/rating.py                               # ml-latest-small, random 80/20, seed 42
    python bench/rating.py --folds 5                     # 5-fold mean ± std, ranking per fold
    python bench/rating.py --synthetic --shapes noise,ml-1m  # rating models on generated data
    python bench/rating.py --validation --param bayesfm.epochs=24  # tune: test part never seen

myFM (``pip install myfm==0.4.0``, the ``bench`` dependency group) runs Rendle et al.'s 2019
recipe: user id + movie id + the user's rated-movie set and the movie's rater set (each
normalized 1/sqrt(n)) + the rating's day as a category, rank 10, 200 Gibbs samples; every
feature is built from the training part only. movierec models are evaluated as ``movierec
evaluate`` does (unknown rows -> -1, predictions clipped, rating times passed to models with a
time term). Prints RMSE, MAE, fit seconds (wall and CPU: on a shared machine the wall clock
mostly measures the queue) and each fit's ratio to myFM's; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import scipy.sparse as sp

import movierec.cli  # noqa: F401  (first: the CLI's thread settings, before torch loads; idle threads sleep, not spin)
from movierec.data.dataset import Dataset
from movierec.eval.evaluation import rating_scores
from movierec.eval.splits import Split, kfold, random_holdout
from movierec.models import make_model, model_names

DAY = 86_400


def myfm_scores(split: Split, rank: int = 10, samples: int = 200, seed: int = 42) -> tuple[dict, tuple[float, float]]:
    """RMSE/MAE of myFM with implicit sets and day (features from the training part), and fit
    (wall, CPU) seconds."""
    warnings.simplefilter("ignore")  # myfm 0.4.0 imports the deprecated pkg_resources
    os.environ.setdefault("TQDM_DISABLE", "1")  # its progress bar
    import myfm

    train, test = split.train, split.test
    n_u, n_m = train.n_users, train.n_movies
    a = sp.csr_matrix((np.ones(train.n_ratings), (train.users, train.movies)), shape=(n_u, n_m))
    a.data[:] = 1.0

    def normalized(m):
        size = np.asarray(m.sum(1)).ravel()
        return sp.diags(np.divide(1.0, np.sqrt(size), out=np.zeros(len(size)), where=size > 0)) @ m

    # Relation blocks: one feature row per user [one-hot id, rated set] and per movie [one-hot id, raters];
    # an extra empty row serves unknown users / movies of the test part.
    user_rows = sp.vstack([sp.hstack([sp.identity(n_u), normalized(a)]), sp.csr_matrix((1, n_u + n_m))]).tocsr()
    movie_rows = sp.vstack([sp.hstack([sp.identity(n_m), normalized(a.T.tocsr())]), sp.csr_matrix((1, n_m + n_u))]).tocsr()
    days, day_of = np.unique(train.timestamps // DAY, return_inverse=True)

    def features(data: Dataset):
        known_u = train.user_counts()[data.users] > 0
        known_m = train.movie_counts()[data.movies] > 0
        d = np.searchsorted(days, data.timestamps // DAY).clip(0, len(days) - 1)
        seen = days[d] == data.timestamps // DAY
        x = sp.csr_matrix((seen.astype(float), (np.arange(data.n_ratings), d)), shape=(data.n_ratings, len(days)))
        blocks = [
            myfm.RelationBlock(np.where(known_u, data.users, n_u), user_rows),
            myfm.RelationBlock(np.where(known_m, data.movies, n_m), movie_rows),
        ]
        return x, blocks

    x, blocks = features(train)
    start, cpu = time.perf_counter(), time.process_time()
    fm = myfm.MyFMRegressor(rank=rank, random_seed=seed)
    fm.fit(x, train.ratings, X_rel=blocks, n_iter=samples, n_kept_samples=samples,
           group_shapes=[len(days), n_u, n_m, n_m, n_u])
    seconds = (time.perf_counter() - start, time.process_time() - cpu)
    xt, bt = features(test)
    predicted = np.clip(fm.predict(xt, bt), *train.rating_scale)
    diff = predicted - test.ratings
    return {"rmse": float(np.sqrt(np.mean(diff**2))), "mae": float(np.mean(np.abs(diff)))}, seconds


# Named settings of a model, compared beside its defaults in one run: bayesfm's longer chain is
# the most accurate model within 15 s (issue 11), its default the fast one train uses.
PRESETS = {"bayesfm80": ("bayesfm", {"epochs": 80})}


def movierec_scores(name: str, split: Split, params: dict) -> tuple[dict, tuple[float, float], object]:
    name, preset = PRESETS.get(name, (name, {}))
    model = make_model(name, **{**preset, **params})
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(split.train)
    seconds = (time.perf_counter() - start, time.process_time() - cpu)
    return rating_scores(model, split)[0], seconds, model


def run(names: list[str], split: Split, params: dict[str, dict], label: str) -> list[tuple[str, dict, float]]:
    rows = []
    for name in names:
        if name == "myfm":
            scores, seconds = myfm_scores(split)
            extra = ""
        else:
            scores, seconds, model = movierec_scores(name, split, params.get(name, {}))
            extra = f"  params {model.get_params()}" if model.name in ("bayesfm", "blend") else ""
        rows.append((name, scores, seconds))
        print(f"  {label:<14} {name:<10} RMSE {scores['rmse']:.4f}  MAE {scores['mae']:.4f}  fit {seconds[0]:7.1f} s "
              f"(CPU {seconds[1]:7.1f} s)  load {os.getloadavg()[0]:4.1f}{extra}", flush=True)
    reference = dict((n, s) for n, _, s in rows).get("myfm")
    if reference:
        for name, scores, seconds in rows:
            print(f"  {label:<14} {name:<10} fit time / myFM's: wall {seconds[0] / reference[0]:5.2f}, CPU {seconds[1] / reference[1]:5.2f}")
    return rows


def parse_params(items: list[str]) -> dict[str, dict]:
    """``model.key=value`` -> {model: {key: value}}; values as int, float or string."""
    out: dict[str, dict] = {}
    for item in items:
        key, _, value = item.partition("=")
        model, _, name = key.partition(".")
        for cast in (int, float, str):
            try:
                out.setdefault(model, {})[name] = cast(value)
                break
            except ValueError:
                continue
    return out


SHAPES = {  # name: (users, movies, ratings)
    "noise": (600, 1000, 100_000),
    "ml-100k": (943, 1_682, 100_000),
    "ml-1m": (6_040, 3_706, 1_000_209),
    "ml-10m": (69_878, 10_677, 10_000_054),
}


def synthetic_runs(names: list[str], params: dict[str, dict], shapes: list[str]) -> None:
    """Rating models on generated data: planted noise 0.5 (its floor) and MovieLens release shapes."""
    from movierec.data.synthetic import generate

    for label in shapes:
        users, movies, ratings = SHAPES[label]
        if label == "noise":
            synth = generate(n_users=users, n_movies=movies, n_ratings=ratings, rank=2, noise=0.5, seed=2)
        else:
            synth = generate(n_users=users, n_movies=movies, n_ratings=ratings, seed=42)
        print(f"{label}: {synth.dataset}, oracle RMSE (noise floor) {synth.oracle_rmse:.4f}", flush=True)
        run(names, random_holdout(synth.dataset, 0.2, seed=42), params, label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="ml-latest-small")
    parser.add_argument("--data-dir", default=os.environ.get("MOVIEREC_DATA"))
    parser.add_argument("--models", default="myfm,mf,bayesfm,bayesfm80,blend",
                        help=f"comma-separated; 'myfm' is the peer; presets: {', '.join(PRESETS)}")
    parser.add_argument("--folds", type=int, default=0, help="k-fold (k >= 2) instead of one 80/20 split")
    parser.add_argument("--synthetic", action="store_true", help="generated data instead of --data")
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"with --synthetic: comma-separated, of {', '.join(SHAPES)}")
    parser.add_argument("--validation", action="store_true",
                        help="score on a 10%% slice of the 80%% training part (choosing defaults), never the test part")
    parser.add_argument("--param", action="append", default=[], help="model.key=value, e.g. bayesfm.epochs=60")
    args = parser.parse_args()
    names = [n for n in args.models.split(",") if n]
    unknown = sorted(set(names) - {"myfm", *PRESETS, *model_names("rating")})
    if unknown:
        parser.error(f"unknown rating model(s) {', '.join(unknown)}; expected myfm, {', '.join(PRESETS)} or one of {', '.join(model_names('rating'))}")
    params = parse_params(args.param)
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)", flush=True)
    if args.synthetic:
        shapes = [s for s in args.shapes.split(",") if s]
        if set(shapes) - set(SHAPES):
            parser.error(f"unknown shape(s) {', '.join(sorted(set(shapes) - set(SHAPES)))}; expected some of {', '.join(SHAPES)}")
        synthetic_runs(names, params, shapes)
        return
    import movierec

    data = movierec.load(args.data, args.data_dir)
    if args.validation:
        run(names, random_holdout(random_holdout(data, 0.2, seed=42).train, 0.1, seed=7), params, "validation")
        return
    if args.folds < 2:
        run(names, random_holdout(data, 0.2, seed=42), params, f"{args.data}")
        return
    table = {name: [] for name in names}
    for fold, split in enumerate(kfold(data, args.folds, seed=42)):
        rows = run(names, split, params, f"fold {fold + 1}")
        order = [name for name, s, _ in sorted(rows, key=lambda r: r[1]["rmse"])]
        print(f"  fold {fold + 1} ranking (best first): {' < '.join(order)}", flush=True)
        for name, scores, seconds in rows:
            table[name].append((scores["rmse"], seconds[0]))
    for name, values in table.items():
        r, s = np.array(values).T
        print(f"{name:<10} RMSE {r.mean():.4f} ± {r.std():.4f}  fit {s.mean():.1f} ± {s.std():.1f} s over {args.folds} folds")


if __name__ == "__main__":
    main()
