"""An open-model HTTP load generator that costs little: `python -m bench.openloop SPEC.json`.

Requests are sent at fixed times (the spec's phases: a rate for a duration), whatever the
server is doing, and each latency counts from the *scheduled* time, so a server that falls
behind cannot hide it (no coordinated omission). It speaks HTTP/1.1 keep-alive over raw
asyncio transports with httptools' parser (no client library: ~50 µs of CPU per request
instead of httpx's ~3 ms), opening connections as needed up to a cap; a request waits for
a free connection when all are busy, and that wait is part of its latency.

Spec: {"base_url", "phases": [{"name", "rate", "duration_s"}], "mix": {kind: weight},
"data": {...per kind...}, "max_connections", "timeout_s", "drain_s", "seed"}.
Kinds: save (PUT an answer of an open attempt), view (GET an attempt), practice_question,
practice_answer, start (POST a new attempt, one learner each), submit (each attempt once).
Output: one JSON object: the kinds, one record per request [kind, phase, scheduled offset
in ms, latency in ms, status (0 = timeout or socket error)], and the generator's own CPU.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
from collections import deque
from collections.abc import Callable
from itertools import cycle
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httptools

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None  # type: ignore[assignment]

KINDS = ("save", "view", "practice_question", "practice_answer", "start", "submit")


def _request(method: str, path: str, token: str, host: str, body: bytes = b"") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Accept: application/json\r\n"
    )
    if method != "GET":
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def _builders(spec: dict[str, Any], host: str) -> dict[str, Callable[[int], bytes | None]]:
    """One function per kind: request number → the request's bytes (None when the kind's
    pool of one-use data, such as learners who may start, is used up)."""
    data = spec["data"]
    rng = random.Random(spec.get("seed", 1))
    api = "/api/v1"
    out: dict[str, Callable[[int], bytes | None]] = {}
    if "save" in data:
        savers = cycle(data["save"]["learners"])  # [token, attempt, questions]
        seq0 = data["save"].get("seq_start", 1_000_000)

        def save(n: int) -> bytes:
            token, attempt, questions = next(savers)
            position = rng.randint(1, questions)
            body = (
                f'{{"op_id":"o{seq0 + n}","op_seq":{seq0 + n},'
                f'"answer":{{"choices":["{rng.randint(1, 4)}"]}},"elapsed_ms":4000}}'
            ).encode()
            return _request(
                "PUT", f"{api}/attempts/{attempt}/answers/{position}", token, host, body
            )

        out["save"] = save
    if "view" in data:
        viewers = cycle(data["view"]["learners"])  # [token, attempt]

        def view(n: int) -> bytes:
            token, attempt = next(viewers)
            return _request("GET", f"{api}/attempts/{attempt}", token, host)

        out["view"] = view
    if "practice" in data:
        practisers = cycle(data["practice"]["learners"])  # [token, session, questions]
        practisers_q = cycle(data["practice"]["learners"])
        labels = data["practice"].get("labels", ["1", "2", "3", "4"])

        def practice_question(n: int) -> bytes:
            token, session, questions = next(practisers_q)
            position = rng.randrange(questions)  # practice positions count from 0
            path = f"{api}/practice/sessions/{session}/questions/{position}"
            return _request("GET", path, token, host)

        def practice_answer(n: int) -> bytes:
            token, session, questions = next(practisers)
            position = rng.randrange(questions)
            body = f'{{"answer":{{"choices":["{rng.choice(labels)}"]}},"elapsed_ms":9000}}'
            path = f"{api}/practice/sessions/{session}/questions/{position}/answer"
            return _request("POST", path, token, host, body.encode())

        out["practice_question"] = practice_question
        out["practice_answer"] = practice_answer
    if "start" in data:
        starters = iter(data["start"]["tokens"])
        start_body = json.dumps({"blueprint_id": data["start"]["blueprint_id"]}).encode()

        def start(n: int) -> bytes | None:
            token = next(starters, None)
            return (
                None
                if token is None
                else _request("POST", f"{api}/attempts", token, host, start_body)
            )

        out["start"] = start
    if "submit" in data:
        submitters = iter(data["submit"]["learners"])  # [token, attempt]

        def submit(n: int) -> bytes | None:
            pair = next(submitters, None)
            if pair is None:
                return None
            token, attempt = pair
            return _request("POST", f"{api}/attempts/{attempt}/submit", token, host, b"{}")

        out["submit"] = submit
    return out


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.current: list[Any] | None = None  # the record of the request in flight
        self.sent_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, record: list[Any], payload: bytes) -> None:
        self.current = record
        self.sent_at = time.perf_counter()
        assert self.transport is not None
        self.transport.write(payload)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail()

    def on_message_complete(self) -> None:
        record, self.current = self.current, None
        if record is not None:
            record[3] = (time.perf_counter() - self.gen.t0) * 1000 - record[2]
            record[4] = self.parser.get_status_code()
            self.gen.idle(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail()

    def _fail(self) -> None:
        record, self.current = self.current, None
        if record is not None:
            record[3] = (time.perf_counter() - self.gen.t0) * 1000 - record[2]
            record[4] = 0
        self.gen.lost(self)
        if self.transport is not None:
            self.transport.close()
            self.transport = None


class Generator:
    def __init__(self, spec: dict[str, Any]) -> None:
        url = urlsplit(spec["base_url"])
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.spec = spec
        self.builders = _builders(spec, f"{self.host}:{self.port}")
        mix = {k: w for k, w in spec["mix"].items() if w > 0}
        self.kinds = [k for k in KINDS if k in mix]
        self.weights = [mix[k] for k in self.kinds]
        self.max_connections = spec.get("max_connections", 1024)
        self.timeout_s = spec.get("timeout_s", 10.0)
        self.free: list[Connection] = []
        self.busy: set[Connection] = set()
        self.opening = 0
        self.waiting: deque[tuple[list[Any], bytes]] = deque()
        self.records: list[list[Any]] = []
        self.t0 = 0.0
        self.max_lag_ms = 0.0

    def idle(self, conn: Connection) -> None:
        self.busy.discard(conn)
        if self.waiting:
            self._send(conn, *self.waiting.popleft())
        else:
            self.free.append(conn)

    def lost(self, conn: Connection) -> None:
        self.busy.discard(conn)
        if conn in self.free:
            self.free.remove(conn)

    def _send(self, conn: Connection, record: list[Any], payload: bytes) -> None:
        self.busy.add(conn)
        conn.send(record, payload)

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: Connection(self), self.host, self.port)
        except OSError:
            self.opening -= 1
            if self.waiting:  # a request that found no connection fails, counted as such
                record, _ = self.waiting.popleft()
                record[3] = (time.perf_counter() - self.t0) * 1000 - record[2]
                record[4] = 0
            return
        self.opening -= 1
        self.idle(conn)

    def dispatch(self, record: list[Any], payload: bytes) -> None:
        if self.free:
            self._send(self.free.pop(), record, payload)
            return
        self.waiting.append((record, payload))
        in_use = len(self.busy) + self.opening
        if in_use < self.max_connections and self.opening < len(self.waiting):
            self.opening += 1
            asyncio.get_running_loop().create_task(self._open())

    async def _reap(self, stop: asyncio.Event) -> None:
        """Requests outstanding past the timeout fail (status 0) and lose their connection."""
        while not stop.is_set():
            await asyncio.sleep(0.2)
            deadline = time.perf_counter() - self.timeout_s
            for conn in [c for c in self.busy if c.sent_at < deadline]:
                conn._fail()

    async def run(self) -> dict[str, Any]:
        rng = random.Random(self.spec.get("seed", 1) + 1)
        stop = asyncio.Event()
        reaper = asyncio.create_task(self._reap(stop))
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        self.t0 = time.perf_counter()
        offset_s, n = 0.0, 0
        for phase_index, phase in enumerate(self.spec["phases"]):
            rate, duration = float(phase["rate"]), float(phase["duration_s"])
            count = int(rate * duration)
            for i in range(count):
                due = offset_s + i / rate
                delay = due - (time.perf_counter() - self.t0)
                if delay > 0.001:
                    await asyncio.sleep(delay)
                else:
                    self.max_lag_ms = max(self.max_lag_ms, -delay * 1000)
                kind = rng.choices(range(len(self.kinds)), self.weights)[0]
                payload = self.builders[self.kinds[kind]](n)
                n += 1
                if payload is None:
                    continue
                record = [kind, phase_index, due * 1000, None, None]
                self.records.append(record)
                self.dispatch(record, payload)
            offset_s += duration
        end = time.perf_counter() + self.spec.get("drain_s", 10.0)
        # Polls three counters while the last replies come in: a drain, not a hot loop.
        while time.perf_counter() < end and (self.busy or self.waiting or self.opening):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        stop.set()
        await reaper
        wall = time.perf_counter() - self.t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        for conn in list(self.busy) + self.free:
            if conn.transport is not None:
                conn.transport.close()
        return {
            "kinds": self.kinds,
            "records": self.records,
            "wall_s": wall,
            "generator_cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
            "max_send_lag_ms": self.max_lag_ms,
            "connections": len(self.busy) + len(self.free),
        }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 16384 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (16384, hard))
    if uvloop is not None:
        uvloop.install()
    result = asyncio.run(Generator(spec).run())
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
