"""movierec: movie recommenders on MovieLens, from loading to serving."""

from __future__ import annotations

from .catalog import Catalog
from .dataset import Dataset
from .errors import DataError, DataWarning, DownloadError, ModelError, MovierecError, UnknownIdError
from .loading import load
from .splits import Split, random_holdout, user_holdout
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
    "Split",
    "UnknownIdError",
    "Vocabulary",
    "load",
    "random_holdout",
    "user_holdout",
]
