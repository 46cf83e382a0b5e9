"""A live `certplatform serve` process for tests that need real concurrency or a crash."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start the server and wait until it is ready."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "certplatform.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 180  # generous: CI machines may be busy
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError(f"the server did not start:\n{log.read_text()[-3000:]}")


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `certplatform worker` (jobs, and with NATS_URL the event handlers)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "certplatform.cli", "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
