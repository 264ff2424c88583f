"""Where a release's files are: a folder or a zip, opened safely (zip-slip guard, corrupt-zip
errors), detected by layout, extracted and packed the way GroupLens ships them."""

from __future__ import annotations

import contextlib
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable

from ..errors import DataError
from .releases import FORMATS

#: The file that identifies each layout, and the files each layout is made of.
RATINGS_FILE = {"csv": "ratings.csv", "dat": "ratings.dat", "100k": "u.data"}
MOVIES_FILE = {"csv": "movies.csv", "dat": "movies.dat", "100k": "u.item"}
_CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError)


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


