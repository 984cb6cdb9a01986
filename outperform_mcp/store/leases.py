"""Leases: who holds what among the processes sharing a store, each until a time it keeps renewing.

A process holds ``replica:<id>`` while it is alive (its heartbeat); work that must run on one
process at a time (recovering interrupted sends) runs under ``job:<name>``; the API token refresh
under ``oauth:<owner>``. A lease is taken by a conditional upsert, so of two processes asking at
once exactly one gets it; one whose holder stopped renewing is free once it expires, so another
process takes over. Times are the processes' wall clocks: keep the machines' clocks in sync (NTP).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import anyio

from .db import Connection, Store, iso

log = logging.getLogger(__name__)


def acquire(conn: Connection, name: str, holder: str, now: datetime, ttl: float) -> bool:
    """Take or renew ``name`` for ``holder`` until now + ttl; False when someone else holds it."""
    row = conn.execute(
        """INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
           WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
           RETURNING holder""",
        (name, holder, iso(now + timedelta(seconds=ttl)), iso(now)),
    ).fetchone()
    return row is not None


def release(conn: Connection, name: str, holder: str) -> None:
    conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))


def holder_of(conn: Connection, name: str, now: datetime) -> str | None:
    row = conn.execute("SELECT holder FROM leases WHERE name = ? AND expires_at > ?", (name, iso(now))).fetchone()
    return str(row[0]) if row else None


def shared_key(conn: Connection, name: str) -> bytes:
    """A random key every process sharing the store agrees on (created by the first that asks)."""
    conn.execute(
        "INSERT INTO shared_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        (name, secrets.token_hex(32)),
    )
    row = conn.execute("SELECT value FROM shared_secrets WHERE name = ?", (name,)).fetchone()
    return bytes.fromhex(str(row[0]))


def _now() -> datetime:
    return datetime.now(UTC)


class Replica:
    """This process among those sharing a store: its heartbeat, and jobs that run on one at a time."""

    def __init__(self, store: Store, *, ttl: float = 15.0) -> None:
        self.store = store
        self.id = store.process_id
        self.ttl = ttl

    @property
    def heartbeat_name(self) -> str:
        return f"replica:{self.id}"

    async def beat(self) -> None:
        now = _now()
        await self.store.run(lambda conn: acquire(conn, self.heartbeat_name, self.id, now, self.ttl))

    async def heartbeat(self) -> None:
        """Renew this process's lease every third of its lifetime, until cancelled."""
        while True:
            await anyio.sleep(self.ttl / 3)
            try:
                await self.beat()
            except Exception as exc:  # the database may be back at the next beat
                log.warning("heartbeat: %s", exc)

    async def stop(self) -> None:
        """Give up the heartbeat lease (a clean stop: nothing of this process is left to recover)."""
        await self.store.run(lambda conn: release(conn, self.heartbeat_name, self.id))

    def _take(self, lease: str, now: datetime, conn: Connection) -> bool:
        return acquire(conn, lease, self.id, now, self.ttl)

    async def job(self, name: str, work: Callable[[], Awaitable[object]], *, every: float) -> None:
        """Run ``work`` every ``every`` seconds while this process holds ``job:<name>``; the lease is
        kept across runs, so one process does the job until it dies and another takes over."""
        lease = f"job:{name}"
        while True:
            try:
                mine = await self.store.run(partial(self._take, lease, _now()))
                if mine:
                    await work()
            except Exception:
                log.exception("background job %s failed; trying again later", name)
            await anyio.sleep(every)
