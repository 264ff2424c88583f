"""Writers of every on-disk MovieLens layout: the same bytes the readers parse, so every
layout round-trips (tests and benchmarks write generated releases with them)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DataError
from .catalog import NO_GENRES
from .dataset import Dataset
from .loading import off_scale
from .readers import RATINGS_COLUMNS, genre_strings
from .releases import FORMATS, RELEASES


# -- writing ---------------------------------------------------------------------------------
def _large(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def _rating_text(ratings: np.ndarray, always_decimal: bool) -> pa.Array:
    """Ratings as text: ``4``/``3.5`` (.dat, u.data) or ``4.0``/``3.5`` (CSV releases)."""
    text = pc.cast(pa.array(ratings, pa.float32()), pa.large_string())
    if not always_decimal:
        return text
    whole = pa.array((np.mod(ratings, 1) == 0) & (np.abs(ratings) < 1e15))
    return pc.if_else(whole, pc.binary_join_element_wise(text, _large("0"), _large(".")), text)


def _write_lines(f: BinaryIO, columns: list[pa.Array], sep: str) -> None:
    """Write ``columns`` as ``sep``-joined lines: joined in Arrow, written from its buffer."""
    large = [c if c.type == pa.large_string() else pc.cast(c, pa.large_string()) for c in columns]
    joined = pc.binary_join_element_wise(*large, _large(sep))
    joined = pc.binary_join_element_wise(joined, _large(""), _large("\n"))  # each line ends in "\n"
    if len(joined) == 0:
        return
    offsets = np.frombuffer(joined.buffers()[1], np.int64)[joined.offset : joined.offset + len(joined) + 1]
    f.write(memoryview(joined.buffers()[2])[offsets[0] : offsets[-1]])


def _write_ratings(path: Path, data: Dataset, sep: str, header: str | None, decimal: bool) -> None:
    chunk = 1 << 22  # bounded memory for 25M+ ratings
    with open(path, "wb") as f:
        if header:
            f.write(header.encode() + b"\n")
        for start in range(0, data.n_ratings, chunk):
            part = slice(start, start + chunk)
            _write_lines(
                f,
                [
                    pa.array(data.user_vocab.ids[data.users[part]]),
                    pa.array(data.movie_vocab.ids[data.movies[part]]),
                    _rating_text(data.ratings[part], decimal),
                    pa.array(data.timestamps[part]),
                ],
                sep,
            )


def _encode_legacy(text: str) -> bytes:
    """latin-1 as the original releases are; UTF-8 when a title needs characters latin-1 lacks."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")



def write_release(dataset: Dataset, folder: str | Path, fmt: str = "csv") -> Path:
    """Write ``dataset`` into ``folder`` in the file layout of ``fmt``.

    ``fmt`` is a layout (``csv``, ``dat``, ``100k``) or a release name (``ml-1m`` -> ``dat``).
    A release name, and ``100k``, also fix the rating scale: ratings off it raise DataError rather
    than make a release that would not load back. Every catalog movie is written, rated or not.
    Returns ``folder``.
    """
    scale, step = ((1.0, 5.0), 1.0) if fmt == "100k" else (None, None)
    if fmt in RELEASES:
        scale, step, fmt = RELEASES[fmt].rating_scale, RELEASES[fmt].rating_step, RELEASES[fmt].format
    if fmt not in FORMATS:
        raise DataError(f"unknown release format {fmt!r}: expected one of {', '.join(FORMATS)} or a release name")
    if scale is not None and (bad := np.flatnonzero(off_scale(dataset.ratings, scale, step))).size:
        raise DataError(
            f"the {fmt} layout holds ratings from {scale[0]:g} to {scale[1]:g} in steps of {step:g}; "
            f"found {dataset.ratings[bad[0]]:g} ({bad.size:,} such ratings). Round them first, or write "
            "another layout (csv keeps half stars)"
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cat = dataset.catalog
    titles = pd.Series(cat.titles, dtype=object).astype(str)
    if fmt == "csv":
        _write_ratings(folder / "ratings.csv", dataset, ",", ",".join(RATINGS_COLUMNS), decimal=True)
        movies = pd.DataFrame(
            {"movieId": cat.movie_ids, "title": titles, "genres": genre_strings(cat.genres, cat.genre_names)}
        )
        movies.to_csv(folder / "movies.csv", index=False, lineterminator="\n", encoding="utf-8")
    elif fmt == "dat":
        _write_ratings(folder / "ratings.dat", dataset, "::", None, decimal=False)
        lines = pd.Series(cat.movie_ids).astype(str) + "::" + titles + "::" + genre_strings(cat.genres, cat.genre_names)
        (folder / "movies.dat").write_bytes(_encode_legacy("".join(lines + "\n")))
    else:
        _write_ratings(folder / "u.data", dataset, "\t", None, decimal=False)
        names = [g for g in cat.genre_names if g != NO_GENRES]
        flags = cat.genres[:, [cat.genre_names.index(g) for g in names]].astype(np.int8)
        years = cat.years.astype(int)
        date = np.where(years > 0, "01-Jan-" + pd.Series(years).astype(str), "")
        url = "http://us.imdb.com/M/title-exact?" + titles.str.replace(" ", "%20", regex=False)
        lines = pd.Series(cat.movie_ids).astype(str) + "|" + titles + "|" + date + "||" + url
        for j in range(len(names)):
            lines = lines + "|" + flags[:, j].astype(str)
        (folder / "u.item").write_bytes(_encode_legacy("".join(lines + "\n")))
        genre_lines = "".join(f"{name}|{i}\n" for i, name in enumerate(names)) + "\n"
        (folder / "u.genre").write_bytes(_encode_legacy(genre_lines))
    return folder


