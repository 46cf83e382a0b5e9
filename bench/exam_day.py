"""Exam day on PostgreSQL: the load targets of the performance record, in one run.

The server runs as uvicorn with BENCH_WORKERS workers (default 2); the load comes from
bench/openloop.py (an open-model generator: requests at fixed times, latency from the
scheduled time, ~50 µs of CPU per request, its own CPU share printed) and, for the closed
loop, from wrk. Phases, in order:

1. closed   wrk -t2 -c64 saving answers (10 s): the sustainable save rate S of this run
2. open     saves offered at 1,000/s for 60 s
3. overload saves offered at 3×S for 20 s, then S/2 for 15 s (recovery)
4. starts   50 starts one after another (5/s), then 200 learners starting within one second
5. submit   50 attempts with 100 answers each, submitted and graded (5/s)
6. mix      1,200 requests/s for 60 s: 75 % saves, 10 % attempt views, 8 % practice
            answers, 5 % practice questions, 1 % starts, 1 % submits
7. soak     the mix at 70 % of 1,200/s (or of what the mix served) for BENCH_SOAK_S seconds
            (default 600): p95 and each worker's RSS per minute

Knobs: BENCH_WORKERS, BENCH_SOAK_S (0 skips the soak), BENCH_OPEN_RATE (1000),
BENCH_MIX_RATE (1200). docs/performance.md has the figures and what they mean.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from bench.common import fresh_database, percentile, report
from bench.exam_load import (
    ROOT,
    Server,
    _clone_attempts,
    _fill_answers,
    _learners,
    _load,
    _note,
    _outbox_drained,
)
from bench.save_peak import wrk
from certplatform.content import service as content
from certplatform.demo import KOREAN_CODE, load_certifications
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage

BENCH, BACKEND = "exam_day", "postgresql"
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
SOAK_S = int(os.environ.get("BENCH_SOAK_S", "600"))
OPEN_RATE = float(os.environ.get("BENCH_OPEN_RATE", "1000"))
MIX_RATE = float(os.environ.get("BENCH_MIX_RATE", "1200"))
FCC = "US-FCC-TECHNICIAN"
SAVERS, PRACTISERS = 1000, 200
SEQUENTIAL_STARTS, BURST_STARTS, SUBMITS = 50, 200, 50
MIX = {
    "save": 75,
    "view": 10,
    "practice_answer": 8,
    "practice_question": 5,
    "start": 1,
    "submit": 1,
}


class Pools:
    """Learners and their data, each one-use pool (starts, submits) sized for the run."""

    def __init__(self) -> None:
        self.savers: list[list[Any]] = []  # [token, attempt, questions]
        self.practisers: list[list[Any]] = []  # [token, session, questions]
        self.practice_labels: list[str] = []
        self.starters: list[str] = []  # tokens of learners with no open attempt
        self.submitters: list[list[str]] = []  # [token, attempt with every answer]
        self.blueprint = ""

    def take_starters(self, n: int) -> list[str]:
        taken, self.starters = self.starters[:n], self.starters[n:]
        return taken

    def take_submitters(self, n: int) -> list[list[str]]:
        taken, self.submitters = self.submitters[:n], self.submitters[n:]
        return taken


async def _setup(db: Database, server: Server) -> Pools:
    pools = Pools()
    async with db.transaction() as uow:
        pools.blueprint = next(
            bp.id for bp in await content.blueprints(uow, KOREAN_CODE) if bp.code == "MOCK"
        )
    soak_rate = 0.7 * MIX_RATE
    one_use = int(0.01 * (MIX_RATE * 60 + soak_rate * SOAK_S) * 1.1) + 10
    starters = SEQUENTIAL_STARTS + BURST_STARTS + one_use
    total = SAVERS + PRACTISERS + starters + SUBMITS + one_use
    began = time.perf_counter()
    learners = await _learners(db, total)
    async with db.transaction() as uow:
        await uow.session.execute(
            text("UPDATE outbox_events SET published_at = now() WHERE published_at IS NULL")
        )
    _note(f"{total} learners in {time.perf_counter() - began:.0f} s")
    savers, rest = learners[:SAVERS], learners[SAVERS:]
    practisers, rest = rest[:PRACTISERS], rest[PRACTISERS:]
    pools.starters = [t for _, t in rest[:starters]]
    submitters = rest[starters:]
    headers = {"Authorization": f"Bearer {savers[0][1]}"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        started = await client.post(
            "/api/v1/attempts", json={"blueprint_id": pools.blueprint}, headers=headers
        )
        started.raise_for_status()
        template = started.json()["id"]
        # Practice sessions over the FCC pool (no lock with the Korean exams' questions).
        for _, token in practisers:
            made = await client.post(
                "/api/v1/practice/sessions",
                json={"certification": FCC, "order": "random", "limit": 100},
                headers={"Authorization": f"Bearer {token}"},
            )
            made.raise_for_status()
            pools.practisers.append([token, made.json()["id"], made.json()["total"]])
        first = await client.get(
            f"/api/v1/practice/sessions/{pools.practisers[0][1]}/questions/1",
            headers={"Authorization": f"Bearer {pools.practisers[0][0]}"},
        )
        first.raise_for_status()
        pools.practice_labels = [c["label"] for c in first.json()["question"]["choices"]]
    clones = await _clone_attempts(db, template, [u for u, _ in savers[1:]])
    pools.savers = [[savers[0][1], template, 100]] + [
        [t, a, 100] for (_, t), a in zip(savers[1:], clones, strict=True)
    ]
    # Attempts to submit: copies of one fully answered attempt.
    answered = await _clone_attempts(db, template, [submitters[0][0]])
    await _fill_answers(db, answered)
    filled = answered + await _clone_attempts(db, answered[0], [u for u, _ in submitters[1:]])
    pools.submitters = [[t, a] for (_, t), a in zip(submitters, filled, strict=True)]
    _note(f"setup done in {time.perf_counter() - began:.0f} s")
    return pools


async def _generate(server: Server, spec: dict[str, Any]) -> dict[str, Any]:
    """One run of bench/openloop.py in its own process; adds the server's CPU seconds."""
    spec = {"base_url": server.base_url, "timeout_s": 10.0, "drain_s": 12.0, **spec}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
        path = f.name
    cpu = server.cpu_seconds()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.openloop", path, cwd=ROOT, stdout=subprocess.PIPE
        )
        out, _ = await proc.communicate()
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode})")
    result: dict[str, Any] = json.loads(out)
    result["server_cpu_s"] = server.cpu_seconds() - cpu
    wall = result["wall_s"]
    _note(
        f"generator CPU {result['generator_cpu_s'] / wall:.0%} of one core, send lag max "
        f"{result['max_send_lag_ms']:.1f} ms, {result['connections']} connections; server CPU "
        f"{result['server_cpu_s'] / wall:.0%} of one core "
        f"({result['server_cpu_s'] * 1000 / max(1, len(result['records'])):.2f} ms per request)"
    )
    return result


def _figures(records: list[list[Any]], seconds: float) -> dict[str, float]:
    """Offered, served (2xx), refused (503), failed (anything else or no reply) and the
    latencies of the served, for a set of records."""
    ok = [r[3] for r in records if r[4] is not None and 200 <= r[4] < 300]
    busy = [r[3] for r in records if r[4] == 503]
    nan = float("nan")
    return {
        "offered_per_s": len(records) / seconds,
        "served_per_s": len(ok) / seconds,
        "served_share": 100 * len(ok) / max(1, len(records)),
        "refused": float(len(busy)),
        "failed": float(len(records) - len(ok) - len(busy)),
        "p50": percentile(ok, 50) if ok else nan,
        "p95": percentile(ok, 95) if ok else nan,
        "p99": percentile(ok, 99) if ok else nan,
        "refused_p99": percentile(busy, 99) if busy else nan,
    }


def _report(prefix: str, figures: dict[str, float], keys: tuple[str, ...]) -> None:
    units = {"p50": "ms", "p95": "ms", "p99": "ms", "refused_p99": "ms", "served_share": "%"}
    for key in keys:
        unit = units.get(key, "count" if key in ("refused", "failed") else "req/s")
        report(BENCH, f"{prefix}_{key}", figures[key], unit, BACKEND)


def _failures(records: list[list[Any]], kinds: list[str]) -> str:
    seen: dict[str, int] = {}
    for r in records:
        if r[4] is None or not 200 <= r[4] < 300:
            key = f"{kinds[r[0]]}:{r[4]}"
            seen[key] = seen.get(key, 0) + 1
    return ", ".join(f"{k} ×{v}" for k, v in sorted(seen.items())) or "none"


async def _closed(server: Server, pools: Pools) -> float:
    await server.quiet()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.writelines(f"{t} {a}\n" for t, a, _ in pools.savers[:256])
        learners = Path(f.name)
    wrk(server.base_url, learners, 3)
    result = wrk(server.base_url, learners, 10)
    rate = result["requests"] / (result["duration_us"] / 1e6)
    _note(f"closed loop (wrk -c64, 10 s): {rate:.0f} saves/s, p99 {result['p99_us'] / 1000:.0f} ms")
    report(BENCH, "closed_saves_per_s", rate, "saves/s", BACKEND)
    return rate


async def _open(server: Server, pools: Pools) -> dict[str, float]:
    await server.quiet()
    _note(f"open model: saves at {OPEN_RATE:.0f}/s for 60 s, {_load()}")
    data = {"save": {"learners": pools.savers, "seq_start": 10_000_000}}
    phases = [{"name": "open", "rate": OPEN_RATE, "duration_s": 60}]
    result = await _generate(server, {"phases": phases, "mix": {"save": 1}, "data": data})
    figures = _figures(result["records"], 60)
    _note(f"open: failures {_failures(result['records'], result['kinds'])}")
    _report("open", figures, ("offered_per_s", "served_share", "p50", "p95", "p99", "failed"))
    return figures


async def _overload(server: Server, pools: Pools, sustainable: float, normal_p95: float) -> None:
    await server.quiet()
    high, low = 3 * sustainable, sustainable / 2
    _note(f"overload: saves at {high:.0f}/s for 20 s, then {low:.0f}/s for 15 s, {_load()}")
    data = {"save": {"learners": pools.savers, "seq_start": 20_000_000}}
    phases = [
        {"name": "burst", "rate": high, "duration_s": 20},
        {"name": "after", "rate": low, "duration_s": 15},
    ]
    result = await _generate(server, {"phases": phases, "mix": {"save": 1}, "data": data})
    records = result["records"]
    burst = _figures([r for r in records if r[1] == 0], 20)
    _note(f"overload: failures {_failures(records, result['kinds'])}")
    _report("overload", burst, ("offered_per_s", "served_per_s", "refused", "failed", "p99"))
    report(BENCH, "overload_refused_p99", burst["refused_p99"], "ms", BACKEND)
    report(BENCH, "overload_goodput_share", 100 * burst["served_per_s"] / sustainable, "%", BACKEND)
    # Recovery: seconds after the burst until every later second's p95 is back within 2×
    # the open run's p95 (or 50 ms) with nothing refused.
    limit = max(2 * normal_p95, 50.0)
    after = [r for r in records if r[1] == 1]
    recovered_at = 0.0
    for second in range(15):
        window = [r for r in after if 20_000 + second * 1000 <= r[2] < 20_000 + (second + 1) * 1000]
        ok = [r[3] for r in window if r[4] is not None and 200 <= r[4] < 300]
        if len(ok) < len(window) or not ok or percentile(ok, 95) > limit:
            recovered_at = second + 1.0
    report(BENCH, "overload_recovery_s", recovered_at, "s", BACKEND)


async def _starts(server: Server, pools: Pools) -> None:
    await server.quiet()
    data = {
        "start": {"tokens": pools.take_starters(SEQUENTIAL_STARTS), "blueprint_id": pools.blueprint}
    }
    phases = [{"name": "sequential", "rate": 5, "duration_s": SEQUENTIAL_STARTS / 5}]
    result = await _generate(server, {"phases": phases, "mix": {"start": 1}, "data": data})
    figures = _figures(result["records"], SEQUENTIAL_STARTS / 5)
    _note(f"sequential starts: failures {_failures(result['records'], result['kinds'])}")
    _report("start", figures, ("p50", "p95", "failed"))
    await server.quiet()
    _note(f"{BURST_STARTS} starts within one second, {_load()}")
    data = {"start": {"tokens": pools.take_starters(BURST_STARTS), "blueprint_id": pools.blueprint}}
    phases = [{"name": "burst", "rate": BURST_STARTS, "duration_s": 1}]
    result = await _generate(server, {"phases": phases, "mix": {"start": 1}, "data": data})
    records = result["records"]
    figures = _figures(records, 1)
    _note(f"start burst: failures {_failures(records, result['kinds'])}")
    _report("start_burst", figures, ("p50", "p95", "refused", "failed"))
    every = [r[3] for r in records if r[3] is not None]
    report(BENCH, "start_burst_max", max(every), "ms", BACKEND)


async def _submits(server: Server, pools: Pools) -> None:
    await server.quiet()
    data = {"submit": {"learners": pools.take_submitters(SUBMITS)}}
    phases = [{"name": "submit", "rate": 5, "duration_s": SUBMITS / 5}]
    result = await _generate(server, {"phases": phases, "mix": {"submit": 1}, "data": data})
    figures = _figures(result["records"], SUBMITS / 5)
    _note(f"submits: failures {_failures(result['records'], result['kinds'])}")
    _report("submit", figures, ("p50", "p95", "failed"))


def _mix_data(pools: Pools, rate: float, seconds: float, seq_start: int) -> dict[str, Any]:
    one_use = int(0.01 * rate * seconds * 1.1) + 5
    return {
        "save": {"learners": pools.savers, "seq_start": seq_start},
        "view": {"learners": [[t, a] for t, a, _ in pools.savers]},
        "practice": {"learners": pools.practisers, "labels": pools.practice_labels},
        "start": {"tokens": pools.take_starters(one_use), "blueprint_id": pools.blueprint},
        "submit": {"learners": pools.take_submitters(one_use)},
    }


async def _mix(server: Server, pools: Pools) -> dict[str, float]:
    await server.quiet()
    _note(f"the mix at {MIX_RATE:.0f}/s for 60 s, {_load()}")
    data = _mix_data(pools, MIX_RATE, 60, 30_000_000)
    phases = [{"name": "mix", "rate": MIX_RATE, "duration_s": 60}]
    result = await _generate(server, {"phases": phases, "mix": MIX, "data": data})
    records = result["records"]
    figures = _figures(records, 60)
    _note(f"mix: failures {_failures(records, result['kinds'])}")
    _report("mix", figures, ("offered_per_s", "served_per_s", "p50", "p95", "p99", "failed"))
    for index, kind in enumerate(result["kinds"]):
        mine = _figures([r for r in records if r[0] == index], 60)
        _note(
            f"  {kind:18} {mine['offered_per_s']:7.1f}/s  "
            f"p95 {mine['p95']:7.1f} ms  p99 {mine['p99']:7.1f} ms"
        )
    return figures


def _worker_rss_mb(server: Server) -> list[float]:
    pids: list[int] = []
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
        pids = [int(p) for p in children.read_text().split()]
    sizes = []
    for pid in pids or [server.process.pid]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
    return sizes


async def _soak(server: Server, pools: Pools, mix: dict[str, float]) -> None:
    rate = 0.7 * min(MIX_RATE, mix["served_per_s"])
    await server.quiet()
    _note(f"soak: the mix at {rate:.0f}/s for {SOAK_S} s, {_load()}")
    data = _mix_data(pools, rate, SOAK_S, 40_000_000)
    phases = [{"name": "soak", "rate": rate, "duration_s": SOAK_S}]
    rss: list[tuple[float, list[float]]] = []

    async def sample() -> None:
        began = time.monotonic()
        while True:
            rss.append((time.monotonic() - began, _worker_rss_mb(server)))
            await asyncio.sleep(10)

    sampler = asyncio.create_task(sample())
    try:
        result = await _generate(server, {"phases": phases, "mix": MIX, "data": data})
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    records = result["records"]
    _note(f"soak: failures {_failures(records, result['kinds'])}")
    minutes = max(1, SOAK_S // 60)
    p95s, rss_by_minute = [], []
    for minute in range(minutes):
        window = [r for r in records if minute * 60_000 <= r[2] < (minute + 1) * 60_000]
        ok = [r[3] for r in window if r[4] is not None and 200 <= r[4] < 300]
        p95s.append(percentile(ok, 95) if ok else float("nan"))
        sizes = [max(s) for t, s in rss if minute * 60 <= t < (minute + 1) * 60 and s]
        rss_by_minute.append(max(sizes) if sizes else float("nan"))
        _note(
            f"  minute {minute + 1:2}: p95 {p95s[-1]:6.1f} ms, "
            f"largest worker RSS {rss_by_minute[-1]:6.1f} MB"
        )
    figures = _figures(records, SOAK_S)
    _report("soak", figures, ("offered_per_s", "served_share", "p95", "failed"))
    if minutes >= 3:
        first = 1  # minute 2: the first minute warms caches
        report(BENCH, "soak_p95_drift", 100 * (p95s[-1] - p95s[first]) / p95s[first], "%", BACKEND)
        drift = 100 * (rss_by_minute[-1] - rss_by_minute[first]) / rss_by_minute[first]
        report(BENCH, "soak_rss_drift", drift, "%", BACKEND)
    report(BENCH, "soak_rss_max", max(rss_by_minute), "MB", BACKEND)


async def run() -> None:
    began = time.perf_counter()
    _note(f"setup, {_load()}, {os.cpu_count()} CPUs, {WORKERS} worker(s)")
    url = await fresh_database(BACKEND, "exam_day")
    db = Database(url)
    await load_certifications(db, LocalStorage(ROOT / "var/bench-media"))
    server = Server(url, workers=WORKERS)
    try:
        await server.ready()
        pools = await _setup(db, server)
        await _outbox_drained(db)
        sustainable = await _closed(server, pools)
        normal = await _open(server, pools)
        await _overload(server, pools, sustainable, normal["p95"])
        await _outbox_drained(db)
        await _starts(server, pools)
        await _submits(server, pools)
        await _outbox_drained(db)
        mix = await _mix(server, pools)
        if SOAK_S > 0:
            await _outbox_drained(db)
            await _soak(server, pools, mix)
    finally:
        server.stop()
        await db.dispose()
    _note(f"exam_day finished in {time.perf_counter() - began:.0f} s, {_load()}")


def main() -> None:
    asyncio.run(run())
