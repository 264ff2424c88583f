"""Command-line interface: ``movierec COMMAND --help`` explains each command with an example."""

from __future__ import annotations

from .app import app
from . import data, demo, evaluate, serve, train, use  # noqa: F401  (each module registers its commands)


def main() -> None:
    app()


__all__ = ["app", "main"]
