"""The job broker (taskiq). Embedded: in-memory, tasks run in the serving process.

Tasks reach the database through `current_database()`, bound at start-up by the process
that runs them (the app's lifespan or a worker), never at import.
"""

from __future__ import annotations

from taskiq import InMemoryBroker

from certplatform.kernel.db import Database

broker = InMemoryBroker()
_database: Database | None = None


def bind_database(database: Database | None) -> None:
    global _database
    _database = database


def current_database() -> Database:
    if _database is None:
        raise RuntimeError("no database bound to the job broker")
    return _database
