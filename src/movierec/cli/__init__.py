"""Command-line interface: ``movierec COMMAND --help`` explains each command with an example."""

from __future__ import annotations

from . import data, demo, evaluate, serve, train, use  # noqa: F401  (each module registers its commands)
from .app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
