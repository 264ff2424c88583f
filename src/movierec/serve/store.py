"""The feedback store: visitors' profiles and their ratings, kept in SQLite.

Durability policy: WAL journal with ``synchronous=FULL`` and one transaction per change, so a
rating the server acknowledged is on disk (fsynced) before the answer leaves: it survives a
SIGKILL of the server and a power cut. Profile ids are unguessable (``secrets.token_urlsafe``);
each profile also has a small sequential ``number`` that training uses to give it a user id.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import DataError, UnknownIdError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    number  INTEGER PRIMARY KEY AUTOINCREMENT,
    id      TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ratings (
    profile   INTEGER NOT NULL REFERENCES profiles(number) ON DELETE CASCADE,
    movie_id  INTEGER NOT NULL,
    rating    REAL NOT NULL,
    timestamp INTEGER NOT NULL,
    PRIMARY KEY (profile, movie_id)
);
"""


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (see FeedbackStore._write).
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class FeedbackStore:
    """Profiles and their ratings in one SQLite file; safe to share between threads.

    One connection guarded by a lock: writes are serialized by SQLite anyway, and reads
    of one profile's ratings take microseconds.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = _connect(self.path)
            self._conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"cannot open feedback database {self.path}: {exc}; pass --db with another path") from exc
        self._lock = threading.Lock()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One serialized transaction: committed (and fsynced) on exit, rolled back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "FeedbackStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- profiles ---------------------------------------------------------------------------
    def create_profile(self) -> str:
        """A new empty profile; returns its unguessable id."""
        profile_id = secrets.token_urlsafe(16)
        with self._write():
            self._conn.execute("INSERT INTO profiles (id, created) VALUES (?, ?)", (profile_id, int(time.time())))
        return profile_id

    def delete_profile(self, profile_id: str) -> None:
        with self._write():
            number = self._number(profile_id)
            self._conn.execute("DELETE FROM profiles WHERE number = ?", (number,))

    def _number(self, profile_id: str) -> int:
        row = self._conn.execute("SELECT number FROM profiles WHERE id = ?", (profile_id,)).fetchone()
        if row is None:
            raise UnknownIdError(f"unknown profile {profile_id!r}; create one with POST /api/profiles")
        return int(row[0])

    # -- ratings ----------------------------------------------------------------------------
    def ratings(self, profile_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The profile's (movie ids int64, ratings float32, timestamps int64), oldest first."""
        with self._lock:
            number = self._number(profile_id)
            rows = self._conn.execute(
                "SELECT movie_id, rating, timestamp FROM ratings WHERE profile = ? ORDER BY timestamp, rowid",
                (number,),
            ).fetchall()
        arr = np.array(rows, dtype=np.float64).reshape(-1, 3)
        return arr[:, 0].astype(np.int64), arr[:, 1].astype(np.float32), arr[:, 2].astype(np.int64)

    def set_ratings(self, profile_id: str, ratings: dict[int, float]) -> None:
        """Add or change ratings (movie id -> stars) in one transaction."""
        now = int(time.time())
        rows = [(int(m), float(r), now) for m, r in ratings.items()]
        with self._write():
            number = self._number(profile_id)
            self._conn.executemany(
                "INSERT INTO ratings (profile, movie_id, rating, timestamp) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (profile, movie_id) DO UPDATE SET rating = excluded.rating, timestamp = excluded.timestamp",
                [(number, *row) for row in rows],
            )

    def delete_rating(self, profile_id: str, movie_id: int) -> None:
        with self._write():
            number = self._number(profile_id)
            cur = self._conn.execute("DELETE FROM ratings WHERE profile = ? AND movie_id = ?", (number, int(movie_id)))
            if cur.rowcount == 0:
                raise UnknownIdError(f"profile {profile_id!r} has not rated movie {movie_id}")

    def counts(self) -> dict[str, int]:
        with self._lock:
            n_profiles = self._conn.execute("SELECT COUNT(*) FROM profiles").fetchone()[0]
            n_ratings = self._conn.execute("SELECT COUNT(*) FROM ratings").fetchone()[0]
        return {"profiles": int(n_profiles), "ratings": int(n_ratings)}


def feedback_ratings(db_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every stored rating as (profile numbers int64, movie ids int64, ratings float32, timestamps int64).

    Profile numbers are the store's sequential numbers (1, 2, ...), not the secret ids, so
    training data never carries a credential.
    """
    path = Path(db_path).expanduser()
    if not path.is_file():
        raise DataError(f"no feedback database at {path}; expected the --db file of `movierec serve`")
    try:
        conn = _connect(path)
        try:
            rows = conn.execute(
                "SELECT profile, movie_id, rating, timestamp FROM ratings ORDER BY profile, movie_id"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path} is not a movierec feedback database: {exc}") from exc
    arr = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return (
        arr[:, 0].astype(np.int64),
        arr[:, 1].astype(np.int64),
        arr[:, 2].astype(np.float32),
        arr[:, 3].astype(np.int64),
    )
