"""Readers of every on-disk MovieLens layout.

Three layouts cover all GroupLens releases (see :data:`movierec.data.releases.FORMATS`):

- ``csv``: ``ratings.csv`` (userId,movieId,rating,timestamp) and ``movies.csv``
  (movieId,title,genres; UTF-8, CSV-quoted titles): ml-latest(-small), ml-20m, ml-25m, ml-32m.
- ``dat``: ``ratings.dat`` (UserID::MovieID::Rating::Timestamp) and ``movies.dat``
  (MovieID::Title::Genres, latin-1): ml-1m, ml-10m.
- ``100k``: ``u.data`` (tab-separated user, item, rating, timestamp), ``u.item`` (pipe-separated,
  latin-1: id, title, release date, video date, IMDb URL, then one 0/1 flag per genre) and
  ``u.genre`` (``name|index``).

Readers parse with pyarrow's multi-threaded CSV engine into NumPy arrays; only when that fails do
they re-scan the file to name the first offending line. :mod:`movierec.data.writers` writes the
same layouts back. Validation that needs the whole release (rating scale, duplicates, movies
missing from the catalog) lives in :mod:`movierec.data.loading`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import BinaryIO, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import DataError
from .archive import MOVIES_FILE, RATINGS_FILE, ReleaseFiles
from .catalog import NO_GENRES

RATINGS_COLUMNS = ("userId", "movieId", "rating", "timestamp")
MOVIES_COLUMNS = ("movieId", "title", "genres")
# Ids are parsed as int32 (every MovieLens id fits; half the memory and copying of int64) and
# re-read as int64 only if a file holds larger ones.
_TYPES = {"userId": pa.int32(), "movieId": pa.int32(), "rating": pa.float32(), "timestamp": pa.int64()}


@dataclass
class RawRatings:
    """Ratings as parsed, before validation: external ids, plus where each row came from."""

    user_ids: np.ndarray  # int32, or int64 when ids need it
    movie_ids: np.ndarray  # int32, or int64 when ids need it
    ratings: np.ndarray  # float32
    timestamps: np.ndarray  # int64 (zeros when the file has none)
    label: str  # file name for messages
    first_line: int  # 1-based line number of row 0

    def line(self, row: int) -> int:
        return int(row) + self.first_line


@dataclass
class RawMovies:
    movie_ids: np.ndarray  # int64
    titles: np.ndarray  # object (str)
    genres: np.ndarray  # object (str): "|"-joined genre names
    label: str
    first_line: int


# -- parsing ---------------------------------------------------------------------------------
def _decode(data: bytes) -> str:
    """UTF-8 when valid, else latin-1 (ml-100k and ml-1m ship latin-1 titles)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _read_text(open_stream: Callable[[], BinaryIO]) -> str:
    """The whole stream, decoded by :func:`_decode`."""
    with open_stream() as f:
        return _decode(f.read())


def _numbered_lines(text: str, first_line: int) -> tuple[pd.Series, np.ndarray]:
    """The non-blank lines of ``text`` from ``first_line`` on (``\r`` stripped), and their
    1-based line numbers."""
    lines = pd.Series(text.split("\n"), dtype=object).str.rstrip("\r")
    numbers = np.arange(len(lines)) + 1
    keep = (numbers >= first_line) & (lines.str.strip().str.len() > 0).to_numpy()
    return lines[keep].reset_index(drop=True), numbers[keep]


def _first_bad(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _diagnose(
    text: str, label: str, sep: str, names: list[str], kinds: dict[str, str], first_line: int, detail: str
) -> DataError:
    """Re-scan a file that the fast parser rejected, to name its first offending line."""
    lines, numbers = _numbered_lines(text, first_line)
    counts = (lines.str.count(re.escape(sep)) + 1).to_numpy()
    # A quoted field may hold the separator (movies.csv titles): such lines are checked only on
    # their first field, the one before any title.
    quoted = lines.str.contains('"', regex=False).to_numpy()
    bad = _first_bad((counts != len(names)) & ~quoted)
    if bad is not None:
        return DataError(
            f"{label} line {numbers[bad]}: expected {len(names)} fields ({', '.join(names)}) separated by "
            f"{sep!r}, found {counts[bad]}: {lines[bad][:100]!r}"
        )
    fields = lines.str.split(sep, regex=False, expand=True)
    for j, name in enumerate(names):
        kind = kinds.get(name)
        if kind is None:
            continue
        raw = fields[j].str.strip()
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        wrong = ~np.isfinite(values)
        if kind == "integer":
            wrong |= np.isfinite(values) & (np.mod(values, 1) != 0)
        bad = _first_bad(wrong & ~quoted if j else wrong)
        if bad is not None:
            return DataError(
                f"{label} line {numbers[bad]}: expected {'an' if kind == 'integer' else 'a'} {kind} in "
                f"column {name!r}, found {raw[bad]!r}"
            )
    return DataError(f"{label}: could not parse the file ({detail})")


def _read_header(open_stream: Callable[[], BinaryIO], label: str) -> list[str]:
    with open_stream() as f:
        first = f.readline()
    if not first.strip():
        raise DataError(f"{label} line 1: expected a header line, found an empty file")
    return [c.strip().strip('"') for c in _decode(first).strip().split(",")]


def _read_table(
    open_stream: Callable[[], BinaryIO],
    label: str,
    *,
    sep: str,
    names: list[str],
    kinds: dict[str, str],
    types: dict[str, pa.DataType],
    header: bool,
    quoting: str = "never",
) -> dict[str, np.ndarray]:
    """Columns ``types`` of a delimited file as NumPy arrays (pyarrow, multi-threaded).

    ``sep`` may be ``::``: it is parsed as ``:`` with empty columns in between, no copy needed.
    ``quoting``: ``"always"`` (titles), ``"allowed"`` (ratings CSVs: rarely quoted) or ``"never"``.
    """
    first_line = 2 if header else 1
    arrow_names = [names[0]]
    for i, name in enumerate(names[1:]):
        arrow_names += ([f"_gap{i}"] if len(sep) == 2 else []) + [name]

    def attempt(types: dict[str, pa.DataType], quotes: bool) -> tuple[pa.Table | None, str]:
        try:
            with open_stream() as f:
                return pacsv.read_csv(
                    f,
                    read_options=pacsv.ReadOptions(
                        column_names=arrow_names, skip_rows=1 if header else 0, block_size=1 << 24
                    ),
                    parse_options=pacsv.ParseOptions(delimiter=sep[0], quote_char='"' if quotes else False),
                    convert_options=pacsv.ConvertOptions(
                        include_columns=list(types), column_types=types, null_values=[""]  # "nan" stays NaN
                    ),
                ), ""
        except pa.ArrowInvalid as exc:
            return None, str(exc).splitlines()[0]

    # First the fast way: int32 ids and, for numbers-only files, no quote handling. Should that
    # fail (ids beyond int32, quoted numbers, or bad input), once more with int64 and quotes.
    table, detail = attempt(types, quoting == "always")
    if table is None and (quoting == "allowed" or pa.int32() in types.values()):
        table, detail = attempt({c: pa.int64() if t == pa.int32() else t for c, t in types.items()}, quoting != "never")
    if table is not None and table.num_rows == 0:
        raise DataError(f"{label}: expected at least one row after line {first_line - 1}, found none (empty file)")
    if table is not None and all(table[c].null_count == 0 for c in types):
        return {c: table[c].to_numpy() for c in types}
    if table is not None:  # empty fields: name the first one
        for c in types:
            if table[c].null_count:
                row = _first_bad(table[c].is_null().to_numpy(zero_copy_only=False))
                raise DataError(f"{label} line {row + first_line}: expected a value in column {c!r}, found none")
    text = _read_text(open_stream)
    if not text.strip():
        raise DataError(f"{label}: expected {', '.join(names)} rows, found an empty file")
    raise _diagnose(text, label, sep, names, kinds, first_line, detail)


_KINDS = {"userId": "integer", "movieId": "integer", "rating": "number", "timestamp": "integer"}


def _ratings_from(columns: dict[str, np.ndarray], label: str, first_line: int) -> RawRatings:
    n = columns["userId"].size
    ts = columns.get("timestamp")
    return RawRatings(
        columns["userId"],
        columns["movieId"],
        columns["rating"].astype(np.float32, copy=False),
        ts.astype(np.int64, copy=False) if ts is not None else np.zeros(n, np.int64),
        label,
        first_line,
    )


def read_ratings_csv(open_stream: Callable[[], BinaryIO], label: str) -> RawRatings:
    """A ratings CSV with a header naming userId, movieId, rating and optionally timestamp."""
    header = _read_header(open_stream, label)
    missing = [c for c in RATINGS_COLUMNS[:3] if c not in header]
    if missing:
        raise DataError(
            f"{label} line 1: expected columns userId,movieId,rating[,timestamp], found "
            f"{','.join(header)!r} (missing {', '.join(missing)}); rename the header to match"
        )
    wanted = [c for c in RATINGS_COLUMNS if c in header]
    names = [c if c in RATINGS_COLUMNS else f"_extra{i}" for i, c in enumerate(header)]
    columns = _read_table(
        open_stream, label, sep=",", names=names, kinds=_KINDS, types={c: _TYPES[c] for c in wanted},
        header=True, quoting="allowed",
    )
    return _ratings_from(columns, label, 2)


def read_ratings_delimited(open_stream: Callable[[], BinaryIO], label: str, sep: str) -> RawRatings:
    """Headerless ``user sep movie sep rating sep timestamp`` lines (ratings.dat, u.data)."""
    names = list(RATINGS_COLUMNS)
    columns = _read_table(open_stream, label, sep=sep, names=names, kinds=_KINDS, types=_TYPES, header=False)
    return _ratings_from(columns, label, 1)


def read_movies_csv(open_stream: Callable[[], BinaryIO], label: str) -> RawMovies:
    header = _read_header(open_stream, label)
    if header[:3] != list(MOVIES_COLUMNS):
        raise DataError(
            f"{label} line 1: expected columns movieId,title,genres, found {','.join(header)!r}; "
            "rename the header to match"
        )
    names = list(MOVIES_COLUMNS) + [f"_extra{i}" for i in range(len(header) - 3)]
    types = {"movieId": pa.int64(), "title": pa.string(), "genres": pa.string()}
    columns = _read_table(
        open_stream, label, sep=",", names=names, kinds={"movieId": "integer"}, types=types,
        header=True, quoting="always",
    )
    return RawMovies(columns["movieId"], columns["title"], columns["genres"], label, 2)


def _split_lines(text: str, label: str, sep: str, n_fields: int, first_line: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """Non-blank lines of ``text`` split into ``n_fields`` columns; the first field is the id."""
    lines, numbers = _numbered_lines(text, first_line)
    if lines.empty:
        raise DataError(f"{label}: expected movie lines, found an empty file")
    fields = lines.str.split(sep, n=n_fields - 1, regex=False, expand=True)
    if fields.shape[1] < n_fields or fields[n_fields - 1].isna().any():
        bad = _first_bad(fields[n_fields - 1].isna().to_numpy()) if fields.shape[1] == n_fields else 0
        raise DataError(
            f"{label} line {numbers[bad]}: expected {n_fields} fields separated by {sep!r}, "
            f"found {lines[bad][:100]!r}"
        )
    ids = pd.to_numeric(fields[0].str.strip(), errors="coerce").to_numpy(np.float64, na_value=np.nan)
    bad = _first_bad(~np.isfinite(ids) | (np.mod(np.nan_to_num(ids), 1) != 0))
    if bad is not None:
        raise DataError(f"{label} line {numbers[bad]}: expected an integer movie id, found {fields[0][bad]!r}")
    return fields, numbers


def read_movies_dat(open_stream: Callable[[], BinaryIO], label: str) -> RawMovies:
    """``MovieID::Title::Genres``; a title may itself contain ``::``, so genres are split from the right."""
    text = _read_text(open_stream)
    fields, numbers = _split_lines(text, label, "::", 2)
    rest = fields[1].str.rsplit("::", n=1, expand=True)
    if rest.shape[1] < 2 or rest[1].isna().any():
        bad = _first_bad(rest[1].isna().to_numpy()) if rest.shape[1] == 2 else 0
        raise DataError(
            f"{label} line {numbers[bad]}: expected MovieID::Title::Genres, found {fields[0][bad]}::{fields[1][bad]!r}"
        )
    return RawMovies(
        fields[0].astype(np.int64).to_numpy(), rest[0].to_numpy(object), rest[1].to_numpy(object), label, 1
    )


def read_genre_names(open_stream: Callable[[], BinaryIO], label: str) -> list[str]:
    """``u.genre``: ``name|index`` lines, returned in index order."""
    text = _read_text(open_stream)
    lines = [line for line in text.splitlines() if line.strip()]
    table = [line.rsplit("|", 1) for line in lines]  # ~20 lines: a list is fine here
    bad = next((i for i, t in enumerate(table) if len(t) != 2 or not t[1].strip().isdigit()), None)
    if not lines or bad is not None:
        raise DataError(f"{label}: expected 'name|index' lines, found {lines[bad or 0] if lines else 'an empty file'!r}")
    order = np.argsort([int(t[1]) for t in table], kind="stable")
    return [table[i][0] for i in order]


def read_movies_100k(files: ReleaseFiles) -> RawMovies:
    """``u.item``: 5 fields then one 0/1 flag per genre of ``u.genre``; genre strings built per column."""
    names = read_genre_names(files.opener("u.genre"), files.label("u.genre"))
    label = files.label("u.item")
    text = _read_text(files.opener("u.item"))
    fields, numbers = _split_lines(text, label, "|", 5 + len(names))
    text_flags = fields.iloc[:, 5:].to_numpy(object)
    flags = text_flags == "1"
    bad = np.argwhere(~flags & (text_flags != "0"))
    if bad.size:
        row, col = bad[0]
        raise DataError(
            f"{label} line {numbers[row]}: expected a 0/1 flag for genre {names[col]!r}, "
            f"found {fields.iloc[row, 5 + col]!r}"
        )
    return RawMovies(
        fields[0].astype(np.int64).to_numpy(),
        fields[1].to_numpy(object),
        genre_strings(flags, names),
        label,
        1,
    )


def genre_strings(flags: np.ndarray, names: list[str] | tuple[str, ...]) -> np.ndarray:
    """``"A|B"`` for each row of a boolean movies x genres matrix (one pass per genre, not per movie)."""
    joined = pd.Series("", index=range(flags.shape[0]), dtype=object)
    for j, name in enumerate(names):
        joined = joined + np.where(flags[:, j], f"{name}|", "")
    joined = joined.str.rstrip("|")
    return joined.where(joined.str.len() > 0, NO_GENRES).to_numpy(object)


def read_release(files: ReleaseFiles) -> tuple[RawRatings, RawMovies | None]:
    """Ratings and movies of a release folder or zip, in its own layout."""
    ratings_name = RATINGS_FILE[files.fmt]
    opener, label = files.opener(ratings_name), files.label(ratings_name)
    if files.fmt == "csv":
        ratings = read_ratings_csv(opener, label)
    else:
        ratings = read_ratings_delimited(opener, label, "::" if files.fmt == "dat" else "\t")
    movies_name = MOVIES_FILE[files.fmt]
    if not files.has(movies_name):
        return ratings, None
    if files.fmt == "csv":
        movies = read_movies_csv(files.opener(movies_name), files.label(movies_name))
    elif files.fmt == "dat":
        movies = read_movies_dat(files.opener(movies_name), files.label(movies_name))
    else:
        movies = read_movies_100k(files)
    return ratings, movies


