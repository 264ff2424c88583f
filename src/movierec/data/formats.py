"""Readers and writers of every on-disk MovieLens layout.

Three layouts cover all GroupLens releases (see :data:`movierec.data.releases.FORMATS`):

- ``csv``: ``ratings.csv`` (userId,movieId,rating,timestamp) and ``movies.csv``
  (movieId,title,genres; UTF-8, CSV-quoted titles): ml-latest(-small), ml-20m, ml-25m, ml-32m.
- ``dat``: ``ratings.dat`` (UserID::MovieID::Rating::Timestamp) and ``movies.dat``
  (MovieID::Title::Genres, latin-1): ml-1m, ml-10m.
- ``100k``: ``u.data`` (tab-separated user, item, rating, timestamp), ``u.item`` (pipe-separated,
  latin-1: id, title, release date, video date, IMDb URL, then one 0/1 flag per genre) and
  ``u.genre`` (``name|index``).

Readers parse with pyarrow's multi-threaded CSV engine into NumPy arrays; only when that fails do
they re-scan the file to name the first offending line. Writers produce the same bytes layout, so
every format round-trips. Validation that needs the whole release (rating scale, duplicates,
movies missing from the catalog) lives in :mod:`movierec.data.loading`.
"""

from __future__ import annotations

import contextlib
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import DataError
from .catalog import NO_GENRES
from .dataset import Dataset
from .releases import FORMATS, RELEASES

#: The file that identifies each layout, and the files each layout is made of.
RATINGS_FILE = {"csv": "ratings.csv", "dat": "ratings.dat", "100k": "u.data"}
MOVIES_FILE = {"csv": "movies.csv", "dat": "movies.dat", "100k": "u.item"}
RATINGS_COLUMNS = ("userId", "movieId", "rating", "timestamp")
MOVIES_COLUMNS = ("movieId", "title", "genres")
# Ids are parsed as int32 (every MovieLens id fits; half the memory and copying of int64) and
# re-read as int64 only if a file holds larger ones.
_TYPES = {"userId": pa.int32(), "movieId": pa.int32(), "rating": pa.float32(), "timestamp": pa.int64()}
_CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError)


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


# -- where the files are: a folder or a zip ---------------------------------------------------
class ReleaseFiles:
    """The files of one release, in a folder or a zip, opened by base name (``ratings.csv``)."""

    def __init__(self, path: Path, fmt: str, prefix: str, zf: zipfile.ZipFile | None):
        self.path, self.fmt, self.prefix, self._zip = path, fmt, prefix, zf

    @property
    def folder_name(self) -> str:
        """The release folder's name (``ml-10M100K``), else the zip's stem or the folder's name."""
        inner = self.prefix.rstrip("/").rsplit("/", 1)[-1]
        return inner or (self.path.stem if self._zip else self.path.name)

    def label(self, name: str) -> str:
        return f"{self.path.name}:{self.prefix}{name}" if self._zip else str(self.path / self.prefix / name)

    def has(self, name: str) -> bool:
        if self._zip:
            try:
                self._zip.getinfo(self.prefix + name)
                return True
            except KeyError:
                return False
        return (self.path / self.prefix / name).is_file()

    def opener(self, name: str) -> Callable[[], BinaryIO]:
        if self._zip:
            return lambda: self._zip.open(self.prefix + name)  # type: ignore[union-attr]
        return lambda: open(self.path / self.prefix / name, "rb")


def _check_member_names(path: Path, names: list[str]) -> None:
    """Zip-slip guard: no member may be absolute or climb out of the folder it is extracted to."""
    for name in names:
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or ".." in parts or (parts and re.match(r"^[A-Za-z]:", parts[0])):
            raise DataError(
                f"{path}: member {name!r} would be written outside the extraction folder; expected "
                "relative paths inside the release folder. The zip is unsafe: delete it and download "
                "the release again"
            )


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(path)
    except _CORRUPT as exc:
        raise DataError(
            f"{path} is not a readable zip ({exc}): the file is truncated or corrupt; "
            "delete it and download it again (movierec data fetch NAME)"
        ) from None
    _check_member_names(path, zf.namelist())
    return zf


def detect_format(names: list[str]) -> tuple[str, str] | None:
    """``(format, prefix)`` of the shallowest ratings file among ``names`` (zip or folder entries)."""
    best: tuple[int, str, str] | None = None
    for name in names:
        base = name.rsplit("/", 1)[-1]
        for fmt, ratings in RATINGS_FILE.items():
            if base == ratings:
                depth = name.count("/")
                if best is None or depth < best[0]:
                    best = (depth, fmt, name[: -len(base)])
    return (best[1], best[2]) if best else None


@contextlib.contextmanager
def open_release(path: str | Path) -> Iterator[ReleaseFiles]:
    """The release files in the folder or zip at ``path``; a DataError names what is missing."""
    path = Path(path)
    expected = " or ".join(f"{f} ({RATINGS_FILE[f]})" for f in FORMATS)
    if path.is_dir():  # the release folder, or a folder a release zip was extracted into
        children = list(path.iterdir())
        found = detect_format(
            [p.name for p in children] + [f"{d.name}/{p.name}" for d in children if d.is_dir() for p in d.iterdir()]
        )
        if found is None:
            raise DataError(
                f"{path} is not a MovieLens release folder: expected a ratings file, one of {expected}"
            )
        yield ReleaseFiles(path, found[0], found[1], None)
        return
    zf = _open_zip(path)
    try:
        found = detect_format(zf.namelist())
        if found is None:
            raise DataError(f"{path} holds no MovieLens ratings file: expected one of {expected}")
        try:
            yield ReleaseFiles(path, found[0], found[1], zf)
        except _CORRUPT as exc:
            raise DataError(
                f"{path} is corrupt or truncated ({exc}); delete it and download it again "
                "(movierec data fetch NAME)"
            ) from None
    finally:
        zf.close()


def safe_extract(zip_path: str | Path, dest: str | Path) -> Path:
    """Extract a release zip into ``dest`` after checking every member stays inside it."""
    dest = Path(dest)
    with _open_zip(Path(zip_path)) as zf:
        try:
            zf.extractall(dest)
        except _CORRUPT as exc:
            raise DataError(f"{zip_path} is corrupt or truncated ({exc}); delete it and download it again") from None
    return dest


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


def off_scale(ratings: np.ndarray, scale: tuple[float, float], step: float | None) -> np.ndarray:
    """Mask of the ratings that are not finite, outside ``scale``, or off its ``step`` grid."""
    bad = ~np.isfinite(ratings) | (ratings < scale[0]) | (ratings > scale[1])
    if step:
        bad |= np.mod(ratings - np.float32(scale[0]), step) != 0
    return bad


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


def pack_release(folder: str | Path, zip_path: str | Path | None = None) -> Path:
    """Zip a release folder the way GroupLens does: members under ``<folder name>/``.

    Written to a temporary name first, so an interrupted pack never leaves a valid-looking zip.
    """
    folder = Path(folder)
    zip_path = Path(zip_path) if zip_path else folder.with_name(folder.name + ".zip")
    partial = zip_path.with_name(zip_path.name + ".part")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            zf.write(file, f"{folder.name}/{file.relative_to(folder).as_posix()}")
    partial.replace(zip_path)
    return zip_path


__all__ = [
    "MOVIES_FILE",
    "RATINGS_FILE",
    "RawMovies",
    "RawRatings",
    "ReleaseFiles",
    "detect_format",
    "genre_strings",
    "off_scale",
    "open_release",
    "pack_release",
    "read_movies_csv",
    "read_ratings_csv",
    "read_release",
    "safe_extract",
    "write_release",
]
