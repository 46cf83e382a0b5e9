"""The job broker (taskiq). Embedded: in-memory, tasks run in the serving process.

Tasks reach the database through `current_database()`, bound at start-up by the process
that runs them (the app's lifespan or a worker), never at import.
"""

from __future__ import annotations

from typing import Any

from taskiq import InMemoryBroker, TaskiqMessage, TaskiqMiddleware, TaskiqResult

from certplatform.kernel.db import Database
from certplatform.kernel.telemetry import JOBS


class JobMetrics(TaskiqMiddleware):
    """Times every job run (taskiq measures it) by task name and outcome."""

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        outcome = "error" if result.is_err else "ok"
        JOBS.labels(message.task_name, outcome).observe(result.execution_time)


broker = InMemoryBroker().with_middlewares(JobMetrics())
_database: Database | None = None


def bind_database(database: Database | None) -> None:
    global _database
    _database = database


def current_database() -> Database:
    if _database is None:
        raise RuntimeError("no database bound to the job broker")
    return _database
