"""Trust benchmark on ml-latest-small: similar movies, true explanations, the explore curve.

    MOVIEREC_DATA=/work/shared/data python bench/trust.py            # everything (several minutes)
    python bench/trust.py --only explanations --step 10               # a part, on fewer users

1. **Neighbours.** The default models trained on every rating. For franchise films the rank of
   the sequel among ``Recommender.similar`` (co-rating neighbours) and among the ranking model's
   movie embeddings (cosine, what ``similar`` used before); top-10 genre overlap (mean Jaccard
   of a movie's genres with its 10 neighbours', movies with >= 20 ratings) for both; the
   latency of ``similar`` (in-process, default thread pools). Toy
   Story, The Godfather and Shrek were looked at while choosing the similarity; the others were not.
   Then every sequel pair the titles give ("X" and "X 2"), half of which chose the similarity's
   settings (see :func:`sequels`).
2. **Explanations.** For every ``--step``-th user (default 5), the top 10 of the ranking model and of the rating
   model from the user's ratings (fold-in): removing the explaining movies must lower the score
   more than removing as many random rated movies (mean of 20 draws); the share where it does.
   Then the cases from the issue: a kids' profile with a Horror filter, and user 1.
3. **Explore curve.** The default ranking model on the per-user 80/20 split (seed 42, as
   ``movierec evaluate``): NDCG@10, coverage, novelty and genre diversity for explore 0..1;
   first on validation splits carved from the training part (per-user 20%, seeds 7, 8, 9;
   their mean), where the default is chosen: the largest explore that costs no NDCG against
   explore 0 (the exposure discount of the default model buys coverage for less accuracy,
   see ``bench/coverage.py``).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

FRANCHISES = {  # film -> its sequel (the first three were looked at while tuning)
    "Toy Story (1995)": "Toy Story 2 (1999)",
    "Godfather, The (1972)": "Godfather: Part II, The (1974)",
    "Shrek (2001)": "Shrek 2 (2004)",
    "Back to the Future (1985)": "Back to the Future Part II (1989)",
    "Matrix, The (1999)": "Matrix Reloaded, The (2003)",
    "Lord of the Rings: The Fellowship of the Ring, The (2001)": "Lord of the Rings: The Two Towers, The (2002)",
    "Terminator, The (1984)": "Terminator 2: Judgment Day (1991)",
    "Alien (1979)": "Aliens (1986)",
    "Die Hard (1988)": "Die Hard 2 (1990)",
    "Star Wars: Episode IV - A New Hope (1977)": "Star Wars: Episode V - The Empire Strikes Back (1980)",
    "Pirates of the Caribbean: The Curse of the Black Pearl (2003)": "Pirates of the Caribbean: Dead Man's Chest (2006)",
    "Spider-Man (2002)": "Spider-Man 2 (2004)",
    "X-Men (2000)": "X2: X-Men United (2003)",
    "Bourne Identity, The (2002)": "Bourne Supremacy, The (2004)",
    "Kill Bill: Vol. 1 (2003)": "Kill Bill: Vol. 2 (2004)",
    "Ocean's Eleven (2001)": "Ocean's Twelve (2004)",
    "Jurassic Park (1993)": "Lost World: Jurassic Park, The (1997)",
    "Harry Potter and the Sorcerer's Stone (a.k.a. Harry Potter and the Philosopher's Stone) (2001)": (
        "Harry Potter and the Chamber of Secrets (2002)"
    ),
}
EXPLORE = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
TOLERANCE = 0.0  # NDCG given up, relative, for the default explore (bench/coverage.py: none)


def neighbours(rec) -> None:
    from movierec.eval.metrics import top_k, unit_rows

    vocab, counts = rec.movie_vocab, rec.artifact.movie_counts
    unit = unit_rows(rec.ranking.movie_embeddings())
    print("\n== Neighbours: rank of the sequel (1 = first) ==")
    print(f"{'film':58s} {'similar':>8s} {'embedding':>9s}")
    found = {"similar": 0, "embedding": 0}
    for film, sequel in FRANCHISES.items():
        a, b = (int(vocab.index([rec.find_movie(t)])[0]) for t in (film, sequel))
        ours = [vocab.index([s.movie_id])[0] for s in rec.similar(int(vocab.ids[a]), n=100)]
        cos = unit[a] @ unit.T
        cos[a] = -np.inf
        old = int((cos > cos[b]).sum()) + 1
        new = ours.index(b) + 1 if b in ours else None
        found["similar"] += new is not None and new <= 10
        found["embedding"] += old <= 10
        print(f"{film[:58]:58s} {new or '>100':>8} {old:>9}")
    print(f"sequel in the top 10: similar {found['similar']}/{len(FRANCHISES)}, embedding {found['embedding']}/{len(FRANCHISES)}")
    sequels(rec)
    genres = rec._filter.genres
    probes = np.flatnonzero(counts >= 20)
    ours = np.array([[vocab.index([s.movie_id])[0] for s in rec.similar(int(vocab.ids[p]), n=10)] for p in probes])
    cos = unit[probes] @ unit.T
    cos[np.arange(probes.size), probes] = -np.inf
    old = top_k(cos, 10)

    def overlap(top):
        shared = (genres[top] & genres[probes][:, None, :]).sum(-1)
        union = (genres[top] | genres[probes][:, None, :]).sum(-1)
        return float((shared / np.maximum(union, 1)).mean())

    print(f"top-10 genre overlap (Jaccard, {probes.size} movies with >= 20 ratings): "
          f"similar {overlap(ours):.3f}, embedding {overlap(old):.3f}")
    rng = np.random.default_rng(0)
    times = []
    for movie in vocab.ids[rng.choice(len(vocab), 500)].tolist():
        start = time.perf_counter()
        rec.similar(int(movie), n=10)
        times.append(time.perf_counter() - start)
    ms = np.array(times) * 1e3
    print(f"similar(n=10), 500 random movies: median {np.median(ms):.3f} ms, p99 {np.percentile(ms, 99):.3f} ms (bar 5 ms)")
    print(f"mean log(1 + ratings) of the neighbours: similar {np.log1p(counts[ours]).mean():.2f}, "
          f"embedding {np.log1p(counts[old]).mean():.2f}, all probes {np.log1p(counts[probes]).mean():.2f}")


def sequel_pairs(rec, min_ratings: int = 5) -> np.ndarray:
    """(film, sequel) movie indices [n, 2] found from titles alone: "X 2", "X II", "X Part II" (and
    "X 2: ...") of an earlier film "X", both with ``min_ratings`` ratings or more."""
    import pandas as pd

    from movierec.data.series import series_names
    from movierec.data.titles import split_year

    rows = rec.catalog.rows(rec.movie_vocab.ids)
    titles = pd.Series(np.where(rows >= 0, rec.catalog.titles[np.maximum(rows, 0)], ""), dtype=object)
    whole, year = series_names(titles)[1], split_year(titles)[1]  # normalized as the series are
    first = {title: movie for movie, title in reversed(list(enumerate(whole)))}
    original = whole.str.extract(r"^(.*?) (?:2|ii|part 2|part ii)(?: .*)?$", expand=False)
    counts = rec.artifact.movie_counts
    pairs = [
        (first[o], s) for s, o in enumerate(original)
        if isinstance(o, str) and o in first and year[first[o]] < year[s] and min(counts[first[o]], counts[s]) >= min_ratings
    ]
    return np.array(pairs, np.int64).reshape(-1, 2)


def sequels(rec) -> None:
    """Every sequel pair the titles give: how often the sequel is among ``similar``'s top 10, and
    among the co-rating similarity's alone (no series boost). The similarity's exponent,
    shrinkage and boost were chosen on the odd-numbered pairs (on a plateau: most settings near
    them are within one pair there); the even ones were held out."""
    from movierec.eval.metrics import top_k
    from movierec.recommend.similarity import CoRatings

    pairs = sequel_pairs(rec)
    ids = rec.movie_vocab.ids
    ours = [[int(m) for m in rec.movie_vocab.index([s.movie_id for s in rec.similar(int(ids[a]), n=10)])] for a, _ in pairs]
    alone = top_k(CoRatings(rec.artifact.seen).rows(pairs[:, 0]), 10)
    hits = {
        "similar": np.array([b in top for top, b in zip(ours, pairs[:, 1])]),
        "co-ratings alone": np.array([b in top for top, b in zip(alone.tolist(), pairs[:, 1])]),
    }
    print(f"\n{len(pairs)} sequel pairs from the titles (X / X 2, II, Part II; both >= 5 ratings): sequel in the top 10")
    for label, hit in hits.items():
        print(f"  {label:17s} {hit.mean():.3f}   chosen on (odd) {hit[1::2].mean():.3f}   held out (even) {hit[0::2].mean():.3f}")


def explanations(rec, step: int) -> None:
    from movierec.recommend.similarity import counterfactual, explain

    print("\n== Explanations: counterfactual test ==")
    rng = np.random.default_rng(0)
    seen = rec.artifact.seen
    for kind, model in rec.artifact.models().items():
        wins = total = empty = 0
        start = time.perf_counter()
        for row in range(0, seen.shape[0], step):
            movies = seen.indices[seen.indptr[row] : seen.indptr[row + 1]]
            stars = seen.data[seen.indptr[row] : seen.indptr[row + 1]]
            scores = model.fold_in(movies, stars)
            scores[movies] = -np.inf
            picks = np.argsort(-scores)[:10]
            for pick, because in zip(picks, explain(model, movies, stars, picks)):
                if not because:
                    empty += 1
                    continue
                explained, random = counterfactual(model, movies, stars, int(pick), because, rng)
                wins += explained > random
                total += 1
        print(f"{kind} model {model.name}: explaining movies lower the score more than random ones for "
              f"{wins}/{total} = {wins / max(total, 1):.1%} of recommendations ({empty} had no positive reason; "
              f"{time.perf_counter() - start:.0f} s)")


def cases(rec) -> None:
    print("\n== Cases ==")
    kids = {rec.find_movie(t): 5.0 for t in ("Toy Story (1995)", "Finding Nemo (2003)", "Incredibles, The (2004)")}
    for label, recs in (
        ("kids' profile (Toy Story, Finding Nemo, The Incredibles = 5), --genre Horror",
         rec.recommend_for_ratings(kids, n=5, genres=["Horror"])),
        ("kids' profile, no filter", rec.recommend_for_ratings(kids, n=5)),
        ("user 1", rec.recommend(1, n=10)),
    ):
        print(label)
        for r in recs:
            because = "; ".join(f"{b['title']} ({b['rating']:g}*)" for b in r.because) or "-"
            print(f"  {r.title} - because you rated {because}")
    rated = dict(zip(*rec.user_ratings(1)))
    print(f"user 1 rated Toy Story: {rated.get(1)}")
    reasons = rec.recommend_for_ratings({int(m): float(s) for m, s in rated.items()}, n=200)
    toy2 = [r for r in reasons if r.movie_id == rec.find_movie("Toy Story 2 (1999)")]
    for r in toy2:
        print("  Toy Story 2 for user 1 (fold-in, rank "
              f"{reasons.index(r) + 1}): because you rated " + "; ".join(f"{b['title']} ({b['rating']:g}*)" for b in r.because))


def curve(data) -> None:
    from support import VALIDATION_SEEDS, explored_metrics, validation_splits

    from movierec.eval.splits import user_holdout
    from movierec.models import DEFAULT_RANKING, make_model
    from movierec.recommend.novelty import DEFAULT_EXPLORE

    test = user_holdout(data, 0.2, seed=42)
    seeds = ", ".join(map(str, VALIDATION_SEEDS))
    for label, splits in ((f"validation (inside the training part; mean of seeds {seeds})", validation_splits(test.train)),
                          ("test", [test])):
        runs, fit_s = [], []
        for split in splits:
            model = make_model(DEFAULT_RANKING)
            start = time.perf_counter()
            model.fit(split.train)
            fit_s.append(time.perf_counter() - start)
            runs.append(explored_metrics(model, split, EXPLORE))
        print(f"\n== Explore curve, {label}: {DEFAULT_RANKING} on the per-user 80/20 split "
              f"(fit {np.mean(fit_s):.1f} s, load average {os.getloadavg()[0]:.2f}) ==")
        print(f"{'explore':>7s} {'NDCG@10':>8s} {'coverage':>8s} {'novelty':>8s} {'diversity':>9s}")
        ndcg = {}
        for explore in EXPLORE:
            m = {f: np.mean([getattr(r[explore], f) for r in runs]) for f in ("ndcg", "coverage", "novelty", "diversity")}
            ndcg[explore] = m["ndcg"]
            print(f"{explore:7.1f} {m['ndcg']:8.4f} {m['coverage']:8.4f} {m['novelty']:8.2f} {m['diversity']:9.3f}")
        if len(splits) > 1:
            choice = max(e for e, v in ndcg.items() if v >= (1 - TOLERANCE) * ndcg[0.0])
            print(f"largest explore whose NDCG is at least {1 - TOLERANCE:.0%} of explore 0's: {choice} (DEFAULT_EXPLORE is {DEFAULT_EXPLORE})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="ml-latest-small")
    parser.add_argument("--data-dir", default=os.environ.get("MOVIEREC_DATA"))
    parser.add_argument("--only", help="comma-separated sections: neighbours,cases,explanations,curve [default: all]")
    parser.add_argument("--step", type=int, default=5, help="explain the recommendations of every STEP-th user")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=r".*[Ss]parse.*", category=UserWarning)
    import movierec
    from movierec.recommend.recommender import Recommender

    sections = set((args.only or "neighbours,cases,explanations,curve").split(","))
    data = movierec.load(args.data, args.data_dir)
    if sections - {"curve"}:
        start = time.perf_counter()
        rec = Recommender.fit(data)
        print(f"default models trained on all {data.n_ratings:,} ratings in {time.perf_counter() - start:.0f} s")
        for name, run in (("neighbours", neighbours), ("cases", cases)):
            if name in sections:
                run(rec)
        if "explanations" in sections:
            explanations(rec, args.step)
    if "curve" in sections:
        curve(data)


if __name__ == "__main__":
    main()
