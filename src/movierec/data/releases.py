"""The GroupLens MovieLens releases: where each lives, its checksum, file format and rating scale."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DataError

BASE_URL = "https://files.grouplens.org/datasets/movielens"

#: On-disk layouts: ``csv`` (ratings.csv/movies.csv, UTF-8), ``dat`` (ratings.dat/movies.dat,
#: ``::``-separated) and ``100k`` (u.data/u.item/u.genre). See :mod:`movierec.data.readers`.
FORMATS = ("csv", "dat", "100k")


@dataclass(frozen=True)
class Release:
    """One downloadable release. ``md5=None`` means: read ``<url>.md5`` at download time
    (ml-32m and ml-latest, whose archives GroupLens regenerates)."""

    name: str
    md5: str | None
    folder: str  # top-level folder inside the zip
    format: str
    rating_scale: tuple[float, float]
    rating_step: float  # 1.0: whole stars only; 0.5: half stars
    n_ratings: int | None = None  # published size, for help text and sanity
    url: str = ""

    def __post_init__(self) -> None:
        if not self.url:
            object.__setattr__(self, "url", f"{BASE_URL}/{self.name}.zip")

    @property
    def filename(self) -> str:
        """The archive's file name in the data folder."""
        return f"{self.name}.zip"


_HALF = ((0.5, 5.0), 0.5)
_WHOLE = ((1.0, 5.0), 1.0)

RELEASES: dict[str, Release] = {
    r.name: r
    for r in (
        Release("ml-latest-small", "31a303aabbc519bd33d025e44d6c2570", "ml-latest-small", "csv", *_HALF, 100_836),
        Release("ml-latest", None, "ml-latest", "csv", *_HALF, None),
        Release("ml-100k", "0e33842e24a9c977be4e0107933c0723", "ml-100k", "100k", *_WHOLE, 100_000),
        Release("ml-1m", "c4d9eecfca2ab87c1945afe126590906", "ml-1m", "dat", *_WHOLE, 1_000_209),
        Release("ml-10m", "ce571fd55effeba0271552578f2648bd", "ml-10M100K", "dat", *_HALF, 10_000_054),
        Release("ml-20m", "cd245b17a1ae2cc31bb14903e1204af3", "ml-20m", "csv", *_HALF, 20_000_263),
        Release("ml-25m", "6b51fb2759a8657d3bfcbfc42b592ada", "ml-25m", "csv", *_HALF, 25_000_095),
        Release("ml-32m", None, "ml-32m", "csv", *_HALF, 32_000_204),
    )
}
DEFAULT_RELEASE = "ml-latest-small"


def release(name: str) -> Release:
    """The release called ``name``; a DataError lists the known names otherwise."""
    try:
        return RELEASES[name]
    except KeyError:
        raise DataError(
            f"unknown MovieLens release {name!r}: expected one of {', '.join(RELEASES)} "
            "(or a path to a release zip, release folder or ratings CSV)"
        ) from None


def by_folder(folder_name: str) -> Release | None:
    """The release whose zip folder (or name) is ``folder_name``, e.g. ``ml-10M100K`` -> ml-10m."""
    for r in RELEASES.values():
        if folder_name in (r.folder, r.name):
            return r
    return None
