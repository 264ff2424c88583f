"""movierec: movie recommenders on MovieLens, from loading to serving."""

from __future__ import annotations

from .data.catalog import Catalog
from .data.dataset import Dataset
from .data.download import fetch
from .data.loading import load
from .data.vocabulary import Vocabulary
from .errors import DataError, DataWarning, DownloadError, ModelError, MovierecError, UnknownIdError
from .eval.evaluation import evaluate
from .eval.splits import Split, kfold, last_n, random_holdout, temporal, user_holdout
from .recommend.recommender import Recommendation, Recommender, SimilarMovie

__version__ = "0.1.0"

__all__ = [
    "Catalog",
    "DataError",
    "DataWarning",
    "Dataset",
    "DownloadError",
    "ModelError",
    "MovierecError",
    "Recommendation",
    "Recommender",
    "SimilarMovie",
    "Split",
    "UnknownIdError",
    "Vocabulary",
    "evaluate",
    "fetch",
    "kfold",
    "last_n",
    "load",
    "random_holdout",
    "temporal",
    "user_holdout",
]
