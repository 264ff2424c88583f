"""Models built from other fitted models ("parts"): the hybrid ranker and the rating blend.

A composite names its parts, builds them unfitted from its own config, relays their training
progress as one run, and saves their arrays beside its own under ``"<part>."`` prefixes, so
a saved composite is one flat set of arrays like any other model.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np

from .base import Callback, Model, TrainingEvent


class Composite(Model):
    """Mixed in before ``RatingModel`` / ``RankingModel``; each part is the attribute named in
    ``part_names`` (also its prefix in the saved state)."""

    part_names: ClassVar[tuple[str, ...]]

    @property
    def part_prefixes(self) -> tuple[str, ...]:
        """The parts' prefixes in the saved state: their attribute names unless a model says otherwise."""
        return self.part_names

    @abstractmethod
    def _make_parts(self) -> tuple[Model, ...]:
        """The parts, unfitted, configured from ``self.config``, in ``part_names`` order."""

    def _check_config(self) -> None:
        """Its own bounds, then each part's: a bad part setting is one clear error before any part trains."""
        super()._check_config()
        for part in self._make_parts():
            part._check_config()

    def _set_parts(self, parts: tuple[Model, ...]) -> None:
        for name, part in zip(self.part_names, parts):
            setattr(self, name, part)

    def get_state(self) -> dict[str, np.ndarray]:
        state = super().get_state()
        for name, prefix in zip(self.part_names, self.part_prefixes):
            state.update({f"{prefix}.{k}": v for k, v in getattr(self, name).get_state().items()})
        return state

    @classmethod
    def from_state(cls, params: dict[str, Any], state: dict[str, np.ndarray]) -> "Composite":
        model = super().from_state(params, state)
        loaded = []
        for prefix, fresh in zip(model.part_prefixes, model._make_parts()):
            own = {k[len(prefix) + 1 :]: v for k, v in state.items() if k.startswith(prefix + ".")}
            loaded.append(type(fresh).from_state(fresh.get_params(), own))
        model._set_parts(tuple(loaded))
        return model


def relay(callback: Callback | None, offset: int, total: int) -> Callback | None:
    """``callback`` seeing a part's epochs as epochs ``offset + 1, ...`` of ``total``."""
    if callback is None:
        return None
    return lambda e: callback(TrainingEvent(offset + e.epoch, total, e.loss, e.validation, e.metric))
