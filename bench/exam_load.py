"""Mock-exam hot paths under load, over HTTP, on PostgreSQL.

The server runs as a uvicorn subprocess and the load comes from another process
(bench/loadgen.py), so neither measures itself. Setup: a fresh database with the demo
certifications, USERS learners with bearer tokens, and the KR-INFO-ENGINEER MOCK blueprint
(100 questions). Phases, in order:

1. start    50 sequential exam starts, then 200 learners starting within one second
2. peak     64 connections saving answers back to back (closed loop), 5 s warm-up + 20 s
3. open     USERS learners saving every 2 s with random phase; latency from the scheduled
            send time. When the machine cannot keep up, runs at lower rates (save_sustained_*).
4. submit   50 attempts with all 100 answers stored, submitted (and graded) one by one

docs/performance.md has the figures and what they mean.

Knobs (environment): BENCH_WORKERS (uvicorn workers, default 1), BENCH_USERS (default 2000),
BENCH_UVICORN_ARGS (extra uvicorn options), BENCH_PYSPY=DIR (record a py-spy profile of the
server in each load phase into DIR; needs `pip install py-spy`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import bindparam, select, text, update

from bench.common import fresh_database, report, summary
from certplatform.content import service as content
from certplatform.demo import KOREAN_CODE, load_certifications
from certplatform.identity import service as identity
from certplatform.kernel.db import Database, new_id
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.grading import Response
from certplatform.learning.models import Attempt, AttemptItem

ROOT = Path(__file__).resolve().parents[1]
BENCH, BACKEND = "exam", "postgresql"
USERS = int(os.environ.get("BENCH_USERS", "2000"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
PYSPY_DIR = os.environ.get("BENCH_PYSPY")
UVICORN_ARGS = os.environ.get("BENCH_UVICORN_ARGS", "").split()  # e.g. --limit-concurrency 64
PASSWORD = "bench-password-1"  # noqa: S105 - throw-away accounts of a benchmark database
SEQUENTIAL_STARTS, BURST_STARTS, SUBMITS = 50, 200, 50
PEAK_CONNECTIONS, PEAK_WARMUP_S, PEAK_S = 64, 5.0, 20.0
OPEN_PERIOD_S, OPEN_WARMUP_S, OPEN_S = 2.0, 5.0, 25.0
# A run "sustains" its offered rate when it serves nearly all of it and the queue does not
# grow without bound (p99 stays far below the 2 s between one learner's saves).
SUSTAINED_SHARE, SUSTAINED_P99_MS = 0.97, 1000.0
STEP_DOWN_BUDGET_S = 240.0  # no second step-down run after this long (whole run ≤ ~6 min)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def _note(message: str) -> None:
    print(f"# {message}", flush=True)


async def _learners(db: Database, count: int) -> list[tuple[str, str]]:
    """(user id, bearer token) for `count` new learners, signed in through the service."""
    # Cheap argon2 parameters for these throw-away accounts only: the server never checks
    # their passwords (sessions are opened here), and real hashing would take minutes.
    identity.use_fast_hashing()
    limiter = identity.LoginLimiter("1000000/minute", "1000000/minute")
    out: list[tuple[str, str]] = []
    for first in range(0, count, 250):
        async with db.transaction() as uow:
            users = [
                await identity.create_user(uow, f"bench{n:05d}@example.com", PASSWORD)
                for n in range(first, min(count, first + 250))
            ]
        async with db.transaction() as uow:
            for user in users:
                issued = await identity.sign_in(
                    uow, limiter, user.email, PASSWORD, kind="bearer", ip="127.0.0.1", days=1
                )
                out.append((user.id, issued.token))
    return out


async def _clone_attempts(db: Database, template: str, user_ids: list[str]) -> list[str]:
    """Give each user an open copy of the template attempt (same frozen form).

    Starting 2,000 exams over HTTP would take minutes of setup; the copies are rows exactly
    like the ones a start writes, and the save path reads nothing else."""
    ids = [new_id() for _ in user_ids]
    a_cols = [
        c.name
        for c in Attempt.__table__.columns
        if c.name not in ("id", "user_id", "started_at", "deadline_at")
    ]
    i_cols = [c.name for c in AttemptItem.__table__.columns if c.name != "attempt_id"]
    # Column names come from the models and every value is bound, so the f-strings are safe.
    copy_attempts = (
        f"INSERT INTO attempts (id, user_id, started_at, deadline_at, {', '.join(a_cols)}) "  # noqa: S608
        "SELECT m.id, m.user_id, now(), now() + (a.deadline_at - a.started_at), "
        f"{', '.join('a.' + c for c in a_cols)} "
        "FROM attempts a, unnest(CAST(:ids AS text[]), CAST(:users AS text[])) "
        "AS m(id, user_id) WHERE a.id = :template"
    )
    copy_items = (
        f"INSERT INTO attempt_items (attempt_id, {', '.join(i_cols)}) "  # noqa: S608
        f"SELECT m.id, {', '.join('i.' + c for c in i_cols)} "
        "FROM attempt_items i, unnest(CAST(:ids AS text[])) AS m(id) "
        "WHERE i.attempt_id = :template"
    )
    async with db.transaction() as uow:
        params = {"ids": ids, "users": user_ids, "template": template}
        await uow.session.execute(text(copy_attempts), params)
        await uow.session.execute(text(copy_items), params)
    return ids


async def _outbox_drained(db: Database, limit_s: float = 120.0) -> None:
    """Wait until the server's relay has caught up, so it does not run inside a measurement."""
    stop = time.monotonic() + limit_s
    while time.monotonic() < stop:
        async with db.transaction() as uow:
            left = await uow.session.scalar(
                text("SELECT count(*) FROM outbox_events WHERE published_at IS NULL")
            )
        if not left:
            return
        await asyncio.sleep(0.5)
    _note(f"outbox still has {left} unrelayed events after {limit_s:.0f} s")


class Server:
    """uvicorn serving the app in a subprocess, stopped (by its own pid) at the end."""

    def __init__(self, url: str, workers: int = WORKERS, kind: str = "uvicorn") -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "APP_ENV": "test",
            "SECRET_KEY": "bench-secret-key-0123456789-abcdefghijkl",
            "LOGIN_LIMIT_IP": "100000/minute",
            "EVENT_RELAY_INTERVAL": "0.5",
            "SWEEPER_INTERVAL": "5",
            "LOG_LEVEL": "WARNING",
            "MEDIA_DIR": str(ROOT / "var/bench-media"),
            # Each run starts a new database; checkpoints of an earlier run would not match.
            "AUDIT_CHECKPOINT_INTERVAL": "0",
        }
        if kind == "granian":
            command = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory"]
            command += ["--host", "127.0.0.1", "--port", str(self.port), "--loop", "uvloop"]
            command += ["--workers", str(workers), "--log-level", "warning"]
            command += ["certplatform.app:create_app"]
        else:
            command = [sys.executable, "-m", "uvicorn", "--factory", "certplatform.app:create_app"]
            command += ["--host", "127.0.0.1", "--port", str(self.port)]
            command += ["--workers", str(workers), "--log-level", "warning", *UVICORN_ARGS]
        # The server's own log (tracebacks of overload errors can run to megabytes).
        self.log_path = ROOT / "var/bench-exam-server.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )

    async def ready(self, limit_s: float = 60.0) -> None:
        stop = time.monotonic() + limit_s
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < stop:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited with {self.process.returncode}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError("server not ready in time")

    def profile(self, name: str, seconds: float) -> subprocess.Popen[bytes] | None:
        """py-spy of the serving process(es) during one phase, when BENCH_PYSPY is set."""
        if not PYSPY_DIR or not shutil.which("py-spy"):
            return None
        Path(PYSPY_DIR).mkdir(parents=True, exist_ok=True)
        out = Path(PYSPY_DIR) / f"{name}.svg"
        command = ["py-spy", "record", "-p", str(self.process.pid), "-d", str(int(seconds))]
        command += ["-o", str(out), "--subprocesses", "--nonblocking"]
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server process and its workers."""
        pids = [self.process.pid]
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            pids += [int(p) for p in children.read_text().split()]
        ticks = 0
        for pid in pids:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime + stime
        return ticks / os.sysconf("SC_CLK_TCK")

    async def quiet(self, limit_s: float = 30.0) -> None:
        """Wait until the server is nearly idle: an overload run leaves a backlog of
        requests whose clients gave up, and it must not run into the next measurement."""
        stop = time.monotonic() + limit_s
        while time.monotonic() < stop:
            before = self.cpu_seconds()
            await asyncio.sleep(1.0)
            if self.cpu_seconds() - before < 0.1:
                return
        _note(f"server still busy after {limit_s:.0f} s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self._log.close()
        errors = self.log_path.read_text(errors="replace").count("Exception in ASGI application")
        _note(f"server log: {self.log_path} ({errors} unhandled request errors)")


async def _loadgen(spec: dict[str, Any], server: Server) -> dict[str, Any]:
    """Run one phase in the load-generator process and return its JSON result, with the
    server's CPU time over the phase (a figure that other load on the machine skews less
    than latency does)."""
    cpu_before = server.cpu_seconds()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
        path = f.name
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.loadgen", path, cwd=ROOT, stdout=subprocess.PIPE
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=spec["deadline_s"] + 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode})")
    result: dict[str, Any] = json.loads(out)
    result["server_cpu_s"] = server.cpu_seconds() - cpu_before
    return result


def _cpu_note(result: dict[str, Any]) -> float:
    """Print where the CPU went; returns the server's CPU milliseconds per request."""
    wall = max(result["wall_s"], 1e-9)
    per_request = result["server_cpu_s"] * 1000 / max(result["requests_total"], 1)
    errors = result.get("errors") or "none"
    _note(
        f"server CPU {result['server_cpu_s'] / wall:.0%} of one core "
        f"({per_request:.1f} ms per request), generator CPU "
        f"{result['generator_cpu_s'] / wall:.0%}, over {wall:.1f} s; errors {errors}"
    )
    return per_request


async def _starts(server: Server, tokens: list[str], blueprint: str, style: str) -> list[Any]:
    await server.quiet()
    spec = {
        "mode": "start",
        "base_url": server.base_url,
        "tokens": tokens,
        "blueprint_id": blueprint,
        "style": style,
        "window_s": 1.0,
        "deadline_s": 180,
    }
    _note(f"{style} starts ({len(tokens)}), {_load()}")
    result = await _loadgen(spec, server)
    _cpu_note(result)
    # A failed start (timeout, error) counts with the time it took to fail, so failures
    # raise the percentiles instead of dropping out of them.
    every = result["latencies_ms"] + result["failed_ms"]
    stats = summary(every)
    prefix = "start" if style == "sequential" else "start_burst"
    if style == "sequential":
        report(BENCH, "start_p50", stats["p50"], "ms", BACKEND)
    report(BENCH, f"{prefix}_p95", stats["p95"], "ms", BACKEND)
    if style != "sequential":
        report(BENCH, "start_burst_max", max(every), "ms", BACKEND)
    report(BENCH, f"{prefix}_errors", len(result["failed_ms"]), "count", BACKEND)
    return [a for a in result["attempts"] if a is not None]


async def _peak(server: Server, connections: list[dict[str, Any]]) -> float:
    await server.quiet()
    spec = {
        "mode": "closed",
        "base_url": server.base_url,
        "connections": connections,
        "warmup_s": PEAK_WARMUP_S,
        "duration_s": PEAK_S,
        "seq_start": 1_000_000,
        "deadline_s": PEAK_WARMUP_S + PEAK_S + 60,
    }
    _note(f"closed loop, {len(connections)} connections, {_load()}")
    spy = server.profile("peak", PEAK_WARMUP_S + PEAK_S)
    result = await _loadgen(spec, server)
    if spy:
        spy.wait(timeout=60)
    cpu_ms = _cpu_note(result)
    rate = result["acked_in_window"] / result["measured_s"]
    report(BENCH, "save_peak_per_s", rate, "saves/s", BACKEND)
    report(BENCH, "save_peak_p95", summary(result["latencies_ms"])["p95"], "ms", BACKEND)
    report(BENCH, "save_peak_errors", sum(result["errors"].values()), "count", BACKEND)
    report(BENCH, "save_server_cpu_ms", cpu_ms, "ms", BACKEND)
    return rate


async def _open(server: Server, learners: list[dict[str, Any]], seq_start: int) -> dict[str, Any]:
    """One open-model run: its figures, and whether it sustained the offered rate."""
    await server.quiet()
    spec = {
        "mode": "open",
        "base_url": server.base_url,
        "learners": learners,
        "period_s": OPEN_PERIOD_S,
        "warmup_s": OPEN_WARMUP_S,
        "duration_s": OPEN_S,
        "seq_start": seq_start,
        "deadline_s": OPEN_WARMUP_S + OPEN_S + 60,
    }
    _note(f"open model, {len(learners)} learners every {OPEN_PERIOD_S:.0f} s, {_load()}")
    spy = server.profile(f"open-{len(learners)}", OPEN_WARMUP_S + OPEN_S)
    result = await _loadgen(spec, server)
    if spy:
        spy.wait(timeout=60)
    _cpu_note(result)
    _note(
        f"send lag p99 {result['send_lag_p99_ms']:.1f} ms (the generator's own delay, counted "
        f"in the latency); unfinished after the drain: {result['unfinished']}"
    )
    stats = summary(result["latencies_ms"]) if result["latencies_ms"] else {}
    nan = float("nan")
    figures = {
        "offered_per_s": result["offered_per_s"],
        "achieved_per_s": result["achieved_per_s"],
        "p50": stats.get("p50", nan),
        "p95": stats.get("p95", nan),
        "p99": stats.get("p99", nan),
        "errors": sum(result["errors"].values()) + max(0, result["unfinished"]),
    }
    figures["sustained"] = (
        figures["achieved_per_s"] >= SUSTAINED_SHARE * figures["offered_per_s"]
        and stats.get("p99", float("inf")) <= SUSTAINED_P99_MS
        and figures["errors"] == 0
    )
    _note(
        "open run: "
        + ", ".join(
            f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()
        )
    )
    return figures


def _report_open(prefix: str, figures: dict[str, Any]) -> None:
    for key, unit in (
        ("offered_per_s", "saves/s"),
        ("achieved_per_s", "saves/s"),
        ("p50", "ms"),
        ("p95", "ms"),
        ("p99", "ms"),
        ("errors", "count"),
    ):
        report(BENCH, f"{prefix}_{key}", float(figures[key]), unit, BACKEND)


async def _fill_answers(db: Database, attempt_ids: list[str]) -> None:
    """Answer every question of these attempts, stored exactly as a save stores an answer.

    Written directly: 5,000 saves over HTTP would take about a minute here, and the
    submit being measured reads only the stored answers."""
    rng = random.Random(9)
    table = AttemptItem.__table__
    async with db.transaction() as uow:
        items = (
            await uow.session.execute(
                select(table.c.attempt_id, table.c.position, table.c.display_order).where(
                    table.c.attempt_id.in_(attempt_ids)
                )
            )
        ).all()
        answer = (
            update(table)
            .where(table.c.attempt_id == bindparam("a"), table.c.position == bindparam("p"))
            .values(response=bindparam("r", type_=table.c.response.type), op_seq=1)
            .values(time_ms=bindparam("t"))
        )
        rows = [
            {
                "a": item.attempt_id,
                "p": item.position,
                "r": Response(choice_ids=(rng.choice(item.display_order),)).model_dump(mode="json"),
                "t": rng.randint(5_000, 90_000),
            }
            for item in items
        ]
        await uow.session.execute(answer, rows)
        await uow.session.execute(
            update(Attempt).where(Attempt.id.in_(attempt_ids)).values(unanswered=0)
        )
    if len(rows) != 100 * len(attempt_ids):
        raise RuntimeError(f"expected 100 items per attempt, found {len(rows)}")


async def _submits(server: Server, attempts: list[dict[str, Any]]) -> None:
    await server.quiet()
    _note(f"submits ({len(attempts)} × 100 answered questions), {_load()}")
    spec = {
        "mode": "submit",
        "base_url": server.base_url,
        "attempts": attempts,
        "deadline_s": 300,
    }
    result = await _loadgen(spec, server)
    _cpu_note(result)
    if result["errors"] or any(result["unanswered_counts"]):
        raise RuntimeError(f"submits failed or had blanks: {result['errors']}")
    stats = summary(result["latencies_ms"])
    report(BENCH, "submit_p50", stats["p50"], "ms", BACKEND)
    report(BENCH, "submit_p95", stats["p95"], "ms", BACKEND)


async def run() -> None:
    began = time.perf_counter()
    _note(f"setup, {_load()}, {os.cpu_count()} CPUs, {WORKERS} uvicorn worker(s)")
    url = await fresh_database(BACKEND, "exam")
    db = Database(url)
    await load_certifications(db, LocalStorage(ROOT / "var/bench-media"))
    async with db.transaction() as uow:
        blueprint = next(
            bp.id for bp in await content.blueprints(uow, KOREAN_CODE) if bp.code == "MOCK"
        )
    learners = await _learners(db, USERS)
    tokens = [t for _, t in learners]
    async with db.transaction() as uow:
        # The 4,000 sign-up and sign-in events of the setup are not part of what is measured:
        # relaying them into the audit log takes minutes on this machine and would run
        # inside the measurements. Events written during the run are relayed as usual.
        await uow.session.execute(
            text("UPDATE outbox_events SET published_at = now() WHERE published_at IS NULL")
        )
    _note(f"setup done in {time.perf_counter() - began:.0f} s ({USERS} learners)")

    server = Server(url)
    try:
        await server.ready()
        await _outbox_drained(db)

        sequential = await _starts(server, tokens[:SEQUENTIAL_STARTS], blueprint, "sequential")
        burst_tokens = tokens[SEQUENTIAL_STARTS : SEQUENTIAL_STARTS + BURST_STARTS]
        burst = await _starts(server, burst_tokens, blueprint, "burst")
        template = burst[-1]  # never saved to: its form is copied for the open model
        clones = await _clone_attempts(db, template["attempt"], [u for u, _ in learners])
        await _outbox_drained(db)

        peak = await _peak(server, burst[:PEAK_CONNECTIONS])

        everyone = [
            {"token": t, "attempt": a, "labels": template["labels"]}
            for t, a in zip(tokens, clones, strict=True)
        ]
        full = await _open(server, everyone, 2_000_000)
        _report_open("save_open", full)
        if not full["sustained"]:
            # The highest rate this machine sustains: step down from 60 % of the closed-loop
            # peak (an open rate close to the peak queues without bound); a second, lower
            # step only while the run stays within its time budget. The last run is
            # reported as save_sustained_*; one that fell short is in the notes above.
            for n, share in enumerate((0.6, 0.35)):
                count = max(2, min(len(everyone) - 1, int(peak * share * OPEN_PERIOD_S)))
                await _outbox_drained(db)
                lower = await _open(server, everyone[:count], 3_000_000 + n * 100_000)
                if lower["sustained"] or time.perf_counter() - began > STEP_DOWN_BUDGET_S:
                    break
            _report_open("save_sustained", lower)

        submitting = sequential[:SUBMITS]
        await _fill_answers(db, [a["attempt"] for a in submitting])
        await _outbox_drained(db)
        await _submits(server, submitting)
    finally:
        server.stop()
        await db.dispose()
    _note(f"exam_load finished in {time.perf_counter() - began:.0f} s, {_load()}")


def main() -> None:
    # Thousands of keep-alive connections need file descriptors in the server and generator.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 8192 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (8192, hard))
    asyncio.run(run())
