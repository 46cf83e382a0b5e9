"""`certplatform doctor` and /readyz against the real servers on 127.0.0.1, and a closed port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from fastapi import FastAPI

from certplatform.app import create_app
from certplatform.kernel.doctor import check_all, redact
from certplatform.kernel.settings import Settings
from tests.support.nats import free_port

PG = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"
NATS = "nats://127.0.0.1:4222"


def _doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    return subprocess.run(
        [sys.executable, "-m", "certplatform.cli", "doctor", "--json", "--timeout", "2"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_doctor_reports_the_real_servers_and_their_versions() -> None:
    done = _doctor({"DATABASE_URL": PG, "REDIS_URL": REDIS, "NATS_URL": NATS})
    assert done.returncode == 0, done.stderr
    found = {b["backend"]: b for b in json.loads(done.stdout)["backends"]}
    assert found["database"]["reachable"] is True
    assert found["database"]["version"].startswith("PostgreSQL ")
    assert found["redis"]["version"].startswith("Redis ")
    assert found["nats"]["version"].startswith("NATS ")
    assert "(JetStream)" in found["nats"]["version"]
    # What is not set runs embedded, and says so.
    assert found["s3"] == {
        "backend": "s3",
        "configured": False,
        "target": None,
        "reachable": None,
        "version": None,
        "detail": "not set: media on the local disk (MEDIA_DIR)",
        "fallback": "media on the local disk (MEDIA_DIR)",
    }


def test_doctor_fails_when_a_configured_backend_is_down() -> None:
    closed = free_port()
    redis = f"redis://:hunter2@127.0.0.1:{closed}/0"
    done = _doctor({"DATABASE_URL": PG, "REDIS_URL": redis, "NATS_URL": NATS})
    assert done.returncode == 1
    found = {b["backend"]: b for b in json.loads(done.stdout)["backends"]}
    assert found["redis"]["reachable"] is False
    assert found["redis"]["target"] == f"redis://***@127.0.0.1:{closed}/0"  # no password shown
    assert "hunter2" not in done.stdout
    assert found["nats"]["reachable"] is True


async def test_every_probe_reports_a_closed_port_as_unreachable() -> None:
    closed = free_port()
    settings = Settings(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed}/x",
        REDIS_URL=f"redis://127.0.0.1:{closed}",
        NATS_URL=f"nats://127.0.0.1:{closed}",
        S3_ENDPOINT=f"http://127.0.0.1:{closed}",
        CH_HOST=f"http://127.0.0.1:{closed}",
    )
    checks = await check_all(settings, timeout=2.0)
    down = {c.backend for c in checks if c.configured and c.reachable is False}
    assert down == {"database", "redis", "nats", "s3", "clickhouse"}
    assert all(c.detail for c in checks)


def test_redact_hides_passwords_only() -> None:
    assert redact("postgresql://u:pw@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert redact("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"
    assert redact("redis://u:pw@h:6379/1") == "redis://***@h:6379/1"


async def test_readyz_reports_the_backends_this_process_needs(settings: Settings) -> None:
    closed = free_port()
    # (REDIS_URL is left unset here: the app's Redis use is its own work and its own tests.)
    down = settings.model_copy(update={"nats_url": f"nats://127.0.0.1:{closed}"})
    app: FastAPI = create_app(down)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            reply = await http.get("/readyz")
    # NATS down: still serving (events wait in the outbox), but degraded and visible.
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "degraded"
    assert (body["database"], body["redis"], body["s3"]) == ("ok", "embedded", "embedded")
    assert body["nats"] != "ok"

    up = settings.model_copy(update={"nats_url": NATS})
    app = create_app(up)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            reply = await http.get("/readyz")
    assert reply.json() == {
        "status": "ok",
        "database": "ok",
        "redis": "embedded",
        "nats": "ok",
        "s3": "embedded",
        "analytics": "database",
    }


async def test_readyz_says_the_analytics_store_is_on_clickhouse(settings: Settings) -> None:
    closed = free_port()
    on_clickhouse = settings.model_copy(update={"ch_host": f"http://127.0.0.1:{closed}"})
    app: FastAPI = create_app(on_clickhouse)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            reply = await http.get("/readyz")
    body = reply.json()
    assert body["analytics"] == "clickhouse"
    # It holds the analytics store, so its absence shows (events wait in the outbox).
    assert (reply.status_code, body["status"]) == (200, "degraded")
    assert body["clickhouse"] != "ok"


def test_doctor_says_where_the_analytics_store_is(tmp_path: Path) -> None:
    embedded = f"chdb://{tmp_path / 'analytics'}"
    done = _doctor({"DATABASE_URL": PG, "CH_HOST": embedded})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["analytics_store"] == {"engine": "clickhouse", "target": embedded}
    found = {b["backend"]: b for b in report["backends"]}
    assert found["clickhouse"]["reachable"] is True
    assert found["clickhouse"]["version"].startswith("chdb ")
    text = subprocess.run(
        [sys.executable, "-m", "certplatform.cli", "doctor"],
        env={**os.environ, "DATABASE_URL": PG, "CH_HOST": embedded},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert f"on ClickHouse ({embedded})" in text.stdout
    plain = json.loads(_doctor({"DATABASE_URL": PG}).stdout)
    assert plain["analytics_store"] == {"engine": "database", "target": None}
