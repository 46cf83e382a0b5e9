"""What every benchmark shares: fresh databases, timing, and the JSON result line."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from certplatform.kernel import migrate
from certplatform.kernel.settings import to_async_url

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(",")


def report(bench: str, metric: str, value: float, unit: str, backend: str) -> None:
    """One figure: a line for people, then the same as one JSON line."""
    print(f"{bench:16} {metric:28} {value:12.1f} {unit:10} [{backend}]")
    print(
        json.dumps(
            {
                "bench": bench,
                "metric": metric,
                "value": round(value, 2),
                "unit": unit,
                "backend": backend,
            }
        ),
        flush=True,
    )


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50": statistics.median(samples),
        "p95": percentile(samples, 95),
        "p99": percentile(samples, 99),
    }


async def fresh_database(backend: str, name: str) -> str:
    """A new, migrated database for one benchmark run."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    else:
        base = make_url(to_async_url(os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG)))
        db_name = f"bench_{name}"
        admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{db_name}"'))
        await admin.dispose()
        url = base.set(database=db_name).render_as_string(hide_password=False)
    await asyncio.to_thread(migrate.upgrade, url)
    return url
