"""Audit REST routes (admins only): read the log, check its hash chain."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from certplatform.audit import service
from certplatform.audit.contracts import AuditEntryOut, VerifyResult
from certplatform.kernel.auth import UoW, require
from certplatform.kernel.bounds import INT32_MAX

router = APIRouter(prefix="/api/v1", tags=["audit"])
AuditReader = Annotated[object, Depends(require("audit", "read"))]


def _utc(moment: datetime | None) -> datetime | None:
    # A time written without an offset is read as UTC, the log's own zone.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get("/audit", response_model=list[AuditEntryOut])
async def entries(
    uow: UoW,
    _: AuditReader,
    action_prefix: Annotated[
        str | None, Query(max_length=200, description="e.g. identity.login")
    ] = None,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    subject_type: Annotated[str | None, Query(max_length=40)] = None,
    subject_id: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[datetime | None, Query(description="inclusive; UTC if no offset")] = None,
    until: Annotated[datetime | None, Query(description="exclusive; UTC if no offset")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
) -> list[AuditEntryOut]:
    """Audit entries, newest first."""
    return await service.list_entries(
        uow,
        action_prefix=action_prefix,
        actor_id=actor_id,
        subject_type=subject_type,
        subject_id=subject_id,
        since=_utc(since),
        until=_utc(until),
        limit=limit,
        offset=offset,
    )


@router.get("/audit/verify", response_model=VerifyResult)
async def verify(
    request: Request,
    uow: UoW,
    _: AuditReader,
    since_checkpoint: Annotated[
        bool, Query(description="start at the newest checkpoint instead of the first entry")
    ] = False,
) -> VerifyResult:
    """Walk the hash chain and compare it with the published checkpoints; `ok` is false,
    `status` "tampered" or "truncated" and `first_bad_seq` set when it is broken."""
    return await service.verify(
        uow,
        keys=request.app.state.audit_keys,
        store=request.app.state.storage,
        since_checkpoint=since_checkpoint,
    )
