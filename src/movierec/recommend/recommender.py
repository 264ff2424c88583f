"""The Recommender: trained models behind MovieLens ids and titles.

This is what the CLI, the demo and the HTTP server call. It takes and returns MovieLens ids and
plain values; unknown ids raise :class:`UnknownIdError`. Everything a call needs is prepared
once (per-movie genre rows, years and novelty, the movies' neighbours, the title index), so a
request is a few vectorized NumPy operations over the catalog and no Python loop over it.

The jobs around the query side live next to it: training in :mod:`.training`, similar movies
and explanations in :mod:`.similarity`, the explore re-ranking in :mod:`.novelty`, id lookups
and their errors in :mod:`.lookup`.

Length: the query side of ``Recommender`` only (training, similarity, explanations, filters,
novelty and lookups are their own modules); its methods share the scoring and masking state.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..data.catalog import Catalog
from ..data.dataset import Dataset
from ..data.series import catalog_series
from ..data.titles import TitleIndex
from ..data.vocabulary import Vocabulary
from ..errors import DataError, ModelError
from ..eval.metrics import self_information
from ..eval.topn import popularity_order, top_unseen
from ..models import AUTO, DEFAULT_RANKING, Model, TrainingEvent
from . import artifact as artifact_io
from .artifact import Artifact
from .filters import MovieFilter
from .lookup import catalog_rows, movie_index, user_index
from .novelty import DEFAULT_EXPLORE, explore_top
from .similarity import CoRatings, Neighbours, explain
from .training import train_artifact


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
    similarity: float  # shrunk co-rating similarity (recommend.similarity): [0, 1], x3 within a series

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
        self._filter = MovieFilter(catalog, self._catalog_rows)
        self._novelty = self_information(artifact.movie_counts, len(artifact.user_vocab))
        self._seen = artifact.seen

    # -- construction, persistence ---------------------------------------------------------
    @classmethod
    def fit(
        cls,
        train: Dataset,
        rating: str | Model | None = AUTO,
        ranking: str | Model | None = DEFAULT_RANKING,
        callback: Callable[[TrainingEvent], None] | None = None,
        *,
        rating_params: Mapping[str, Any] | None = None,
        ranking_params: Mapping[str, Any] | None = None,
        holdout: float | None = None,
        split_seed: int = 42,
        on_start: Callable[[str, Model | None], None] | None = None,
    ) -> Recommender:
        """Train the rating and ranking models (by name, or unfitted instances) on ``train``;
        ``rating="auto"``: bayesfm, or mf past a few million ratings (``models.auto_rating``).

        With ``holdout`` (e.g. 0.2) each model trains on the rest and its held-out metrics go to
        ``info["metrics"]``: RMSE/MAE of the rating model on a random holdout, and top-10
        ranking metrics of the ranking model on a per-user holdout (both seeded by
        ``split_seed``, as in ``bench/models.py``). Excluded and explaining ratings are always
        all of ``train``. ``on_start(kind, model)`` is called before each model trains (and with
        ``("similar movies", None)`` before the neighbours are built).
        Ctrl-C during a model's training keeps its best state so far and skips what follows.
        """
        return cls(
            train_artifact(
                train,
                rating,
                ranking,
                callback,
                rating_params=rating_params,
                ranking_params=ranking_params,
                holdout=holdout,
                split_seed=split_seed,
                on_start=on_start,
            )
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write the model directory ``path`` (safetensors + JSON, no pickle)."""
        artifact_io.save(self.artifact, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Recommender:
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
        self._neighbours  # noqa: B018 (computed here for a folder saved without them)
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
        *,
        explore: float = DEFAULT_EXPLORE,
    ) -> list[Recommendation]:
        """Top ``n`` movies for a training user, none of which they rated.

        ``genres`` keeps movies having *all* of them (case-insensitive); ``year_from``/``year_to``
        are inclusive and drop movies without a year. ``explore`` from 0 (the model's order) to 1
        re-ranks the best-scored movies toward those fewer people rated (see :mod:`.novelty`).
        Each recommendation's ``because`` lists the rated movies adding most to its score.
        """
        row = user_index(self.user_vocab, user_id)
        scores = self._scorer.score_users(np.array([row], np.int32))[0]
        movies, ratings = self._seen_of(row)
        predicted = None
        if self.rating is not None:
            predicted = lambda picks: self.rating.predict(np.full(picks.size, row, np.int32), picks)
        return self._top(scores, movies, ratings, n, self._filter.keep(genres, year_from, year_to), predicted, explore)

    def popular(
        self, n: int = 10, genres: Iterable[str] = (), year_from: int | None = None, year_to: int | None = None,
        exclude: Iterable[int] = (),
    ) -> list[int]:
        """Ids of the ``n`` most-rated catalog movies passing the filters (as in :meth:`recommend`),
        leaving out ``exclude``: what to offer a profile the model cannot score."""
        keep = (self._catalog_rows >= 0) & ~np.isin(self.movie_vocab.ids, np.fromiter(exclude, np.int64))
        chosen = self._filter.keep(genres, year_from, year_to)
        if chosen is not None:
            keep &= chosen
        candidates = np.flatnonzero(keep)
        top = candidates[np.argsort(-self.artifact.movie_counts[candidates], kind="stable")[:n]]
        return [int(m) for m in self.movie_vocab.ids[top]]

    def recommend_for_ratings(
        self,
        ratings: Mapping[int, float],
        n: int = 10,
        genres: Iterable[str] = (),
        year_from: int | None = None,
        year_to: int | None = None,
        *,
        explore: float = DEFAULT_EXPLORE,
    ) -> list[Recommendation]:
        """Top ``n`` movies for a new user given ``{movie_id: stars}``: folded in, no retraining.
        Filters and ``explore`` as in :meth:`recommend`.

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
            predicted = lambda picks: folded[picks]
        return self._top(scores, movies, stars, n, self._filter.keep(genres, year_from, year_to), predicted, explore)

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
        catalog_rows(self.catalog, movie_ids)
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

    def _top(self, scores, rated, rated_stars, n, keep, predicted, explore) -> list[Recommendation]:
        """The best ``n`` of ``scores`` among unrated movies passing ``keep``, explained."""
        scores = np.array(scores, dtype=np.float32, copy=True)
        scores[rated] = -np.inf
        if keep is not None:
            scores[~keep] = -np.inf
        if n <= 0:
            return []
        picks = explore_top(scores[None, :], self._novelty, int(n), explore)[0]
        picks = picks[np.isfinite(scores[picks])]
        stars = self._clip(predicted(picks)) if predicted is not None else None
        because = explain(self._scorer, rated, rated_stars, picks)
        return [
            Recommendation(
                **self._movie_fields(int(m)),
                score=float(scores[m]),
                predicted_rating=None if stars is None else round(float(stars[i]), 3),
                because=[self._reason(int(rated[j]), float(rated_stars[j])) for j in because[i]],
            )
            for i, m in enumerate(picks.tolist())
        ]

    # -- similar movies ------------------------------------------------------------------------
    def similar(self, movie_id: int, n: int = 10, min_ratings: int = 0) -> list[SimilarMovie]:
        """The ``n`` movies most similar to ``movie_id`` by who rated both (:mod:`.similarity`).

        ``min_ratings`` hides movies with fewer training ratings. Movies sharing no rater with
        it are never similar, so a rarely rated movie may get fewer than ``n``.
        """
        row = movie_index(self.catalog, self.movie_vocab, movie_id)
        if n <= 0:
            return []
        allowed = self.artifact.movie_counts >= min_ratings if min_ratings > 0 else None
        found = self._neighbours.top(row, int(n), allowed)
        picks, sims = found if found is not None else self._co_ratings.top(row, int(n), allowed)
        return [
            SimilarMovie(**self._movie_fields(int(m)), similarity=float(v)) for m, v in zip(picks.tolist(), sims.tolist())
        ]

    @cached_property
    def _neighbours(self) -> Neighbours:
        """Saved with the model since they exist; computed from the training ratings otherwise."""
        if self.artifact.neighbours is not None:
            return self.artifact.neighbours
        return Neighbours.build(self._seen, self._series)

    @cached_property
    def _co_ratings(self) -> CoRatings:
        """For the rare query whose filters leave too few of the stored neighbours."""
        return CoRatings(self._seen, self._series)

    @cached_property
    def _series(self) -> sp.csr_matrix:
        """Which movies are of one series, from the catalog (no training Dataset here)."""
        return catalog_series(self.catalog, self.artifact.movie_vocab.ids)

    # -- movies and users ----------------------------------------------------------------------
    def find_movie(self, query: str | int) -> int:
        """The movie id ``query`` names: an id (int or digits) or a forgiving title ("matrix, the")."""
        if isinstance(query, (int, np.integer)) and not isinstance(query, bool):
            catalog_rows(self.catalog, np.array([query]))
            return int(query)
        return self._titles.find(str(query))

    def search(self, query: str, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        """Movies whose title matches ``query``, best match first, as :meth:`movie_info` dicts."""
        rows = self._titles.search(query, limit, offset)
        return [self._info_of_row(r) for r in rows]

    def movie_info(self, movie_id: int) -> dict[str, Any]:
        """Title, year, genres, training rating count and mean of a catalog movie."""
        return self._info_of_row(int(catalog_rows(self.catalog, np.array([int(movie_id)]))[0]))

    def user_ratings(self, user_id: int) -> tuple[np.ndarray, np.ndarray]:
        """The user's training ratings: (movie ids int64, stars float32), by movie id."""
        movies, stars = self._seen_of(user_index(self.user_vocab, user_id))
        return self.movie_vocab.ids[movies], stars.copy()

    def _info_of_row(self, row: int) -> dict[str, Any]:
        info = self.catalog.movie(row)
        index = int(self.movie_vocab.index([info["movie_id"]], missing="negative")[0])
        count = int(self.artifact.movie_counts[index]) if index >= 0 else 0
        info["n_ratings"] = count
        info["mean_rating"] = round(float(self.artifact.movie_means[index]), 3) if count else None
        return info

    def _reason(self, index: int, stars: float) -> dict[str, Any]:
        fields = self._movie_fields(index)
        return {"movie_id": fields["movie_id"], "title": fields["title"], "rating": stars}

    def _movie_fields(self, index: int) -> dict[str, Any]:
        row = int(self._catalog_rows[index])
        if row >= 0:
            return self.catalog.movie(row)
        movie_id = int(self.movie_vocab.ids[index])
        return {"movie_id": movie_id, "title": f"Movie {movie_id}", "year": None, "genres": []}

    def _seen_of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = self._seen.indptr[row], self._seen.indptr[row + 1]
        return self._seen.indices[start:end], self._seen.data[start:end]

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k}={m.name}" for k, m in self.artifact.models().items())
        return f"Recommender({kinds}, dataset={self.artifact.dataset!r}, users={len(self.user_vocab):,})"
