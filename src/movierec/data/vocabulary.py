"""Vocabulary: MovieLens ids <-> contiguous int32 indices, both ways."""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..errors import UnknownIdError


def sorted_positions(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each of ``values`` in the ascending array ``sorted_values``, -1 where absent
    (binary search, vectorized; any shape)."""
    pos = np.minimum(np.searchsorted(sorted_values, values), max(sorted_values.size - 1, 0))
    found = sorted_values[pos] == values if sorted_values.size else np.zeros(np.shape(values), bool)
    return np.where(found, pos, -1)


class Vocabulary:
    """A sorted set of external ids (int64), each mapped to its position (int32).

    ``index`` turns ids into rows by binary search, so it is vectorized and needs no dict.
    """

    __slots__ = ("ids", "entity")

    def __init__(self, ids: np.ndarray, entity: str = "id"):
        ids = np.asarray(ids, dtype=np.int64)
        if ids.ndim != 1:
            raise ValueError(f"vocabulary ids must be 1-D, got shape {ids.shape}")
        if ids.size > 1 and not np.all(ids[1:] > ids[:-1]):
            ids = np.unique(ids)
        self.ids = ids
        self.entity = entity

    @classmethod
    def from_values(cls, values: np.ndarray, entity: str = "id") -> tuple["Vocabulary", np.ndarray]:
        """Vocabulary of the distinct values and the int32 index of each value.

        Compact non-negative ids (MovieLens' are) go through a dense lookup table, which is O(n)
        where sorting 25M ids is not; others through ``np.unique``.
        """
        values = np.asarray(values, dtype=np.int64)
        if values.size and values.min() >= 0 and values.max() <= 4 * values.size + (1 << 20):
            present = np.zeros(int(values.max()) + 1, dtype=bool)
            present[values] = True
            rows = np.cumsum(present, dtype=np.int32) - 1
            return cls(np.flatnonzero(present).astype(np.int64), entity), rows[values]
        ids, inverse = np.unique(values, return_inverse=True)
        return cls(ids, entity), inverse.astype(np.int32, copy=False).reshape(values.shape)

    def __len__(self) -> int:
        return int(self.ids.size)

    def __contains__(self, external_id: object) -> bool:
        try:
            return bool(self.index([int(external_id)], missing="negative")[0] >= 0)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and np.array_equal(self.ids, other.ids)

    def __repr__(self) -> str:
        return f"Vocabulary({self.entity}, n={len(self)})"

    def index(
        self, ids: np.ndarray | list[int], missing: Literal["error", "negative"] = "error"
    ) -> np.ndarray:
        """Rows of ``ids``; unknown ids raise (``missing="error"``) or map to -1."""
        ids = np.asarray(ids, dtype=np.int64)
        rows = sorted_positions(self.ids, ids)
        if missing == "error" and np.any(rows < 0):
            unknown = ids[rows < 0]
            raise UnknownIdError(
                f"unknown {self.entity} {int(unknown[0])}"
                + (f" (and {unknown.size - 1} more)" if unknown.size > 1 else "")
            )
        return rows.astype(np.int32)

    def id(self, index: np.ndarray | int) -> np.ndarray | int:
        """External id(s) of row(s) ``index``."""
        out = self.ids[index]
        return int(out) if np.ndim(out) == 0 else out
