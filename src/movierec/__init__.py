"""movierec: movie recommenders on MovieLens, from loading to serving."""

from __future__ import annotations

from .catalog import Catalog
from .dataset import Dataset
from .errors import DataError, DataWarning, DownloadError, ModelError, MovierecError, UnknownIdError
from .download import fetch
from .evaluation import evaluate
from .loading import load
from .recommender import Recommendation, Recommender, SimilarMovie
from .splits import Split, kfold, last_n, random_holdout, temporal, user_holdout
from .vocabulary import Vocabulary

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
