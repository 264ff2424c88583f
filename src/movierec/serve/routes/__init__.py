"""The API's routers, one per job; ``create_app`` includes them in this order (the order of /docs)."""

from __future__ import annotations

from . import clusters, movies, profiles, recommend, service

ROUTERS = (service.router, movies.router, recommend.router, profiles.router, clusters.router)

__all__ = ["ROUTERS"]
