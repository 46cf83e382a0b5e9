"""Operational endpoints."""

from __future__ import annotations

import httpx


async def test_health_ready_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "role": "all"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"
    metrics = await client.get("/metrics")
    assert "http_requests_total" in metrics.text
    assert 'route="/readyz"' in metrics.text


async def test_openapi_lists_the_api(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/questions" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
