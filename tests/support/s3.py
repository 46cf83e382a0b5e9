"""A real S3 API server for tests: moto in server mode, a process of its own on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.server import free_port


@contextmanager
def s3_server(log: Path) -> Iterator[str]:
    """Start `moto_server` and yield its endpoint URL; stop it afterwards."""
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.HTTPError as exc:
                if time.monotonic() > deadline or process.poll() is not None:
                    tail = log.read_text()[-2000:]
                    raise AssertionError(f"moto_server did not start:\n{tail}") from exc
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)
