"""The Recommender: trained models behind MovieLens ids and titles.

This is what the CLI, the demo and the HTTP server call. It takes and returns MovieLens ids and
plain values; unknown ids raise :class:`UnknownIdError`. Everything a call needs is prepared
once (normalized movie embeddings, per-movie genre rows and years, the title index), so a
request is a few vectorized NumPy operations over the catalog and no Python loop over it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..data.catalog import Catalog
from ..data.dataset import Dataset
from ..data.vocabulary import Vocabulary
from ..errors import DataError, ModelError, UnknownIdError
from ..eval.evaluation import rating_scores, scoring_device
from ..eval.metrics import ranking_metrics, top_k, unit_rows
from ..eval.topn import popularity_order, top_unseen
from ..eval.splits import Split, random_holdout, user_holdout
from ..models import DEFAULT_RANKING, DEFAULT_RATING, Model, TrainingEvent, make_model
from . import artifact as artifact_io
from .artifact import Artifact
from .titles import TitleIndex

N_BECAUSE = 3  # rated movies shown as the reason for a recommendation
LIKED_SHARE = 0.75  # "highly rated": at least 75% of the way up the rating scale (3.875 of 0.5-5)
MAX_POOL = 256  # most rated movies compared with each recommendation when explaining it


@dataclass(frozen=True)
class Recommendation:
    movie_id: int
    title: str
    year: int | None
    genres: list[str]
    score: float  # the ranking model's score (or the rating model's prediction): higher is better
    predicted_rating: float | None  # stars from the rating model, clipped to the scale
    because: list[dict[str, Any]] = field(default_factory=list)  # {"movie_id", "title", "rating"}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SimilarMovie:
    movie_id: int
    title: str
    year: int | None
    genres: list[str]
    similarity: float  # cosine of the movie embeddings, in [-1, 1]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Recommender:
    """A rating model and/or a ranking model, with vocabularies, catalog and seen ratings."""

    def __init__(self, artifact: Artifact):
        artifact.check()
        self.artifact = artifact
        self.rating = artifact.rating
        self.ranking = artifact.ranking
        self._scorer: Model = artifact.ranking if artifact.ranking is not None else artifact.rating  # type: ignore[assignment]
        self.rating_scale = artifact.rating_scale
        catalog = artifact.catalog
        # Per movie index: its catalog row (-1 when a rated movie has no catalog entry), genres, year.
        self._catalog_rows = catalog.rows(artifact.movie_vocab.ids)
        known = self._catalog_rows >= 0
        rows = np.where(known, self._catalog_rows, 0)
        self._movie_genres = catalog.genres[rows] & known[:, None]
        self._movie_years = np.where(known, catalog.years[rows], 0).astype(np.int32)
        embeddings = self.ranking.movie_embeddings() if self.ranking is not None else None
        if embeddings is None and self.rating is not None:
            embeddings = self.rating.movie_embeddings()
        self._unit = None if embeddings is None else unit_rows(embeddings)  # cosine is a dot product
        self._seen = artifact.seen

    # -- construction, persistence ---------------------------------------------------------
    @classmethod
    def fit(
        cls,
        train: Dataset,
        rating: str | Model | None = DEFAULT_RATING,
        ranking: str | Model | None = DEFAULT_RANKING,
        callback: Callable[[TrainingEvent], None] | None = None,
        *,
        rating_params: Mapping[str, Any] | None = None,
        ranking_params: Mapping[str, Any] | None = None,
        holdout: float | None = None,
        split_seed: int = 42,
        on_start: Callable[[str, Model], None] | None = None,
    ) -> "Recommender":
        """Train the rating and ranking models (by name, or unfitted instances) on ``train``.

        With ``holdout`` (e.g. 0.2) each model trains on the rest and its held-out metrics go to
        ``info["metrics"]``: RMSE/MAE of the rating model on a random holdout, and top-10
        ranking metrics of the ranking model on a per-user holdout (both seeded by
        ``split_seed``, as in ``bench/models.py``). Excluded and explaining ratings are always
        all of ``train``. ``on_start(kind, model)`` is called before each model trains.
        Ctrl-C during a model's training keeps its best state so far and skips what follows.
        """
        if rating is None and ranking is None:
            raise ValueError("Recommender.fit needs a rating model, a ranking model or both; got neither")
        fitted: dict[str, Model] = {}
        metrics: dict[str, Any] = {}
        notes: dict[str, Any] = {"holdout": holdout, "split_seed": split_seed if holdout else None}
        stopped = False
        for kind, spec, params in (("rating", rating, rating_params), ("ranking", ranking, ranking_params)):
            if spec is None:
                continue
            model = make_model(spec, **(params or {})) if isinstance(spec, str) else spec
            if model.kind != kind:
                raise ValueError(f"{model.name} is a {model.kind} model; pass it as {model.kind}=, not {kind}=")
            if stopped:
                notes[kind] = {"model": model.name, "skipped": "training was interrupted (Ctrl-C)"}
                continue
            split = None
            if holdout:
                split = (random_holdout if kind == "rating" else user_holdout)(train, holdout, split_seed)
            if on_start is not None:
                on_start(kind, model)
            start = time.perf_counter()
            try:
                model.fit(split.train if split else train, callback)
            except KeyboardInterrupt:  # the model had no state worth keeping yet
                stopped = True
                notes[kind] = {"model": model.name, "skipped": "training was interrupted (Ctrl-C) before a usable state"}
                continue
            notes[kind] = {"model": model.name, "seconds": round(time.perf_counter() - start, 3)}
            fitted[kind] = model
            stopped = stopped or model.interrupted
            if split is not None:
                try:
                    metrics[kind] = evaluate_model(model, split.train, split.test)
                except KeyboardInterrupt:
                    stopped = True
        if not fitted:
            raise KeyboardInterrupt
        notes["interrupted"] = stopped
        return cls(
            Artifact.from_dataset(
                train, rating=fitted.get("rating"), ranking=fitted.get("ranking"), metrics=metrics, training=notes
            )
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write the model directory ``path`` (safetensors + JSON, no pickle)."""
        artifact_io.save(self.artifact, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Recommender":
        """Read a model directory written by :meth:`save` (or ``movierec train -o``)."""
        return cls(artifact_io.load(path))

    # -- what it knows ----------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        return self.artifact.catalog

    @property
    def user_vocab(self) -> Vocabulary:
        return self.artifact.user_vocab

    @property
    def movie_vocab(self) -> Vocabulary:
        return self.artifact.movie_vocab

    @property
    def info(self) -> dict[str, Any]:
        a = self.artifact
        return {
            "dataset": a.dataset,
            "fingerprint": a.fingerprint,
            "rating_scale": list(a.rating_scale),
            "models": {
                kind: {"name": m.name, "params": m.get_params(), "interrupted": bool(m.interrupted)}
                for kind, m in a.models().items()
            },
            "metrics": a.metrics,
            "training": a.training,
            "versions": a.versions or artifact_io.library_versions(),
            "created": a.created,
            "counts": {
                "users": len(a.user_vocab),
                "movies": len(a.movie_vocab),
                "ratings": int(a.seen.nnz),
                "catalog": len(a.catalog),
            },
        }

    def warm_up(self) -> None:
        """Build now what the first requests would otherwise build on the way (the title index,
        the models' scoring views), so a server's first answers are as fast as the rest."""
        self._titles.search("a", limit=1)
        if len(self.user_vocab):
            self.recommend(int(self.user_vocab.ids[0]), n=1)
        self.recommend_for_ratings({}, n=1)

    @cached_property
    def _titles(self) -> TitleIndex:
        counts = np.zeros(len(self.catalog), np.int64)
        known = self._catalog_rows >= 0
        counts[self._catalog_rows[known]] = self.artifact.movie_counts[known]
        return TitleIndex(self.catalog, counts)

    # -- ratings -----------------------------------------------------------------------------
    def predict(self, user_ids: Iterable[int], movie_ids: Iterable[int]) -> np.ndarray:
        """Predicted stars (float32, clipped to the scale) for pairs of ids.

        An unknown user or movie is not an error here: it gets the rating model's documented
        fallback (e.g. the movie's or the global mean), so a batch of pairs always completes.
        """
        model = self._rating_model()
        users = self.user_vocab.index(np.asarray(user_ids, np.int64), missing="negative")
        movies = self.movie_vocab.index(np.asarray(movie_ids, np.int64), missing="negative")
        if users.shape != movies.shape:
            raise ValueError(f"predict needs one movie per user: got {users.size} users and {movies.size} movies")
        return self._clip(model.predict(users, movies))

    def _rating_model(self) -> Model:
        if self.rating is None:
            raise ModelError("this model has no rating model, so it cannot predict stars; train with --rating mf")
        return self.rating

    def _clip(self, values: np.ndarray) -> np.ndarray:
        low, high = self.rating_scale
        return np.clip(np.asarray(values, np.float32), low, high)

    # -- recommendations -----------------------------------------------------------------------
    def recommend(
        self,
        user_id: int,
        n: int = 10,
        genres: Iterable[str] = (),
        year_from: int | None = None,
        year_to: int | None = None,
    ) -> list[Recommendation]:
        """Top ``n`` movies for a training user, none of which they rated.

        ``genres`` keeps movies having *all* of them (case-insensitive); ``year_from``/``year_to``
        are inclusive and drop movies without a year.
        """
        row = self._user_row(user_id)
        scores = self._scorer.score_users(np.array([row], np.int32))[0]
        movies, ratings = self._seen_of(row)
        predicted = None
        if self.rating is not None:
            predicted = lambda picks: self.rating.predict(np.full(picks.size, row, np.int32), picks)  # noqa: E731
        return self._top(scores, movies, ratings, n, genres, year_from, year_to, predicted)

    def recommend_for_ratings(
        self,
        ratings: Mapping[int, float],
        n: int = 10,
        genres: Iterable[str] = (),
        year_from: int | None = None,
        year_to: int | None = None,
    ) -> list[Recommendation]:
        """Top ``n`` movies for a new user given ``{movie_id: stars}``: folded in, no retraining.

        Movies in the catalog that nobody rated in training are ignored (no model knows them);
        ids not in the catalog raise UnknownIdError; stars outside the rating scale raise DataError.
        """
        movie_ids, stars = self.check_ratings(ratings)
        movies = self.movie_vocab.index(movie_ids, missing="negative")
        stars, movies = stars[movies >= 0], movies[movies >= 0]
        scores = self._scorer.fold_in(movies, stars)
        predicted = None
        if self.rating is not None:
            folded = self.rating.fold_in(movies, stars) if self.ranking is not None else scores
            predicted = lambda picks: folded[picks]  # noqa: E731
        return self._top(scores, movies, stars, n, genres, year_from, year_to, predicted)

    def check_ratings(self, ratings: Mapping[int, float]) -> tuple[np.ndarray, np.ndarray]:
        """``{movie_id: stars}`` as arrays (int64 ids, float32 stars), once every movie is in the
        catalog (else UnknownIdError) and every star on the rating scale (else DataError)."""
        movie_ids = np.fromiter((int(m) for m in ratings), np.int64, len(ratings))
        stars = np.fromiter((float(s) for s in ratings.values()), np.float32, len(ratings))
        low, high = self.rating_scale
        bad = ~((stars >= low) & (stars <= high))
        if bad.any():
            raise DataError(
                f"rating {stars[bad][0]:g} for movie {movie_ids[bad][0]} is outside the rating scale {low:g}-{high:g}"
            )
        unknown = self.catalog.rows(movie_ids) < 0
        if unknown.any():
            raise UnknownIdError(f"unknown movie {movie_ids[unknown][0]}: it is not in the catalog")
        return movie_ids, stars

    def recommend_batch(
        self, user_ids: Iterable[int], n: int = 10, device: str = "cpu"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` unseen movies of many training users: (movie ids int64 [u, n], scores float32 [u, n]).

        A user with fewer than ``n`` unseen movies gets movie id -1 and score -inf in the spare slots.
        Blocked: users x movies tiles on ``device``, top-``n`` per tile (see :mod:`movierec.eval.topn`).
        """
        rows = self.user_vocab.index(np.asarray(user_ids, np.int64))
        n = max(0, min(int(n), len(self.movie_vocab)))
        ids = np.full((rows.size, n), -1, np.int64)
        out = np.full((rows.size, n), -np.inf, np.float32)
        order, blocks = self._tiles(device)
        for offset, top, scores in top_unseen(blocks, rows, self._seen, order, n, device):
            found = top >= 0
            ids[offset : offset + top.shape[0]] = np.where(found, self.movie_vocab.ids[np.maximum(top, 0)], -1)
            out[offset : offset + top.shape[0]] = scores
        return ids, out

    def _tiles(self, device: str):
        """The visiting order and the scorer's tile function for ``device``, prepared once."""
        cache = self.__dict__.setdefault("_tile_cache", {})
        if device not in cache:
            order = popularity_order(self._seen)
            cache[device] = order, self._scorer.score_tiles(order, device)
        return cache[device]

    def _top(self, scores, rated, rated_stars, n, genres, year_from, year_to, predicted) -> list[Recommendation]:
        scores = np.array(scores, dtype=np.float32, copy=True)
        scores[rated] = -np.inf
        keep = self._filter(genres, year_from, year_to)
        if keep is not None:
            scores[~keep] = -np.inf
        if n <= 0:
            return []
        picks = top_k(scores[None, :], int(n))[0]
        picks = picks[np.isfinite(scores[picks])]
        stars = self._clip(predicted(picks)) if predicted is not None else None
        because = self._because(rated, rated_stars, picks)
        return [
            Recommendation(
                **self._movie_fields(int(m)),
                score=float(scores[m]),
                predicted_rating=None if stars is None else round(float(stars[i]), 3),
                because=because[i],
            )
            for i, m in enumerate(picks.tolist())
        ]

    def _filter(self, genres: Iterable[str], year_from: int | None, year_to: int | None) -> np.ndarray | None:
        """Movies passing the filters (bool [n_movies]), or None when there is no filter."""
        if isinstance(genres, str):
            genres = (genres,)
        wanted = [g for g in genres if g]
        if not wanted and year_from is None and year_to is None:
            return None
        keep = np.ones(len(self.movie_vocab), dtype=bool)
        if wanted:
            lower = {name.lower(): j for j, name in enumerate(self.catalog.genre_names)}
            missing = [g for g in wanted if g.lower() not in lower]
            if missing:
                raise DataError(
                    f"unknown genre {missing[0]!r}: expected one of {', '.join(self.catalog.genre_names) or 'none'}"
                )
            keep &= self._movie_genres[:, [lower[g.lower()] for g in wanted]].all(axis=1)
        if year_from is not None:
            keep &= self._movie_years >= int(year_from)
        if year_to is not None:
            keep &= (self._movie_years <= int(year_to)) & (self._movie_years > 0)
        return keep

    def _because(self, rated: np.ndarray, stars: np.ndarray, picks: np.ndarray) -> list[list[dict[str, Any]]]:
        """For each pick, the user's liked movies closest to it (see :meth:`_cosine`)."""
        if rated.size == 0 or picks.size == 0:
            return [[] for _ in range(picks.size)]
        low, high = self.rating_scale
        liked = stars >= low + LIKED_SHARE * (high - low)
        if not liked.any():  # nothing rated highly: what they rated above their own mean and mid-scale
            liked = stars >= max(float(stars.mean()), (low + high) / 2)
        pool, pool_stars = rated[liked], stars[liked]
        if pool.size == 0:  # only low ratings: they explain nothing the user would want more of
            return [[] for _ in range(picks.size)]
        if pool.size > MAX_POOL:  # heavy raters: their best-rated movies are reason enough
            keep = np.argsort(-pool_stars, kind="stable")[:MAX_POOL]
            pool, pool_stars = pool[keep], pool_stars[keep]
        sims = self._cosine(picks, pool)  # [picks, pool]
        k = min(N_BECAUSE, pool.size)
        best = top_k(sims, k)
        out = []
        for i, cols in enumerate(best.tolist()):
            reasons = []
            for c in cols:
                if sims[i, c] <= 0:
                    break
                fields = self._movie_fields(int(pool[c]))
                reasons.append({"movie_id": fields["movie_id"], "title": fields["title"], "rating": float(pool_stars[c])})
            out.append(reasons)
        return out

    # -- similar movies ------------------------------------------------------------------------
    def similar(self, movie_id: int, n: int = 10, min_ratings: int = 0) -> list[SimilarMovie]:
        """The ``n`` movies closest to ``movie_id`` (see :meth:`_cosine`).

        ``min_ratings`` hides movies with fewer training ratings (obscure neighbours are noisy).
        """
        row = self._movie_row(movie_id)
        sims = self._cosine(np.array([row]))[0]
        sims[row] = -np.inf
        if min_ratings > 0:
            sims[self.artifact.movie_counts < min_ratings] = -np.inf
        if n <= 0:
            return []
        picks = top_k(sims[None, :], int(n))[0]
        picks = picks[np.isfinite(sims[picks])]
        return [SimilarMovie(**self._movie_fields(int(m)), similarity=float(sims[m])) for m in picks.tolist()]

    def _cosine(self, targets: np.ndarray, others: np.ndarray | None = None) -> np.ndarray:
        """Cosine similarity [len(targets), len(others) or n_movies] between movie indices.

        Over the models' movie embeddings; when neither model has any (e.g. EASE with the biases
        model), over who rated what instead: the cosine of the movies' binary user columns.
        """
        if self._unit is not None:
            right = self._unit if others is None else self._unit[others]
            return self._unit[targets] @ right.T
        by_user, by_movie = self._co_rated
        cols = by_movie[:, targets].T.tocsr()  # targets x users
        if others is not None:
            return (cols @ by_movie[:, others]).toarray().astype(np.float32)
        users = np.unique(cols.indices)
        sims = cols[:, users] @ by_user[users]  # targets x movies, touching only their raters
        return sims.toarray().astype(np.float32)

    @cached_property
    def _co_rated(self) -> tuple[sp.csr_matrix, sp.csc_matrix]:
        """Users x movies binary matrix with unit-norm movie columns, as CSR and CSC."""
        rated = sp.csr_matrix((np.ones(self._seen.nnz, np.float32), self._seen.indices, self._seen.indptr), self._seen.shape)
        counts = np.asarray(self.artifact.movie_counts, np.float32)
        scale = np.divide(1.0, np.sqrt(counts), out=np.zeros_like(counts), where=counts > 0)
        rated = (rated @ sp.diags(scale)).tocsr()
        return rated, rated.tocsc()

    # -- movies and users ----------------------------------------------------------------------
    def find_movie(self, query: str | int) -> int:
        """The movie id ``query`` names: an id (int or digits) or a forgiving title ("matrix, the")."""
        if isinstance(query, (int, np.integer)) and not isinstance(query, bool):
            if self.catalog.rows(np.array([query]))[0] < 0:
                raise UnknownIdError(f"unknown movie {int(query)}: it is not in the catalog")
            return int(query)
        return self._titles.find(str(query))

    def search(self, query: str, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        """Movies whose title matches ``query``, best match first, as :meth:`movie_info` dicts."""
        rows = self._titles.search(query, limit, offset)
        return [self._info_of_row(r) for r in rows]

    def movie_info(self, movie_id: int) -> dict[str, Any]:
        """Title, year, genres, training rating count and mean of a catalog movie."""
        row = int(self.catalog.rows(np.array([int(movie_id)]))[0])
        if row < 0:
            raise UnknownIdError(f"unknown movie {int(movie_id)}: it is not in the catalog")
        return self._info_of_row(row)

    def user_ratings(self, user_id: int) -> tuple[np.ndarray, np.ndarray]:
        """The user's training ratings: (movie ids int64, stars float32), by movie id."""
        movies, stars = self._seen_of(self._user_row(user_id))
        return self.movie_vocab.ids[movies], stars.copy()

    def _info_of_row(self, row: int) -> dict[str, Any]:
        info = self.catalog.movie(row)
        index = int(self.movie_vocab.index([info["movie_id"]], missing="negative")[0])
        count = int(self.artifact.movie_counts[index]) if index >= 0 else 0
        info["n_ratings"] = count
        info["mean_rating"] = round(float(self.artifact.movie_means[index]), 3) if count else None
        return info

    def _movie_fields(self, index: int) -> dict[str, Any]:
        row = int(self._catalog_rows[index])
        if row >= 0:
            return self.catalog.movie(row)
        movie_id = int(self.movie_vocab.ids[index])
        return {"movie_id": movie_id, "title": f"Movie {movie_id}", "year": None, "genres": []}

    def _seen_of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = self._seen.indptr[row], self._seen.indptr[row + 1]
        return self._seen.indices[start:end], self._seen.data[start:end]

    def _user_row(self, user_id: int) -> int:
        try:
            row = int(self.user_vocab.index([int(user_id)], missing="negative")[0])
        except (TypeError, ValueError):
            row = -1
        if row < 0:
            ids = self.user_vocab.ids
            raise UnknownIdError(
                f"unknown user {user_id!r}: the model knows {ids.size} users"
                + (f" (ids {ids[0]}..{ids[-1]})" if ids.size else "")
                + "; a new user can get recommendations from their own ratings instead"
            )
        return row

    def _movie_row(self, movie_id: int) -> int:
        try:
            movie_id = int(movie_id)
        except (TypeError, ValueError):
            raise UnknownIdError(f"expected a movie id (an integer), got {movie_id!r}") from None
        row = int(self.movie_vocab.index([movie_id], missing="negative")[0])
        if row < 0:
            if self.catalog.rows(np.array([movie_id]))[0] >= 0:
                raise UnknownIdError(f"movie {movie_id} has no ratings in the training data, so the model does not know it")
            raise UnknownIdError(f"unknown movie {movie_id}: it is not in the catalog")
        return row

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k}={m.name}" for k, m in self.artifact.models().items())
        return f"Recommender({kinds}, dataset={self.artifact.dataset!r}, users={len(self.user_vocab):,})"


def evaluate_model(model: Model, train: Dataset, test: Dataset, k: int = 10) -> dict[str, float]:
    """Held-out metrics of a fitted model, as ``movierec evaluate`` measures them: RMSE/MAE
    (with the count of test pairs answered by fallback) for rating models, top-``k`` ranking
    metrics for ranking models."""
    if model.kind == "rating":
        scores, unknown = rating_scores(model, Split(train, test))
        return {**scores, "test_ratings": test.n_ratings, "unknown": unknown}
    return ranking_metrics(model, train, test, k=k, device=scoring_device(model)).as_dict()
