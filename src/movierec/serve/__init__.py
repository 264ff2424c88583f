"""Serving: the HTTP API and web page (``app``, needs the ``serve`` extra) and the feedback store.

Only the store and the feedback merge are imported here, so that ``movierec train --feedback``
works without FastAPI installed; import ``movierec.serve.app`` for the web application.
"""

from __future__ import annotations

from .feedback import feedback_user_ids, merge_feedback
from .store import FeedbackStore, feedback_ratings

__all__ = ["FeedbackStore", "feedback_ratings", "feedback_user_ids", "merge_feedback"]
