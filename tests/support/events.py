"""Relaying the outbox in a test, in either shape (ADR 0034)."""

from __future__ import annotations

from fastapi import FastAPI

from certplatform.app import relay_events as relay_once
from tests.support.shapes import settled


async def relay_events(app: FastAPI) -> int:
    """Relay the outbox once; returns how many events went. Embedded, the handlers have run
    when it returns; distributed, it waits until the worker process has handled them."""
    relayed = await relay_once(app)
    if app.state.events_transport is not None:
        await settled(app.state.events_transport)
    return relayed
