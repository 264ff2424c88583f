"""Turn ``--data`` (a release name, zip, folder or ratings CSV) into a validated Dataset, fast.

Policies for imperfect input (each reported, nothing dropped silently):

- ratings outside the release's scale (or off its star step), non-numeric or empty fields, missing
  columns, empty files: DataError naming the file, line, expected and found value;
- the same (user, movie) rated more than once: the latest rating by timestamp is kept (the later
  line on ties), DataWarning with the count;
- ratings of movies missing from the movies file: the movies are added to the catalog as
  ``Movie <id>`` with no genres, DataWarning with the count;
- a movie id listed twice in the movies file: the last entry is kept, DataWarning with the count.

After the first parse the arrays are cached (``.npy`` files and JSON, no pickle) in the cache folder
($MOVIEREC_CACHE, else the user cache), keyed by the source files' size and mtime, never beside
the source (which may be read-only). A cached reload replays the warnings of the first parse.

Length: every input policy (ids, scale, duplicates, catalog gaps) and the binary cache that
stores their result sit together so one change of policy bumps one cache version.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from platformdirs import user_cache_dir

from ..errors import DataError, DataWarning
from .archive import open_release
from .catalog import Catalog
from .dataset import Dataset
from .download import fetch, local_copy, resolve_data_dir
from .readers import RawMovies, RawRatings, read_movies_csv, read_ratings_csv, read_release
from .releases import DEFAULT_RELEASE, RELEASES, Release, by_folder
from .vocabulary import Vocabulary

CACHE_VERSION = 2  # 2: a plain CSV off the star scale is an error, not its own scale
#: Scale and star step of a release folder whose name is not a GroupLens one, by layout.
_FORMAT_SCALE = {"csv": ((0.5, 5.0), 0.5), "dat": ((0.5, 5.0), 0.5), "100k": ((1.0, 5.0), 1.0)}

__all__ = ["DEFAULT_RELEASE", "cache_dir", "load", "resolve", "resolve_data_dir"]


def off_scale(ratings: np.ndarray, scale: tuple[float, float], step: float | None) -> np.ndarray:
    """Mask of the ratings that are not finite, outside ``scale``, or off its ``step`` grid."""
    bad = ~np.isfinite(ratings) | (ratings < scale[0]) | (ratings > scale[1])
    if step:
        bad |= np.mod(ratings - np.float32(scale[0]), step) != 0
    return bad



def cache_dir() -> Path:
    """Folder for parsed-release caches: $MOVIEREC_CACHE, else ``<user cache>/parsed``."""
    env = os.environ.get("MOVIEREC_CACHE")
    return Path(env).expanduser() if env else Path(user_cache_dir("movierec")) / "parsed"


def resolve(data: str | os.PathLike, folder: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The file or folder ``data`` names: an existing path, else a release in the data folder
    ``folder`` (default: :func:`data_dir`), downloaded when absent and ``download``."""
    path = Path(data).expanduser()
    if path.exists():
        return path
    if str(data) in RELEASES:
        rel = RELEASES[str(data)]
        folder = resolve_data_dir(folder)
        local = local_copy(rel, folder)
        if local is not None:
            return local
        if download:
            return fetch(rel, folder, progress=sys.stderr.isatty())
        raise DataError(f"release {rel.name} is not in {folder}: run `movierec data fetch {rel.name}`")
    raise DataError(
        f"no release or file named {str(data)!r}: expected a release name ({', '.join(RELEASES)}), "
        "a release zip or folder, or a ratings CSV (userId,movieId,rating[,timestamp]) that exists"
    )


def load(
    data: str | os.PathLike = DEFAULT_RELEASE,
    data_dir: str | os.PathLike | None = None,
    *,
    movies: str | os.PathLike | None = None,
    rating_scale: tuple[float, float] | None = None,
    cache: bool = True,
) -> Dataset:
    """Load a release by name (downloaded if needed), a release zip or folder, or a ratings CSV.

    ``movies``: a movies CSV (movieId,title,genres) to go with a plain ratings CSV.
    ``rating_scale``: (low, high) to check ratings against; by default a release's own scale,
    and for a plain CSV the observed range.
    """
    path = resolve(data, data_dir)
    movies_path = Path(movies).expanduser() if movies is not None else None
    if movies_path is not None and not movies_path.is_file():
        raise DataError(f"movies file {movies_path} does not exist: expected a CSV with movieId,title,genres")
    sources = [path] + ([movies_path] if movies_path else [])
    key = _cache_key(sources, rating_scale)
    where = hashlib.sha256(str([str(s.resolve()) for s in sources]).encode()).hexdigest()[:12]
    cache_folder = cache_dir() / f"{_safe(path)}-{where}"
    cached = _read_cache(cache_folder, key) if cache else None
    if cached is not None:
        dataset, notes = cached
    else:
        dataset, notes = _parse(path, movies_path, rating_scale)
        if cache:
            _write_cache(cache_folder, key, dataset, notes)
    for note in notes:
        warnings.warn(note, DataWarning, stacklevel=2)
    return dataset


# -- parsing and validation ------------------------------------------------------------------
def _parse(path: Path, movies_path: Path | None, rating_scale) -> tuple[Dataset, list[str]]:
    if path.is_file() and path.suffix.lower() != ".zip":
        ratings = read_ratings_csv(lambda: open(path, "rb"), str(path))
        raw_movies = read_movies_csv(lambda: open(movies_path, "rb"), str(movies_path)) if movies_path else None
        name, scale, step = path.stem, rating_scale, None
    else:
        if movies_path is not None:
            raise DataError(f"movies= goes with a plain ratings CSV; {path} is a release that has its own movies file")
        with open_release(path) as files:
            ratings, raw_movies = read_release(files)
            rel: Release | None = by_folder(files.folder_name)
            name = rel.name if rel else files.folder_name
            if rel:
                scale, step = rel.rating_scale, rel.rating_step
            else:
                scale, step = _FORMAT_SCALE[files.fmt]
            if rating_scale is not None:
                scale, step = tuple(rating_scale), None
    return _build(ratings, raw_movies, name, scale, step, str(path))


_BLOCK = 1 << 20  # checks run block by block: temporaries stay in cache, not in fresh pages


def _blocks(n: int, overlap: int = 0):
    """Slices of ``n`` rows, ``_BLOCK`` at a time (each extended by ``overlap`` rows)."""
    return (slice(start, min(start + _BLOCK + overlap, n)) for start in range(0, max(n - overlap, 1), _BLOCK))


def _on_steps(ratings: np.ndarray, step: float) -> bool:
    steps = ratings * np.float32(1 / step)  # exact for steps of 1 and 0.5
    return bool(np.array_equal(steps, np.rint(steps)))


# A plain CSV states no scale: its ratings must look like stars, so that a typo (40 for 4.0)
# is an error rather than a 0.5-to-40 scale. Other scales are set explicitly.
STAR_SCALE = (0.0, 5.0)
SCALE_FIX = "set the scale: --rating-scale LOW,HIGH in movierec (e.g. --rating-scale 1,10), rating_scale=(low, high) in Python"


def _check_scale(r: RawRatings, scale, step) -> tuple[float, float]:
    """The rating scale, after checking every rating is on it (two reductions when all are)."""
    lo, hi = float(np.min(r.ratings)), float(np.max(r.ratings))  # NaN propagates into both
    if scale is None:
        ok, scale = np.isfinite(lo) and np.isfinite(hi), (lo, hi)
        if ok and not (STAR_SCALE[0] <= lo and hi <= STAR_SCALE[1]):
            row = np.flatnonzero((r.ratings < STAR_SCALE[0]) | (r.ratings > STAR_SCALE[1]))
            i = int(row[0])
            raise DataError(
                f"{r.label} line {r.line(i)}: rating {r.ratings[i]:g} is not on a star scale of "
                f"{STAR_SCALE[0]:g} to {STAR_SCALE[1]:g} (ratings run from {lo:g} to {hi:g}; {row.size:,} off that "
                f"scale); fix the file if it is a typo, or {SCALE_FIX}"
            )
    else:
        ok = float(scale[0]) <= lo and hi <= float(scale[1])
    if ok and step:
        ok = all(_on_steps(r.ratings[part], step) for part in _blocks(r.ratings.size))
    if ok:
        return float(scale[0]), float(scale[1])
    row = np.flatnonzero(off_scale(r.ratings, scale, step))
    i = int(row[0])
    expected = f"a rating from {scale[0]:g} to {scale[1]:g}" + (f" in steps of {step:g}" if step else "")
    if not np.isfinite(lo):
        expected = "a finite rating"
    raise DataError(
        f"{r.label} line {r.line(i)}: expected {expected}, found {r.ratings[i]:g} "
        f"({row.size:,} such rating{'s' if row.size > 1 else ''}); fix the file, or {SCALE_FIX}"
    )


def _catalog(raw: RawMovies | None, rated_ids: np.ndarray, ratings: RawRatings, notes: list[str]) -> Catalog:
    if raw is None:
        return Catalog.placeholder(rated_ids)
    ids, titles, genres = raw.movie_ids, raw.titles, raw.genres
    n_dup = ids.size - np.unique(ids).size
    if n_dup:
        notes.append(f"{raw.label}: {n_dup:,} movie id(s) listed more than once; kept the last entry of each")
    known = np.isin(rated_ids, ids)
    if not known.all():
        missing = rated_ids[~known]
        hit = np.isin(ratings.movie_ids, missing)
        first = int(np.flatnonzero(hit)[0])
        notes.append(
            f"{ratings.label}: {int(hit.sum()):,} rating(s) of {missing.size:,} movie(s) missing from {raw.label} "
            f"(first: line {ratings.line(first)}, movie {ratings.movie_ids[first]}); "
            "added them to the catalog as 'Movie <id>' with no genres"
        )
        placeholder = Catalog.placeholder(missing)
        ids = np.concatenate([ids, placeholder.movie_ids])
        titles = np.concatenate([titles, placeholder.titles])
        genres = np.concatenate([genres, np.full(missing.size, None, dtype=object)])
    return Catalog.from_frame(ids, titles, pd.Series(genres, dtype=object))


def _deduplicate(r: RawRatings, users: np.ndarray, movies: np.ndarray, n_movies: int, notes: list[str]) -> np.ndarray | None:
    """Rows to keep when a (user, movie) pair repeats: its latest rating (later line on ties)."""

    def pairs(part: slice) -> np.ndarray:
        return users[part].astype(np.int64) * n_movies + movies[part]

    # Sorted by user then movie, as the big releases are: strictly increasing pairs, O(n).
    if all(np.all(np.diff(pairs(part)) > 0) for part in _blocks(users.size, overlap=1)):
        return None
    pair = pairs(slice(None))
    ordered = np.sort(pair)
    if not (ordered[1:] == ordered[:-1]).any():  # no duplicates: one sort, no argsort
        return None
    order = np.lexsort((np.arange(pair.size), r.timestamps, pair))
    last = np.append(ordered[1:] != ordered[:-1], True)  # pair[order] is ``ordered``: pair is the primary key
    keep = np.sort(order[last])
    dropped = np.ones(pair.size, bool)
    dropped[keep] = False
    first_dup = int(np.flatnonzero(dropped)[0])
    notes.append(
        f"{r.label}: {int(dropped.sum()):,} duplicate (user, movie) rating(s) (first: line {r.line(first_dup)}, "
        f"user {r.user_ids[first_dup]}, movie {r.movie_ids[first_dup]}); kept the latest by timestamp"
    )
    return keep


def from_raw(
    r: RawRatings, name: str, rating_scale: tuple[float, float] | None, source: str, movies: RawMovies | None = None
) -> Dataset:
    """A Dataset from parsed ratings (and movies), checked as :func:`load` checks a file (ids,
    scale, duplicate pairs, movies missing from the catalog); what it fixed is warned as DataWarning."""
    dataset, notes = _build(r, movies, name, rating_scale, None, source)
    for note in notes:
        warnings.warn(note, DataWarning, stacklevel=2)
    return dataset


def _build(r: RawRatings, raw_movies: RawMovies | None, name: str, scale, step, source: str) -> tuple[Dataset, list[str]]:
    notes: list[str] = []
    for column, values in (("userId", r.user_ids), ("movieId", r.movie_ids)):
        bad = np.flatnonzero(values < 0)
        if bad.size:
            raise DataError(f"{r.label} line {r.line(bad[0])}: expected a non-negative {column}, found {values[bad[0]]}")
    low_high = _check_scale(r, scale, step)
    user_vocab, users = Vocabulary.from_values(r.user_ids, "user")
    movie_vocab, movies = Vocabulary.from_values(r.movie_ids, "movie")
    keep = _deduplicate(r, users, movies, len(movie_vocab), notes)
    ratings, timestamps = r.ratings, r.timestamps
    if keep is not None:
        users, movies, ratings, timestamps = users[keep], movies[keep], ratings[keep], timestamps[keep]
    catalog = _catalog(raw_movies, movie_vocab.ids, r, notes)
    dataset = Dataset(
        users=users, movies=movies, ratings=ratings, timestamps=timestamps,
        user_vocab=user_vocab, movie_vocab=movie_vocab, catalog=catalog,
        name=name, rating_scale=low_high, source=source,
    )
    return dataset, notes


# -- binary cache ----------------------------------------------------------------------------
def _safe(path: Path) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in path.name)[:60]


def _cache_key(sources: list[Path], rating_scale) -> str:
    stats = []
    for s in sources:
        if s.is_dir():  # a release folder: every file in it and in its subfolders
            named = [(str(p.relative_to(s)), p) for p in sorted(p for p in s.rglob("*") if p.is_file())]
        else:
            named = [(s.name, s)]
        stats += [(name, st.st_size, st.st_mtime_ns) for name, st in ((name, p.stat()) for name, p in named)]
    return json.dumps({"v": CACHE_VERSION, "files": stats, "scale": rating_scale})


_ARRAYS = ("users", "movies", "ratings", "timestamps", "user_ids", "movie_ids", "catalog_ids", "years", "genres")
_MAPPED = ("users", "movies", "ratings", "timestamps")  # the big ones: copy-on-write memory maps


def _write_cache(folder: Path, key: str, d: Dataset, notes: list[str]) -> None:
    """One ``.npy`` per array and a ``meta.json`` (key, names, titles): no pickle anywhere.

    Written to a temporary folder and renamed into place, so a reader never sees half a cache.
    Best effort: a cache that cannot be written only costs the next load a re-parse.
    """
    c = d.catalog
    arrays = dict(
        users=d.users, movies=d.movies, ratings=d.ratings, timestamps=d.timestamps,
        user_ids=d.user_vocab.ids, movie_ids=d.movie_vocab.ids,
        catalog_ids=c.movie_ids, years=c.years, genres=c.genres,
    )
    meta = {
        "key": key, "name": d.name, "rating_scale": list(d.rating_scale), "source": d.source, "notes": notes,
        "titles": [str(t) for t in c.titles.tolist()], "genre_names": list(c.genre_names),
    }
    tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        for name, array in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        tmp.replace(folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


def cache_entries() -> list[dict]:
    """The parsed copies in :func:`cache_dir`, newest first: folder, source, bytes, modified
    (POSIX seconds). Only folders this module wrote count (a ``meta.json`` with a key, or an
    interrupted ``.tmp`` write), so a cache folder shared with other files is safe to clear."""
    root, entries = cache_dir(), []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            ours, source = isinstance(meta, dict) and "key" in meta, meta.get("source")
        except (OSError, ValueError, AttributeError):
            ours, source = folder.is_dir() and folder.name.endswith(".tmp"), None
        if not ours:
            continue
        stats = [p.stat() for p in folder.iterdir() if p.is_file()]
        entries.append({
            "path": str(folder), "source": source, "bytes": sum(st.st_size for st in stats),
            "modified": max((st.st_mtime for st in stats), default=folder.stat().st_mtime),
        })  # fmt: skip
    return sorted(entries, key=lambda e: -e["modified"])


def clear_cache() -> tuple[int, int]:
    """Delete every entry of :func:`cache_entries`; returns (entries, bytes) freed. The next
    load of each source parses it again."""
    entries = cache_entries()
    for entry in entries:
        shutil.rmtree(entry["path"], ignore_errors=True)
    return len(entries), sum(e["bytes"] for e in entries)


def _read_cache(folder: Path, key: str) -> tuple[Dataset, list[str]] | None:
    """The cached dataset, or None when absent, stale (other key) or damaged.

    The rating arrays are copy-on-write memory maps: the reload costs no copy, pages come in from
    the page cache as they are used, and writes stay private to this process.
    """
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta.get("key") != key:
            return None
        z = {  # np.asarray: plain ndarray views of the maps, not np.memmap objects
            name: np.asarray(np.load(folder / f"{name}.npy", allow_pickle=False, mmap_mode="c" if name in _MAPPED else None))
            for name in _ARRAYS
        }
        catalog = Catalog(
            movie_ids=z["catalog_ids"],
            titles=np.array(meta["titles"], dtype=object),
            years=z["years"],
            genres=z["genres"],
            genre_names=tuple(meta["genre_names"]),
        )
        dataset = Dataset(
            users=z["users"], movies=z["movies"], ratings=z["ratings"], timestamps=z["timestamps"],
            user_vocab=Vocabulary(z["user_ids"], "user"), movie_vocab=Vocabulary(z["movie_ids"], "movie"),
            catalog=catalog, name=meta["name"], rating_scale=tuple(meta["rating_scale"]), source=meta["source"],
        )
        if dataset.users.size != dataset.ratings.size or dataset.timestamps.size != dataset.ratings.size:
            return None
        return dataset, list(meta["notes"])
    except (OSError, ValueError, KeyError, TypeError):  # missing, truncated or from another version: re-parse
        return None
