"""Study rooms over Socket.IO (ADR 0024): connections one process holds, memory per
connection, and fan-out latency in a 50-member room.

One `certplatform serve --role community` process (one worker); the clients speak the
Engine.IO 4 / Socket.IO 5 wire protocol over plain websockets (a python-socketio client per
connection would cost the load generator more than the server). Figures:
- connections: BENCH_ROOM_CONNECTIONS (default 3,000) sockets authenticated on `/study`
  and held open, how many succeeded, and how long it took;
- memory per connection: the server's RSS growth over those connections, divided by them;
- fan-out: one member of a 50-member room says BENCH_ROOM_MESSAGES messages (default 100,
  every 110 ms: a socket may send 100 events in 10 s, ADR 0024); the time from send to
  receipt at each of the other 49 members, p50/p95/p99.
Targets (issue 12): 3,000 connections per process, p95 ≤ 200 ms, ≤ 60 KB per connection.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.common import BACKENDS, fresh_database, report, summary
from certplatform.community import rooms
from certplatform.community.contracts import RoomIn, Visibility
from certplatform.identity import service as identity
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import Database

BENCH = "rooms"
CONNECTIONS = int(os.environ.get("BENCH_ROOM_CONNECTIONS", "3000"))
MEMBERS = 50
MESSAGES = int(os.environ.get("BENCH_ROOM_MESSAGES", "100"))
PASSWORD = "correct horse battery"  # noqa: S105 - accounts of a throwaway database
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Socket:
    """One Socket.IO client on /study over a raw websocket (answers pings itself)."""

    def __init__(self, on_event: Callable[[str, Any], None] | None = None) -> None:
        self.on_event = on_event
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.next_ack = 0
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None

    async def connect(self, port: int, token: str) -> None:
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
        self.ws = await websockets.connect(url, max_size=2**20, ping_interval=None)
        opened = await self.ws.recv()
        assert opened.startswith("0"), opened
        await self.ws.send("40/study," + json.dumps({"token": token}))
        reply = await self.ws.recv()
        if not reply.startswith("40/study,"):
            raise RuntimeError(f"refused: {reply[:200]}")
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame == "2":
                await self.ws.send("3")
            elif frame.startswith("43/study,"):
                body = frame[len("43/study,") :]
                number, payload = body.split("[", 1)
                future = self.acks.pop(int(number), None)
                if future and not future.done():
                    future.set_result(json.loads("[" + payload)[0])
            elif frame.startswith("42/study,") and self.on_event:
                event, data = json.loads(frame[len("42/study,") :])
                self.on_event(event, data)

    async def call(self, event: str, data: dict[str, Any]) -> Any:
        self.next_ack += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks[self.next_ack] = future
        await self.ws.send(f"42/study,{self.next_ack}" + json.dumps([event, data]))
        return await asyncio.wait_for(future, 30)

    async def close(self) -> None:
        if self.reader:
            self.reader.cancel()
        await self.ws.close()


async def _accounts(url: str, count: int) -> tuple[list[str], list[Principal]]:
    identity.use_fast_hashing()
    db = Database(url)
    principals = []
    async with db.transaction() as uow:
        for n in range(count):
            await identity.create_user(uow, f"bench-room-{n}@example.com", PASSWORD)
    # The community role serves no sign-in route: tokens are issued here, as sign-in would.
    limiter = identity.LoginLimiter("100000/minute", "100000/minute")
    tokens = []
    for n in range(count):
        async with db.transaction() as uow:
            issued = await identity.sign_in(
                uow,
                limiter,
                f"bench-room-{n}@example.com",
                PASSWORD,
                kind="bearer",
                ip="127.0.0.1",
                days=1,
            )
        tokens.append(issued.token)
    async with db.transaction() as uow:
        for n in range(count):
            user = await identity.find_user(uow, f"bench-room-{n}@example.com")
            assert user is not None
            principals.append(
                Principal(user.id, user.email, user.role, user.display_name, "bearer", "bench")
            )
    await db.dispose()
    return tokens, principals


async def _room(url: str, owner: Principal) -> str:
    db = Database(url)
    async with db.transaction() as uow:
        room = await rooms.create_room(
            uow, owner, RoomIn(name="bench", visibility=Visibility.PUBLIC)
        )
    await db.dispose()
    return room.id


async def _held(port: int, token: str, pid: int, backend: str) -> None:
    sockets: list[Socket] = []
    failures = 0
    before = 0
    started = time.perf_counter()
    for start in range(0, CONNECTIONS, 100):  # in waves, as a crowd arrives
        batch = [Socket() for _ in range(min(100, CONNECTIONS - start))]
        results = await asyncio.gather(
            *(s.connect(port, token) for s in batch), return_exceptions=True
        )
        for s, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                failures += 1
            else:
                sockets.append(s)
        if start == 0:
            # The first wave pays one-time costs (lazy imports, caches, arenas): the memory
            # per connection is measured over the waves after it.
            await asyncio.sleep(1)
            before, first = _rss_kb(pid), len(sockets)
    took = time.perf_counter() - started
    await asyncio.sleep(2)  # let the server settle
    after = _rss_kb(pid)
    report(BENCH, "connections held", len(sockets), "sockets", backend)
    report(BENCH, "connections refused/failed", failures, "sockets", backend)
    report(BENCH, "connect time", took, "s", backend)
    report(BENCH, "server RSS", after / 1024, "MB", backend)
    if len(sockets) > first:
        per = (after - before) / (len(sockets) - first)
        report(BENCH, "memory per connection", per, "KB", backend)
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)


async def _fan_out(port: int, tokens: list[str], room_id: str, backend: str) -> None:
    delays: list[float] = []

    def receiver(event: str, data: Any) -> None:
        if event == "message" and data["body"].startswith("t="):
            delays.append((time.time() - float(data["body"][2:])) * 1000)

    members = [Socket(receiver) for _ in tokens[1:]]
    sender = Socket()
    await asyncio.gather(*(m.connect(port, t) for m, t in zip(members, tokens[1:], strict=True)))
    await sender.connect(port, tokens[0])
    for m in [*members, sender]:
        joined = await m.call("join", {"room_id": room_id})
        assert joined["ok"], joined
    for _ in range(MESSAGES):
        reply = await sender.call("say", {"room_id": room_id, "body": f"t={time.time():.6f}"})
        assert reply["ok"], reply
        await asyncio.sleep(0.11)  # within the per-socket event budget (100 in 10 s)
    await asyncio.sleep(1)
    expected = MESSAGES * len(members)
    report(BENCH, "fan-out deliveries", len(delays), f"of {expected}", backend)
    figures = summary(delays)
    for name in ("p50", "p95", "p99"):
        report(BENCH, f"fan-out {name} (50 members)", figures[name], "ms", backend)
    await asyncio.gather(*(s.close() for s in [*members, sender]), return_exceptions=True)


def _serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "APP_ENV": "test",
        "LOG_LEVEL": "WARNING",
        "LOGIN_LIMIT_IP": "100000/minute",
        "ROOM_MESSAGE_LIMIT_USER": "100000/minute",
        "MEDIA_DIR": str(ROOT / "var/bench-media"),
    }
    ws = os.environ.get("BENCH_ROOM_WS")  # uvicorn's websocket implementation, to compare
    if ws:
        env["SERVE_ROLE"] = "community"
        command = [sys.executable, "-m", "uvicorn", "--factory", "certplatform.app:create_role_app"]
        command += ["--port", str(port), "--ws", ws, "--log-level", "warning"]
        command += ["--ws-per-message-deflate", "false"]  # as `serve` runs it
    else:
        command = [sys.executable, "-m", "certplatform.cli", "serve", "--role", "community"]
        command += ["--port", str(port), "--no-migrate"]
    return subprocess.Popen(command, env=env, cwd=ROOT)


async def run(backend: str, port: int, pid: int, url: str) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(300):
            try:
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    tokens, principals = await _accounts(url, MEMBERS)
    room_id = await _room(url, principals[0])
    await _held(port, tokens[0], pid, backend)
    await _fan_out(port, tokens, room_id, backend)


def main() -> None:
    for backend in BACKENDS:
        url = asyncio.run(fresh_database(backend, BENCH))
        port = _free_port()
        process = _serve(url, port)
        try:
            asyncio.run(run(backend, port, process.pid, url))
        finally:
            process.terminate()
            process.wait(timeout=20)


if __name__ == "__main__":
    main()
