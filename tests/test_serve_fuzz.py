"""Fuzzing the API from its own OpenAPI schema (schemathesis, in-process ASGI): no 5xx, ever,
and every documented success answer matches its schema."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from serve_support import tiny_recommender

from movierec.serve.app import create_app, get_recommender, get_store
from movierec.serve.store import FeedbackStore

_tmp = tempfile.TemporaryDirectory(prefix="movierec-fuzz-")


@lru_cache(maxsize=None)
def _store() -> FeedbackStore:
    return FeedbackStore(Path(_tmp.name) / "feedback.db")


# Loaded at import (schemathesis' lazy fixture loader does not support this pytest); the model
# and the store are built when the tests start, not at collection.
app = create_app()
app.dependency_overrides[get_recommender] = lambda: tiny_recommender()
app.dependency_overrides[get_store] = _store
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module", autouse=True)
def _trained():
    tiny_recommender()  # train before the first request's read timeout starts ticking


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])
