"""The PostgreSQL backend (psycopg 3 and its pool): everything PostgreSQL-specific, in one place.

- The rules' SQL runs as is: ``?`` placeholders become ``%s`` and rows read by name or position,
  like ``sqlite3.Row``.
- Writes are serialised across every process on the database by a transaction-scoped advisory
  lock, the equivalent of SQLite's ``BEGIN IMMEDIATE``: what a rule checks (a quota, a status) is
  still true when it writes. Reads take no lock (a REPEATABLE READ snapshot).
- A connection lost before the commit is retried (the transaction was rolled back, so running the
  function again is exactly the same); one lost *during* the commit is reported, never retried:
  whether it committed is unknown.
- ``notify``/``listen`` are ``pg_notify`` and ``LISTEN`` on a channel named after the schema, so
  two installations (or test runs) in one database never hear each other.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import anyio
import psycopg
from psycopg.rows import RowMaker
from psycopg_pool import ConnectionPool

from .db import Connection, Cursor, Store, StoreUnavailable
from .migrations import MIGRATIONS, Migration, MigrationError, pending, statements

log = logging.getLogger(__name__)

T = TypeVar("T")
Mode = Literal["write", "read", "plain"]

CONNECT_TIMEOUT_S = 5
ATTEMPTS = 3  # a read, or a write that failed before its commit
POOL_MAX = 10


def redact(url: str) -> str:
    """The URL without its password (for start-up lines and errors)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable database URL>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class Row:
    """A result row read by column name or by position, like ``sqlite3.Row``."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._index[key]] if isinstance(key, str) else self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def keys(self) -> list[str]:
        return list(self._index)


def _rows(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    index = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: Row(values, index)


@lru_cache(maxsize=512)
def _sql(statement: str) -> str:
    # The rules never put '?' or '%' inside SQL string literals, so this is a plain substitution.
    return statement.replace("%", "%%").replace("?", "%s")


class _Adapter:
    """A psycopg connection seen through the ``Connection`` protocol the rules use."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        cur = self._conn.cursor(row_factory=_rows)
        cur.execute(_sql(sql), tuple(parameters))
        return cur

    def executemany(self, sql: str, seq_of_parameters: Sequence[Sequence[Any]], /) -> Any:
        cur = self._conn.cursor(row_factory=_rows)
        cur.executemany(_sql(sql), [tuple(p) for p in seq_of_parameters])
        return cur


class PostgresStore(Store):
    shared = True

    def __init__(
        self, url: str, *, lock_timeout: float = 10.0, pool_max: int = POOL_MAX, wait: float = CONNECT_TIMEOUT_S
    ) -> None:
        self._url = url
        self.process_id = secrets.token_hex(6)
        self._wait = wait  # for a pooled connection, per attempt
        self.where = redact(url)
        self._lock_timeout_ms = int(lock_timeout * 1000)
        self.schema = prepare(url)
        tag = hashlib.sha256(f"{self.schema}".encode()).hexdigest()[:12]
        self._channel_prefix = f"outperform_{tag}"
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_max,
            kwargs={"connect_timeout": CONNECT_TIMEOUT_S},
            configure=self._configure,
            open=False,
            name="outperform",
        )
        self._pool.open(wait=False)
        self._closed = threading.Event()

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        # A writer stuck behind a lock fails clearly instead of hanging a tool call.
        conn.execute(f"SET lock_timeout = {self._lock_timeout_ms}")
        conn.commit()

    # -- transactions --------------------------------------------------------------------------

    def call(self, fn: Callable[[Connection], T]) -> T:
        return self._transaction(fn, "write")

    def call_read(self, fn: Callable[[Connection], T]) -> T:
        return self._transaction(fn, "read")

    def _transaction(self, fn: Callable[[Connection], T], mode: Mode) -> T:
        attempt = 0
        while True:
            attempt += 1
            committing = False
            try:
                with self._pool.connection(timeout=self._wait) as conn:
                    if mode == "write":
                        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':writes', 0))")
                    elif mode == "read":
                        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    result = fn(_Adapter(conn))
                    committing = True
                    conn.commit()
                    return result
            except psycopg.OperationalError as exc:
                if committing:
                    raise StoreUnavailable(
                        f"the connection to the database {self.where} was lost while committing "
                        f"({_first_line(exc)}); whether the change was saved is unknown"
                    ) from None
                if isinstance(exc, psycopg.errors.LockNotAvailable) or attempt >= ATTEMPTS or self._closed.is_set():
                    raise StoreUnavailable(
                        f"the database {self.where} did not answer ({_first_line(exc)}); "
                        f"tried {attempt} time(s), nothing was changed"
                    ) from None
                log.warning("database %s: %s; retrying", self.where, _first_line(exc))
                time.sleep(0.05 * 2**attempt)

    async def notify(self, channel: str, payload: str) -> None:
        name = f"{self._channel_prefix}_{channel}"
        await anyio.to_thread.run_sync(
            self._transaction, lambda conn: conn.execute("SELECT pg_notify(?, ?)", (name, payload)), "plain"
        )

    async def listen(self, channel: str) -> AsyncIterator[str | None]:
        name = f"{self._channel_prefix}_{channel}"
        connected_before = False
        delay = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
                ) as conn:
                    await conn.execute(f'LISTEN "{name}"')
                    delay = 0.1
                    if connected_before:
                        yield None  # notifications sent while reconnecting are lost: re-check everything
                    connected_before = True
                    async for note in conn.notifies():
                        yield note.payload
            except psycopg.OperationalError as exc:
                log.warning("database %s: listening for %s stopped (%s); reconnecting", self.where, channel, exc)
                await anyio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def close(self) -> None:
        self._closed.set()
        self._pool.close()


def prepare(url: str) -> str:
    """Connect once, bring the schema up to date; returns the schema's name. One clear
    ``StoreUnavailable`` line (where, what failed) when that cannot be done."""
    where = redact(url)
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            found = conn.execute("SELECT current_schema()").fetchone()
            if found is None or found[0] is None:
                raise StoreUnavailable(
                    f"cannot use the database {where}: no schema on its search_path exists; "
                    "create it or fix options=-csearch_path=... in OUTPERFORM_DATABASE_URL"
                )
            migrate(conn, where)
            return str(found[0])
    except psycopg.Error as exc:
        raise StoreUnavailable(f"cannot use the database {where}: {_first_line(exc)}") from None
    except MigrationError as exc:
        raise StoreUnavailable(f"cannot use the database {where}: {exc}") from None


def migrate(conn: psycopg.Connection[Any], where: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """All pending migrations in one transaction, one process at a time (advisory lock)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':migrations', 0))")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        applied = {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}
        todo = pending(applied, migrations)
        for m in todo:
            for statement in statements(m.postgres):
                conn.execute(statement)  # our own DDL, not user input
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, now()::text)",
                (m.version, m.name),
            )
            log.info("database %s: applied schema migration %d (%s)", where, m.version, m.name)
    return [m.version for m in todo]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
