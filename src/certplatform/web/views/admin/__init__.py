"""The back office under /admin: question bank, import/export, exam forms, users, audit,
regrading, error reports.

Pages call the same services as the REST routes; nothing here decides policy."""

from __future__ import annotations

from fastapi import APIRouter

from certplatform.web.views.admin import (
    audit,
    blueprints,
    dashboard,
    editor,
    forms,
    history,
    importer,
    items,
    questions,
    regrade,
    reports,
    users,
)

router = APIRouter(include_in_schema=False)
for _module in (
    dashboard,
    questions,
    editor,
    history,
    importer,
    blueprints,
    reports,
    items,
    forms,
    users,
    audit,
    regrade,
):
    router.include_router(_module.router)

__all__ = ["router"]
