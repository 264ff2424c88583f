"""Model directories: everything needed to serve recommendations, without the dataset.

A model directory holds two files and nothing executable (no pickle):

- ``model.json``: format name and version, each model's name and parameters (its ``Config``),
  the dataset's name, fingerprint and rating scale, titles and genre names, held-out metrics,
  training notes, library versions, creation time and the SHA-256 of the arrays file.
- ``arrays.safetensors``: every array: model states (``rating.*``, ``ranking.*``), the user and
  movie vocabularies, the catalog's ids/years/genre matrix, each user's training ratings as CSR
  (to exclude seen movies and explain recommendations) and per-movie rating counts and means;
  since similar movies got their own measure, each movie's nearest neighbours (``neighbours.*``;
  folders without them compute them when first asked).

Files are written under temporary names and renamed, ``model.json`` last, so a crash never
leaves a directory that loads half-written; the checksum catches later damage.

Length: the whole on-disk format (writing, checked reading, copy-on-write mapping) in one
place, so a format change is one file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import save_file

from ..data.catalog import Catalog
from ..data.dataset import Dataset
from ..data.vocabulary import Vocabulary
from ..errors import ModelError
from ..models import Model, model_class
from .similarity import Neighbours

FORMAT = "movierec-model"
FORMAT_VERSION = 1
META_FILE = "model.json"
ARRAYS_FILE = "arrays.safetensors"
KINDS = ("rating", "ranking")


@dataclass(eq=False)
class Artifact:
    """What a model directory holds: up to two fitted models and what serving them needs."""

    user_vocab: Vocabulary
    movie_vocab: Vocabulary
    catalog: Catalog
    seen: sp.csr_matrix  # users x movies, float32 training ratings (indices sorted per row)
    movie_counts: np.ndarray  # int64 [n_movies]: ratings of each movie
    movie_means: np.ndarray  # float32 [n_movies]: mean rating of each movie (0 when unrated)
    rating: Model | None = None
    ranking: Model | None = None
    neighbours: Neighbours | None = None  # similar movies; None: computed from ``seen`` when needed
    dataset: str = "custom"
    fingerprint: str = ""
    rating_scale: tuple[float, float] = (0.5, 5.0)
    metrics: dict[str, Any] = field(default_factory=dict)  # held-out metrics by model kind
    training: dict[str, Any] = field(default_factory=dict)  # how it was trained: holdout, seconds, ...
    created: str = ""
    versions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dataset(cls, data: Dataset, rating: Model | None = None, ranking: Model | None = None, **kwargs: Any):
        """Bundle models with ``data``'s vocabularies, catalog and ratings (the ones to exclude)."""
        counts = data.movie_counts()
        sums = np.bincount(data.movies, weights=data.ratings, minlength=data.n_movies)
        means = np.divide(sums, counts, out=np.zeros(data.n_movies), where=counts > 0).astype(np.float32)
        return cls(
            user_vocab=data.user_vocab,
            movie_vocab=data.movie_vocab,
            catalog=data.catalog,
            seen=data.matrix(),
            movie_counts=counts.astype(np.int64),
            movie_means=means,
            rating=rating,
            ranking=ranking,
            dataset=data.name,
            fingerprint=data.fingerprint,
            rating_scale=tuple(map(float, data.rating_scale)),
            **kwargs,
        )

    def models(self) -> dict[str, Model]:
        return {kind: m for kind, m in (("rating", self.rating), ("ranking", self.ranking)) if m is not None}

    def check(self) -> None:
        """Every model must cover exactly the vocabularies it is stored with."""
        if self.rating is None and self.ranking is None:
            raise ModelError("a model directory needs a rating model, a ranking model or both; got neither")
        n_users, n_movies = len(self.user_vocab), len(self.movie_vocab)
        if self.seen.shape != (n_users, n_movies):
            raise ModelError(f"seen ratings are {self.seen.shape}, expected ({n_users}, {n_movies}) users x movies")
        if self.movie_counts.shape != (n_movies,) or self.movie_means.shape != (n_movies,):
            raise ModelError(f"movie counts and means need one entry per movie ({n_movies})")
        for kind, model in self.models().items():
            if model.kind != kind:
                raise ModelError(f"{model.name} is a {model.kind} model, it cannot be stored as the {kind} model")
            if (model.n_users, model.n_movies) != (n_users, n_movies):
                raise ModelError(
                    f"{kind} model {model.name} was fitted on {model.n_users} users x {model.n_movies} movies, "
                    f"expected the vocabularies' {n_users} x {n_movies}"
                )


def library_versions() -> dict[str, str]:
    from .. import __version__

    versions = {"movierec": __version__}
    for package in ("numpy", "torch", "scipy", "safetensors"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:  # pragma: no cover - every dependency is installed
            versions[package] = "unknown"
    return versions


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def save(artifact: Artifact, path: str | os.PathLike) -> Path:
    """Write ``artifact`` to the directory ``path`` (created; an older model there is replaced)."""
    artifact.check()
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ModelError(f"cannot save a model to {path}: it is a file, expected a folder (or a new path)")
    if path.is_dir() and any(path.iterdir()) and not (path / META_FILE).exists():
        raise ModelError(
            f"refusing to save a model into {path}: the folder holds other files and no {META_FILE}; "
            "choose an empty or new folder"
        )
    path.mkdir(parents=True, exist_ok=True)

    catalog, seen = artifact.catalog, artifact.seen
    arrays: dict[str, np.ndarray] = {
        "users.ids": artifact.user_vocab.ids,
        "movies.ids": artifact.movie_vocab.ids,
        "movies.counts": np.asarray(artifact.movie_counts, np.int64),
        "movies.means": np.asarray(artifact.movie_means, np.float32),
        "catalog.movie_ids": catalog.movie_ids,
        "catalog.years": catalog.years,
        "catalog.genres": catalog.genres,
        "seen.indptr": seen.indptr.astype(np.int64),
        "seen.indices": seen.indices.astype(np.int32),
        "seen.data": seen.data.astype(np.float32),
    }
    if artifact.neighbours is not None:
        arrays.update({f"neighbours.{k}": v for k, v in artifact.neighbours.arrays().items()})
    models = {}
    for kind, model in artifact.models().items():
        for name, value in model.get_state().items():
            arrays[f"{kind}.{name}"] = np.asarray(value)
        models[kind] = {"name": model.name, "params": model.get_params(), "interrupted": bool(model.interrupted)}
    # Column-major arrays are stored transposed and transposed back on load: the same memory
    # layout gives the same BLAS summation order, hence bit-identical scores after loading.
    fortran = sorted(k for k, v in arrays.items() if v.ndim > 1 and v.flags.f_contiguous and not v.flags.c_contiguous)
    for k in fortran:
        arrays[k] = arrays[k].T
    # np.require keeps 0-d scalars 0-d (np.ascontiguousarray would make them 1-d).
    arrays = {k: np.require(v, requirements="C") for k, v in arrays.items()}

    tmp_arrays = path / (ARRAYS_FILE + ".tmp")
    save_file(arrays, str(tmp_arrays))
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": artifact.created or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": artifact.versions or library_versions(),
        "dataset": {
            "name": artifact.dataset,
            "fingerprint": artifact.fingerprint,
            "rating_scale": list(artifact.rating_scale),
            "users": len(artifact.user_vocab),
            "movies": len(artifact.movie_vocab),
            "ratings": int(seen.nnz),
            "catalog": len(catalog),
        },
        "models": models,
        "metrics": _finite(artifact.metrics),
        "training": _finite(artifact.training),
        "catalog": {"titles": [str(t) for t in catalog.titles.tolist()], "genre_names": list(catalog.genre_names)},
        "fortran_order": fortran,
        "arrays_sha256": _sha256(tmp_arrays),
    }
    tmp_meta = path / (META_FILE + ".tmp")
    tmp_meta.write_text(json.dumps(meta, indent=1, allow_nan=False), encoding="utf-8")
    shutil.copymode(tmp_meta, tmp_arrays)  # safetensors writes 0600; give it the usual umask mode
    os.replace(tmp_arrays, path / ARRAYS_FILE)
    os.replace(tmp_meta, path / META_FILE)
    return path


def _finite(value: Any) -> Any:
    """JSON-safe copy: NaN/inf (e.g. a metric over an empty test set) become null."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The checked ``model.json`` of a model directory (cheap: no arrays are read)."""
    path = Path(path)
    written_by = f"expected a folder written by `movierec train -o {path}` or Recommender.save()"
    if not path.exists():
        raise ModelError(f"no model at {path}: {written_by}")
    if not path.is_dir():
        raise ModelError(f"{path} is a file, not a model folder: {written_by}")
    meta_path = path / META_FILE
    if not meta_path.is_file():
        found = sorted(p.name for p in path.iterdir())[:5]
        raise ModelError(
            f"{path} is not a movierec model: expected {META_FILE} in it, found "
            + (", ".join(found) if found else "an empty folder")
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{meta_path} is corrupt (not valid JSON: {exc}); retrain the model or restore the folder") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ModelError(f"{meta_path} is not a movierec model file: expected format {FORMAT!r}, found {found!r}")
    file_version = meta.get("format_version")
    if not isinstance(file_version, int):
        raise ModelError(f"{meta_path} is corrupt: format_version should be an integer, found {file_version!r}")
    if file_version > FORMAT_VERSION:
        raise ModelError(
            f"{path} was written by a newer movierec (model format {file_version}); this movierec reads "
            f"format {FORMAT_VERSION} and older: upgrade movierec (pip install -U movierec)"
        )
    return meta


def load(path: str | os.PathLike) -> Artifact:
    """Read a model directory; damaged, foreign, missing or too-new ones raise ModelError."""
    path = Path(path)
    meta = read_meta(path)
    arrays_path = path / ARRAYS_FILE
    if not arrays_path.is_file():
        raise ModelError(f"{path} is incomplete: expected {ARRAYS_FILE} next to {META_FILE}; retrain or restore it")
    if _sha256(arrays_path) != meta.get("arrays_sha256"):
        raise ModelError(
            f"{arrays_path} is corrupt: its checksum does not match the one in {META_FILE} "
            "(truncated or modified after saving); retrain or restore it"
        )
    try:
        arrays = _map_arrays(arrays_path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{arrays_path} is corrupt ({exc}); retrain or restore it") from None
    try:
        for name in meta.get("fortran_order", []):
            arrays[name] = arrays[name].T
        artifact = _build(meta, arrays)
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ModelError(f"{path} is corrupt or inconsistent ({type(exc).__name__}: {exc}); retrain or restore it") from None
    artifact.check()
    return artifact


_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BOOL": np.bool_,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8,
}  # fmt: skip


def _map_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a safetensors file as copy-on-write memory maps of it.

    Loading copies nothing, and the processes of ``movierec serve --workers N`` share one copy
    of the model's pages in the OS page cache instead of holding N. The layout is safetensors':
    an 8-byte little-endian header length, a JSON header (dtype, shape and byte range of every
    array), then the raw little-endian bytes; every range is checked against the file.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        if not 0 < n <= size - 8:
            raise ValueError(f"header length {n} does not fit a {size}-byte file")
        header = json.loads(f.read(n))
    body = np.memmap(path, np.uint8, mode="c", offset=8 + n) if size > 8 + n else np.zeros(0, np.uint8)
    arrays = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
        shape = tuple(int(d) for d in info["shape"])
        start, end = (int(o) for o in info["data_offsets"])
        if not 0 <= start <= end <= body.size or end - start != dtype.itemsize * int(np.prod(shape)):
            raise ValueError(f"array {name!r} ({info['dtype']} {list(shape)}) does not fit bytes {start}..{end}")
        arrays[name] = np.asarray(body[start:end]).view(dtype).reshape(shape)
    return arrays


def _build(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Artifact:
    users = Vocabulary(arrays["users.ids"], "user")
    movies = Vocabulary(arrays["movies.ids"], "movie")
    catalog = Catalog(
        movie_ids=arrays["catalog.movie_ids"],
        titles=np.array(meta["catalog"]["titles"], dtype=object),
        years=arrays["catalog.years"],
        genres=arrays["catalog.genres"],
        genre_names=tuple(meta["catalog"]["genre_names"]),
    )
    seen = sp.csr_matrix(
        (arrays["seen.data"], arrays["seen.indices"], arrays["seen.indptr"]), shape=(len(users), len(movies))
    )
    models: dict[str, Model] = {}
    for kind, spec in meta["models"].items():
        if kind not in KINDS:
            raise ModelError(f"unknown model kind {kind!r}: expected one of {', '.join(KINDS)}")
        try:
            cls = model_class(spec["name"])
        except ValueError:
            raise ModelError(
                f"the {kind} model is {spec['name']!r}, which this movierec does not have; upgrade movierec"
            ) from None
        prefix = f"{kind}."
        state = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        try:
            model = cls.from_state(spec["params"], state)
        except ValueError as exc:  # e.g. a parameter renamed since the model was saved
            saved_by = meta.get("versions", {}).get("movierec", "an unknown version")
            raise ModelError(
                f"the saved {kind} model {spec['name']} does not fit this movierec ({exc}); it was saved by "
                f"movierec {saved_by}: retrain it with this version"
            ) from None
        model.interrupted = bool(spec.get("interrupted", False))
        models[kind] = model
    data = meta["dataset"]
    stored = {k[len("neighbours.") :]: v for k, v in arrays.items() if k.startswith("neighbours.")}
    return Artifact(
        user_vocab=users,
        movie_vocab=movies,
        catalog=catalog,
        seen=seen,
        movie_counts=arrays["movies.counts"],
        movie_means=arrays["movies.means"],
        rating=models.get("rating"),
        ranking=models.get("ranking"),
        neighbours=Neighbours.from_arrays(stored, len(movies)) if stored else None,
        dataset=str(data["name"]),
        fingerprint=str(data["fingerprint"]),
        rating_scale=(float(data["rating_scale"][0]), float(data["rating_scale"][1])),
        metrics=meta.get("metrics", {}),
        training=meta.get("training", {}),
        created=str(meta.get("created", "")),
        versions=dict(meta.get("versions", {})),
    )
