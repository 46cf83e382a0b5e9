"""What the analytics context offers other edges (REST, GraphQL, pages)."""

from __future__ import annotations

from certplatform.analytics import dashboard as board
from certplatform.analytics.contracts import Dashboard
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork
from certplatform.kernel.errors import NotFound


async def my_dashboard(
    uow: UnitOfWork, principal: Principal, certification: str | None = None
) -> Dashboard:
    """The signed-in learner's own progress in one certification (by default the one whose
    exam is nearest, else the one studied last); only ever the caller's data."""
    code = certification or await board.my_certification(uow, principal)
    if code is None:
        raise NotFound("Nothing studied yet: practise a certification first.")
    return await board.dashboard(uow, principal, code)
