"""The store: one interface over the embedded SQLite file (default) or a shared PostgreSQL database.

Feature modules (journal, inbox, contacts, campaigns, leases, tokens) hold the business rules as
functions of one ``Connection`` inside one transaction, written in SQL both backends run alike
(``?`` placeholders, ``ON CONFLICT``, ``RETURNING``). Everything that differs between the two —
connecting, DDL, write serialisation, notifications — lives in one class per backend:
``SqliteStore`` here, ``PostgresStore`` in ``postgres.py`` (imported only when
``OUTPERFORM_DATABASE_URL`` is set, so SQLite users never pay for the driver). The mirror's few
dialect differences are in ``mirror_schema`` (DDL), ``mirror_fts`` (search) and ``mirror_dialect``.

``run`` executes a function in one serialised write transaction (SQLite: ``BEGIN IMMEDIATE``;
PostgreSQL: a transaction-scoped advisory lock), so the rules read what they check and write what
they decide without another writer in between, on one process or many. ``read`` is for functions
that only read: on PostgreSQL they take no lock and are retried when the connection drops.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio.to_thread

from ..problems import StartProblem
from .migrations import migrate_sqlite, statements

T = TypeVar("T")

# name -> idempotent DDL that only the SQLite store creates, after the migrations, on every open:
# the documented views of the mirror for the read-only SQL toolset (store.mirror_sql), which is not
# served on PostgreSQL.
SCHEMAS: dict[str, str] = {}


def iso(at: datetime) -> str:
    """UTC, fixed width, so stored timestamps compare correctly as strings in SQL."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def moment(value: str | None) -> datetime | None:
    """A stored timestamp back (None stays None)."""
    return datetime.fromisoformat(value) if value else None


class Cursor(Protocol):
    """What the rules use of a cursor; rows are read by column name (``row["id"]``) or position."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The connection a ``Store.run`` function receives (sqlite3's, or the PostgreSQL adapter)."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor: ...

    def executemany(self, sql: str, seq_of_parameters: Sequence[Sequence[Any]], /) -> Any: ...


K = TypeVar("K", int, str)


def existing(conn: Connection, table: str, column: str, values: Iterable[K]) -> set[K]:
    """Which of ``values`` ``table.column`` holds (``table`` and ``column``: the caller's fixed names)."""
    wanted = list(values)
    if not wanted:
        return set()
    marks = ",".join("?" * len(wanted))
    rows = conn.execute(f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", wanted)  # noqa: S608
    return {r[0] for r in rows}


class StoreUnavailable(StartProblem):
    """The database cannot be reached (or stopped answering); the message says which and what failed."""


class Store:
    """The interface every part of the server uses; see the module docstring."""

    # True when other processes may share this store (PostgreSQL): leases and notifications matter.
    shared: bool = False
    # Where per-installation files live (the approval-link key); None for a shared store.
    path: Path | None = None
    # Shown in start-up lines and errors; never holds a password.
    where: str = ""
    # This process among those sharing the store: the owner of the messages it claims, the holder
    # of its heartbeat lease (store.leases).
    process_id: str = ""

    def call(self, fn: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    def call_read(self, fn: Callable[[Connection], T]) -> T:
        return self.call(fn)

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one serialised write transaction on a worker thread."""
        return await anyio.to_thread.run_sync(self.call, fn)

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn``, which only reads, in one transaction on a worker thread."""
        return await anyio.to_thread.run_sync(self.call_read, fn)

    async def notify(self, channel: str, payload: str) -> None:
        """Tell the other processes sharing this store (nothing to do for a private store)."""

    def listen(self, channel: str) -> AsyncIterator[str | None]:
        """Payloads other processes ``notify`` on ``channel``; None after a reconnect (some may be lost).
        A private store has no other process: it never yields."""
        return _never()

    def close(self) -> None:
        raise NotImplementedError


async def _never() -> AsyncIterator[str | None]:
    await anyio.sleep_forever()
    yield None  # pragma: no cover - unreachable, makes this an async generator


def _create_schemas(conn: sqlite3.Connection) -> None:
    """``SCHEMAS`` in one transaction: one sync to disk (``synchronous=FULL``) instead of one per
    statement, which made it about 5 ms of every start-up."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for ddl in SCHEMAS.values():
            for statement in statements(ddl):
                conn.execute(statement)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class SqliteStore(Store):
    """One SQLite file (WAL) for one process: one connection, serialised by a lock."""

    def __init__(self, path: Path | str) -> None:
        self.process_id = secrets.token_hex(6)
        self.path = Path(path)
        self.where = str(path)
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
            migrate_sqlite(self._conn)
            _create_schemas(self._conn)

    def call(self, fn: Callable[[Connection], T]) -> T:
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

    def call_read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one read-only transaction: a write fails here as it would on PostgreSQL."""
        with self._lock:
            self._conn.execute("PRAGMA query_only = ON")
            try:
                self._conn.execute("BEGIN")
                try:
                    result = fn(self._conn)
                finally:
                    self._conn.execute("COMMIT")
            finally:
                self._conn.execute("PRAGMA query_only = OFF")
            return result

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_store(database_url: str | None, data_dir: Path, *, lock_timeout: float = 10.0) -> Store:
    """The store the settings name: PostgreSQL for a ``postgresql://`` URL, else SQLite in ``data_dir``.
    Raises ``StoreUnavailable`` (one line: where, what failed) when it cannot be opened."""
    if database_url:
        from .postgres import PostgresStore

        return PostgresStore(database_url, lock_timeout=lock_timeout)
    try:
        return SqliteStore(data_dir / "outperform.db")
    except (sqlite3.Error, OSError) as exc:
        raise StoreUnavailable(f"cannot open the SQLite store {data_dir / 'outperform.db'}: {exc}") from None
