"""Loads every context's tables onto the shared metadata (for Alembic and the tests)."""

from __future__ import annotations

import importlib

CONTEXT_MODELS = (
    "certplatform.kernel.events",
    "certplatform.kernel.jobs",
    "certplatform.identity.models",
    "certplatform.content.models",
    "certplatform.learning.models",
    "certplatform.audit.models",
    "certplatform.community.models",
    "certplatform.analytics.models",
)


def import_all_models() -> None:
    for module in CONTEXT_MODELS:
        importlib.import_module(module)
