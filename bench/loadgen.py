"""The load generator of bench.exam_load, run as its own process so that its CPU is not the
server's: `python -m bench.loadgen SPEC.json` prints one JSON object with the results.

Modes (the spec's "mode"):
  closed  each connection saves answers back to back (next request when the last is acked)
  open    each learner saves on a fixed schedule; latency counts from the scheduled time
  start   mock-exam starts, one after another ("sequential") or spread over a window ("burst")
  submit  submits, one after another

Traffic goes only to the spec's base_url (127.0.0.1). Every loop is bounded in requests and
in time, and the whole run has a hard deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import resource
import ssl
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

try:  # the same fast loop the server uses, so the generator costs less CPU
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None  # type: ignore[assignment]

TIMEOUT = httpx.Timeout(30.0)
DRAIN_S = 10.0  # how long an open run waits for stragglers after its window
# Each client would otherwise build its own TLS context (~40 ms of CPU: 2,000 learners would
# spend over a minute just creating clients); the traffic is plain HTTP anyway.
_TLS = ssl.create_default_context()


def _client(base_url: str, token: str, connections: int = 1) -> httpx.AsyncClient:
    # One client per simulated connection: HTTP/1.1 keep-alive, pool sized to its use.
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"authorization": f"Bearer {token}"},
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=TIMEOUT,
        verify=_TLS,
    )


def _answer_body(labels: list[str], seq: int, rng: random.Random) -> dict[str, Any]:
    return {
        "op_id": uuid.uuid4().hex,
        "op_seq": seq,
        "answer": {"choices": [rng.choice(labels)]},
        "elapsed_ms": rng.randint(1_000, 30_000),
    }


class Tally:
    """Latencies (ms) of measured successes, and failures by kind."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.done_at: list[float] = []

    def fail(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {"latencies_ms": self.latencies, "errors": self.errors}


async def _save(
    client: httpx.AsyncClient, attempt: str, position: int, body: dict[str, Any]
) -> str | None:
    """One answer save; None when acknowledged, else the failure kind."""
    try:
        reply = await client.put(f"/api/v1/attempts/{attempt}/answers/{position}", json=body)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return None if reply.status_code == 200 else f"http_{reply.status_code}"


async def closed(spec: dict[str, Any]) -> dict[str, Any]:
    """Back-to-back saves per connection; only requests started after the warm-up count."""
    base = spec["base_url"]
    warmup, duration = spec["warmup_s"], spec["duration_s"]
    per_conn_max = spec.get("max_per_connection", 1_000_000)
    tally = Tally()
    t0 = time.perf_counter()
    measure_from, stop_at = t0 + warmup, t0 + warmup + duration

    async def connection(n: int, conn: dict[str, Any]) -> int:
        rng = random.Random(n)
        labels = conn["labels"]
        sent = 0
        async with _client(base, conn["token"]) as client:
            seq = spec["seq_start"]
            while sent < per_conn_max and time.perf_counter() < stop_at:
                position = sent % len(labels) + 1
                seq += 1
                began = time.perf_counter()
                failure = await _save(
                    client, conn["attempt"], position, _answer_body(labels[position - 1], seq, rng)
                )
                ended = time.perf_counter()
                sent += 1
                if began >= measure_from and ended <= stop_at:
                    if failure:
                        tally.fail(failure)
                    else:
                        tally.latencies.append((ended - began) * 1000)
                elif failure and spec.get("count_all_errors"):
                    tally.fail(failure)
        return sent

    sent = await asyncio.gather(*(connection(n, c) for n, c in enumerate(spec["connections"])))
    return {
        **tally.as_dict(),
        "measured_s": duration,
        "requests_total": sum(sent),
        "acked_in_window": len(tally.latencies),
    }


async def open_model(spec: dict[str, Any]) -> dict[str, Any]:
    """Each learner saves every `period_s` with a random phase. A learner is one connection,
    so a slow reply delays its next send; latency is measured from the *scheduled* send time,
    so that delay is counted (no coordinated omission)."""
    base = spec["base_url"]
    period, warmup, duration = spec["period_s"], spec["warmup_s"], spec["duration_s"]
    learners = spec["learners"]
    tally = Tally()
    completions: list[float] = []
    lag: list[float] = []
    t0 = time.perf_counter() + 1.0  # a second to open the clients before the first send
    measure_from, last_send = t0 + warmup, t0 + warmup + duration
    phases = [random.Random(1000 + n).uniform(0, period) for n in range(len(learners))]
    # Every send scheduled inside the window, whether or not the learner got to it.
    scheduled_in_window = sum(
        1
        for phase in phases
        for k in range(int((warmup + duration) / period) + 2)
        if measure_from <= t0 + phase + k * period < last_send
    )

    async def learner(n: int, who: dict[str, Any]) -> None:
        rng = random.Random(2000 + n)
        labels = who["labels"]
        seq = spec["seq_start"]
        scheduled = t0 + phases[n]
        async with _client(base, who["token"]) as client:
            while scheduled < last_send:
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                began = time.perf_counter()
                lag.append(began - scheduled)  # one entry per send
                seq += 1
                position = rng.randrange(len(labels)) + 1
                failure = await _save(
                    client, who["attempt"], position, _answer_body(labels[position - 1], seq, rng)
                )
                ended = time.perf_counter()
                if scheduled >= measure_from:
                    if failure:
                        tally.fail(failure)
                    else:
                        tally.latencies.append((ended - scheduled) * 1000)
                        completions.append(ended)
                scheduled += period

    tasks = [asyncio.create_task(learner(n, w)) for n, w in enumerate(learners)]
    _, pending = await asyncio.wait(tasks, timeout=last_send - time.perf_counter() + DRAIN_S)
    for task in pending:  # still queued after the drain: counted as unfinished, not dropped
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*pending, return_exceptions=True)
    in_window = sum(1 for c in completions if c <= last_send)
    return {
        **tally.as_dict(),
        "offered_per_s": len(learners) / period,
        "achieved_per_s": in_window / duration,
        "scheduled_in_window": scheduled_in_window,
        "unfinished": scheduled_in_window - len(tally.latencies) - sum(tally.errors.values()),
        "send_lag_p99_ms": sorted(lag)[int(0.99 * (len(lag) - 1))] * 1000 if lag else 0.0,
        "requests_total": len(lag),
        "measured_s": duration,
    }


async def start(spec: dict[str, Any]) -> dict[str, Any]:
    """Start mock exams from a blueprint; returns each attempt's id and per-position labels."""
    base, body = spec["base_url"], {"blueprint_id": spec["blueprint_id"]}
    tokens: list[str] = spec["tokens"]
    tally = Tally()
    failed_ms: list[float] = []  # time until each failure: a failed start still waited
    attempts: list[dict[str, Any] | None] = [None] * len(tokens)
    clients = [_client(base, t) for t in tokens]
    try:
        # Open each connection first: learners in a real burst already have the page loaded.
        await asyncio.gather(*(c.get("/healthz") for c in clients))

        async def one(n: int, scheduled: float) -> None:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                reply = await clients[n].post("/api/v1/attempts", json=body)
            except httpx.HTTPError as exc:
                tally.fail(type(exc).__name__)
                failed_ms.append((time.perf_counter() - scheduled) * 1000)
                return
            ended = time.perf_counter()
            if reply.status_code != 201:
                tally.fail(f"http_{reply.status_code}")
                failed_ms.append((ended - scheduled) * 1000)
                return
            tally.latencies.append((ended - scheduled) * 1000)
            view = reply.json()
            attempts[n] = {
                "token": tokens[n],
                "attempt": view["id"],
                "labels": [[c["label"] for c in i["question"]["choices"]] for i in view["items"]],
            }

        if spec["style"] == "sequential":
            for n in range(len(tokens)):
                await one(n, time.perf_counter())
        else:
            rng = random.Random(5)
            t0 = time.perf_counter() + 0.2
            window = spec.get("window_s", 1.0)
            await asyncio.gather(*(one(n, t0 + rng.uniform(0, window)) for n in range(len(tokens))))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return {
        **tally.as_dict(),
        "failed_ms": failed_ms,
        "attempts": attempts,
        "requests_total": len(tokens),
    }


async def submit(spec: dict[str, Any]) -> dict[str, Any]:
    """Submit (and so grade) attempts one after another."""
    tally = Tally()
    unanswered: list[int] = []
    for item in spec["attempts"]:
        async with _client(spec["base_url"], item["token"]) as client:
            await client.get("/healthz")  # connection open before the clock starts
            began = time.perf_counter()
            try:
                reply = await client.post(f"/api/v1/attempts/{item['attempt']}/submit")
            except httpx.HTTPError as exc:
                tally.fail(type(exc).__name__)
                continue
            ended = time.perf_counter()
            if reply.status_code != 200:
                tally.fail(f"http_{reply.status_code}")
                continue
            tally.latencies.append((ended - began) * 1000)
            unanswered.append(reply.json()["unanswered_count"])
    return {
        **tally.as_dict(),
        "unanswered_counts": unanswered,
        "requests_total": len(spec["attempts"]),
    }


MODES = {"closed": closed, "open": open_model, "start": start, "submit": submit}


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    began = time.perf_counter()
    result = await asyncio.wait_for(MODES[spec["mode"]](spec), timeout=spec["deadline_s"])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["generator_cpu_s"] = usage.ru_utime + usage.ru_stime
    result["wall_s"] = time.perf_counter() - began
    return result


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    if not spec["base_url"].startswith("http://127.0.0.1:"):
        raise SystemExit("the load generator only talks to 127.0.0.1")
    result = uvloop.run(run(spec)) if uvloop is not None else asyncio.run(run(spec))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
