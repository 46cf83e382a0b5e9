"""Answer saves in a closed loop with wrk, against the floor, in one run (PostgreSQL).

The app runs under uvicorn with BENCH_WORKERS workers (default 2), then under granian with
as many (the two production servers compared), the load comes from
`wrk -t2 -c64` with bench/wrk/save.lua (each request saves one answer of one of 256
learners' open 100-question attempts), and the floor (bench/floor.py: a raw Starlette +
asyncpg server doing one durable upsert per request, same workers) takes the same load right
after. Figures: saves/s, latency percentiles, errors (any reply that is not 2xx, and socket
errors), the app's share of the floor, and each server's CPU per request.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import make_url, text

from bench.common import fresh_database, report
from bench.exam_load import (
    ROOT,
    Server,
    _clone_attempts,
    _free_port,
    _learners,
    _load,
    _note,
)
from bench.floor import TABLE
from certplatform.content import service as content
from certplatform.demo import KOREAN_CODE, load_certifications
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage

BENCH, BACKEND = "save_peak", "postgresql"
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
LEARNERS = 256
CONNECTIONS, THREADS = 64, 2
WARMUP_S, DURATION_S = 5, 20
SCRIPT = Path(__file__).parent / "wrk" / "save.lua"


def wrk(url: str, learners: Path, seconds: int, prefix: str | None = None) -> dict[str, float]:
    """One wrk run; the script's done() prints the figures as JSON."""
    env = {**os.environ, "LEARNERS": str(learners), "THREADS": str(THREADS)}
    if prefix:
        env["PATH_PREFIX"] = prefix
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s"]
    out = subprocess.run(
        [*command, "-s", str(SCRIPT), url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    found = re.search(r"^WRK_RESULT (.*)$", out, re.MULTILINE)
    if not found:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    result: dict[str, float] = json.loads(found[1])
    return result


class Floor(Server):
    """bench/floor.py under uvicorn with the same number of workers as the app."""

    def __init__(self, url: str) -> None:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.dsn = dsn
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "uvicorn", "--factory", "bench.floor:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", str(WORKERS)]
        command += ["--log-level", "warning"]
        self.log_path = ROOT / "var/bench-floor.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            env={**os.environ, "FLOOR_DSN": dsn},
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    async def ready(self, limit_s: float = 60.0) -> None:
        stop = time.monotonic() + limit_s
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < stop:
                try:
                    await client.get("/")
                    return
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)
        raise RuntimeError("floor server not ready in time")


def _measure(server: Server, name: str, learners: Path, prefix: str | None) -> dict[str, float]:
    wrk(server.base_url, learners, WARMUP_S, prefix)
    _note(f"{name}: wrk -t{THREADS} -c{CONNECTIONS} {DURATION_S} s, {_load()}")
    before = server.cpu_seconds()
    result = wrk(server.base_url, learners, DURATION_S, prefix)
    cpu = server.cpu_seconds() - before
    result["per_s"] = result["requests"] / (result["duration_us"] / 1e6)
    result["cpu_ms"] = cpu * 1000 / max(result["requests"], 1)
    _note(
        f"{name}: {result['per_s']:.0f}/s, p99 {result['p99_us'] / 1000:.1f} ms, "
        f"server CPU {cpu / (result['duration_us'] / 1e6):.0%} of one core "
        f"({result['cpu_ms']:.2f} ms per request)"
    )
    return result


async def run() -> None:
    if not shutil.which("wrk"):
        raise SystemExit("save_peak needs wrk (Debian package `wrk`)")
    began = time.perf_counter()
    url = await fresh_database(BACKEND, "save_peak")
    db = Database(url)
    await load_certifications(db, LocalStorage(ROOT / "var/bench-media"))
    async with db.transaction() as uow:
        blueprint = next(
            bp.id for bp in await content.blueprints(uow, KOREAN_CODE) if bp.code == "MOCK"
        )
    learners = await _learners(db, LEARNERS)
    async with db.transaction() as uow:
        await uow.session.execute(
            text("UPDATE outbox_events SET published_at = now() WHERE published_at IS NULL")
        )
    server = Server(url, workers=WORKERS)
    floor = other = None
    try:
        await server.ready()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            started = await client.post(
                "/api/v1/attempts",
                json={"blueprint_id": blueprint},
                headers={"Authorization": f"Bearer {learners[0][1]}"},
            )
            started.raise_for_status()
        template = started.json()["id"]
        clones = await _clone_attempts(db, template, [u for u, _ in learners])
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.writelines(f"{t} {a}\n" for (_, t), a in zip(learners, clones, strict=True))
            path = Path(f.name)
        _note(f"setup done in {time.perf_counter() - began:.0f} s, {WORKERS} workers each")
        app = _measure(server, "app", path, None)
        server.stop()
        server = Server(url, workers=WORKERS, kind="granian")
        await server.ready()
        other = _measure(server, "app on granian", path, None)
        server.stop()
        floor = Floor(url)
        conn = await asyncpg.connect(floor.dsn)
        try:
            await conn.execute(TABLE)
        finally:
            await conn.close()
        await floor.ready()
        base = _measure(floor, "floor", path, "/floor")
    finally:
        if server.process.poll() is None:
            server.stop()
        if floor is not None:
            floor.stop()
        await db.dispose()
    measured = [("save", app), ("floor", base)]
    if other is not None:
        measured.insert(1, ("granian_save", other))
    for prefix, figures in measured:
        report(BENCH, f"{prefix}_per_s", figures["per_s"], "saves/s", BACKEND)
        report(BENCH, f"{prefix}_p50", figures["p50_us"] / 1000, "ms", BACKEND)
        report(BENCH, f"{prefix}_p95", figures["p95_us"] / 1000, "ms", BACKEND)
        report(BENCH, f"{prefix}_p99", figures["p99_us"] / 1000, "ms", BACKEND)
        errors = figures["status_errors"] + figures["socket_errors"]
        report(BENCH, f"{prefix}_errors", errors, "count", BACKEND)
        report(BENCH, f"{prefix}_server_cpu_ms", figures["cpu_ms"], "ms", BACKEND)
    report(BENCH, "save_share_of_floor", 100 * app["per_s"] / base["per_s"], "%", BACKEND)


def main() -> None:
    asyncio.run(run())
