"""Errors and warnings raised by movierec.

Every error says what was expected, what was found and, where it helps, how to fix it.
The CLI and HTTP layers turn these into a one-line message (or a 4xx), never a traceback.
"""

from __future__ import annotations


class MovierecError(Exception):
    """Base class of every error movierec raises on purpose."""


class DataError(MovierecError, ValueError):
    """Input data is missing, malformed or inconsistent."""


class DownloadError(MovierecError):
    """A release could not be downloaded or failed its checksum."""


class ModelError(MovierecError):
    """A model could not be trained, saved or loaded (divergence, corrupt artifact, ...)."""


class UnknownIdError(MovierecError, KeyError):
    """A user or movie id (or title) that the model or dataset does not know."""

    def __init__(self, message: str, candidates: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.candidates = candidates or []

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class DataWarning(UserWarning):
    """Input data was repaired under a documented policy (e.g. duplicates keep the latest)."""
