"""The API tokens processes share (``api.auth.TokenShare``): one row per account, renewed under a lease.

The rows hold live credentials: a shared store must be as private as the secrets in the settings.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import SecretStr

from ..api.auth import SharedGrant
from . import leases
from .db import Connection, Store, iso, moment


def load(conn: Connection, owner: str) -> SharedGrant | None:
    row = conn.execute(
        "SELECT access_token, refresh_token, refresh_at, expires_at FROM api_tokens WHERE owner = ?", (owner,)
    ).fetchone()
    if row is None:
        return None
    refresh_at, expires_at = moment(row["refresh_at"]), moment(row["expires_at"])
    assert refresh_at is not None
    assert expires_at is not None
    return SharedGrant(SecretStr(row["access_token"]), SecretStr(row["refresh_token"]), refresh_at, expires_at)


def save(conn: Connection, owner: str, grant: SharedGrant, now: datetime) -> None:
    conn.execute(
        """INSERT INTO api_tokens (owner, access_token, refresh_token, refresh_at, expires_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (owner) DO UPDATE SET access_token = excluded.access_token,
             refresh_token = excluded.refresh_token, refresh_at = excluded.refresh_at,
             expires_at = excluded.expires_at, updated_at = excluded.updated_at""",
        (
            owner,
            grant.access_token.get_secret_value(),
            grant.refresh_token.get_secret_value(),
            iso(grant.refresh_at),
            iso(grant.expires_at),
            iso(now),
        ),
    )


class SharedTokens:
    """``TokenShare`` over the store: the row of one account, and the lease ``oauth:<account>``."""

    def __init__(self, store: Store, owner: str, holder: str, *, ttl: float = 60.0) -> None:
        self.store = store
        self.owner = owner
        self.holder = holder
        self.ttl = ttl  # longer than a renewal can take (login + exchange, with their timeouts)
        self._lease = f"oauth:{owner}"

    async def current(self) -> SharedGrant | None:
        return await self.store.read(lambda conn: load(conn, self.owner))

    async def lease(self) -> bool:
        now = datetime.now(UTC)
        return await self.store.run(lambda conn: leases.acquire(conn, self._lease, self.holder, now, self.ttl))

    async def publish(self, grant: SharedGrant) -> None:
        now = datetime.now(UTC)
        await self.store.run(lambda conn: save(conn, self.owner, grant, now))

    async def release(self) -> None:
        await self.store.run(lambda conn: leases.release(conn, self._lease, self.holder))
