"""Download GroupLens releases into the data folder: checksum-verified, atomic, offline-friendly.

pooch downloads into a temporary file beside the target and moves it into place only after the
MD5 matches, so an interrupted or corrupted download never counts as a valid release.
A release already in the data folder (zip or extracted folder) is used without network access.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path

from platformdirs import user_cache_dir

from ..errors import DownloadError
from .releases import Release, release


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Folder holding downloaded releases: ``override``, else $MOVIEREC_DATA, else the user cache."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("MOVIEREC_DATA")
    return Path(env).expanduser() if env else Path(user_cache_dir("movierec"))


def local_copy(rel: Release, folder: Path) -> Path | None:
    """The release's zip or extracted folder in ``folder``, if there is one."""
    for candidate in (folder / rel.filename, folder / rel.folder, folder / rel.name):
        if candidate.is_file() or candidate.is_dir():
            return candidate
    return None


def md5_of(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _where_to_put(rel: Release, folder: Path) -> str:
    return f"download {rel.url} yourself and save it as {folder / rel.filename}"


def _published_md5(rel: Release, folder: Path, timeout: float) -> str:
    """ml-32m and ml-latest are regenerated: their MD5 is read from ``<url>.md5`` at download time."""
    import requests  # pooch's own dependency; imported lazily like pooch does

    url = rel.url + ".md5"
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise DownloadError(
            f"could not read the published checksum {url} ({type(exc).__name__}); offline? {_where_to_put(rel, folder)}"
        ) from None
    found = re.search(r"\b[0-9a-fA-F]{32}\b", response.text)
    if not found:
        raise DownloadError(f"{url}: expected an MD5 checksum (32 hex digits), found {response.text[:80]!r}")
    return found.group(0).lower()


class _RichBar:
    """The progress-bar protocol pooch's HTTPDownloader expects (total, update, reset, close), drawn by rich."""

    def __init__(self, description: str):
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        self._progress = Progress(
            "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            console=Console(stderr=True),
        )
        self._task = self._progress.add_task(description, total=None)
        self._progress.start()

    @property
    def total(self) -> float | None:
        return self._progress.tasks[0].total

    @total.setter
    def total(self, value: int) -> None:
        self._progress.update(self._task, total=value or None)

    def update(self, n: int) -> None:
        self._progress.advance(self._task, n)

    def reset(self) -> None:
        self._progress.reset(self._task, total=self.total)

    def close(self) -> None:
        self._progress.stop()


def fetch(
    name: str | Release, data_dir: str | os.PathLike | None = None, progress: bool = True, timeout: float = 60
) -> Path:
    """The path of release ``name`` in the data folder, downloading it first if it is absent.

    A zip already present is checked against the published MD5 (when one is pinned); an extracted
    release folder is used as is. Raises DownloadError naming the URL and where to put the file.
    """
    rel = name if isinstance(name, Release) else release(name)
    folder = _data_dir(data_dir)
    present = local_copy(rel, folder)
    if present is not None:
        if present.is_file() and rel.md5 and (found := md5_of(present)) != rel.md5:
            raise DownloadError(
                f"{present} does not match the published checksum of {rel.name}: expected MD5 {rel.md5}, "
                f"found {found}. Delete it and run `movierec data fetch {rel.name}` again, or {_where_to_put(rel, folder)}"
            )
        return present

    import pooch
    import requests

    md5 = rel.md5 or _published_md5(rel, folder, timeout)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the data folder {folder} ({exc}); pass --data-dir or set $MOVIEREC_DATA") from None
    bar = _RichBar(f"Downloading {rel.filename}") if progress else False
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # pooch logs each download at INFO; the library stays quiet
    try:
        path = pooch.retrieve(
            rel.url,
            known_hash=f"md5:{md5}",
            fname=rel.filename,
            path=folder,
            downloader=pooch.HTTPDownloader(progressbar=bar, timeout=timeout),
        )
    except requests.RequestException as exc:
        raise DownloadError(f"could not download {rel.url} ({type(exc).__name__}: {exc}); offline? "
                            f"{_where_to_put(rel, folder)}") from None
    except ValueError as exc:  # pooch: hash mismatch (the partial file is already removed)
        raise DownloadError(
            f"the download of {rel.url} failed its checksum: expected MD5 {md5} ({exc}). "
            f"Nothing was kept; try again, or {_where_to_put(rel, folder)}"
        ) from None
    except OSError as exc:
        raise DownloadError(f"could not save {rel.filename} into {folder} ({exc}); {_where_to_put(rel, folder)}") from None
    finally:
        logger.setLevel(level)
        if bar:
            bar.close()
    return Path(path)


_data_dir = data_dir  # ``fetch`` has a parameter of the same name
