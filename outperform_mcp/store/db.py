"""The embedded store: one SQLite file (WAL) shared by the send journal, approvals and the inbox.

Each feature module owns its tables and registers its schema with ``SCHEMAS``; ``Store`` runs
every statement on one connection in a worker thread, serialised by a lock, so async callers never
block the event loop and SQLite never sees two writers from this process.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import anyio.to_thread

T = TypeVar("T")


def iso(at: datetime) -> str:
    """UTC, fixed width, so stored timestamps compare correctly as strings in SQL."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def moment(value: str | None) -> datetime | None:
    """A stored timestamp back (None stays None)."""
    return datetime.fromisoformat(value) if value else None


# The connection a ``Store.run`` function receives; callers outside the store name it by this.
Connection = sqlite3.Connection

# name -> DDL; feature modules add theirs at import time. Statements must be idempotent.
SCHEMAS: dict[str, str] = {}


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a row the server acknowledged (a webhook, a 'sending' mark) survives a power cut too.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.execute("PRAGMA foreign_keys=ON")
        self.ensure_schema()

    def ensure_schema(self) -> None:
        with self._lock:
            for ddl in SCHEMAS.values():
                self._conn.executescript(ddl)

    def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one transaction (synchronously)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return result

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one transaction on a worker thread."""
        return await anyio.to_thread.run_sync(self.call, fn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
