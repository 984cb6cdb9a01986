"""Token management: login → access token → rotating refresh token, refreshed ahead of expiry.

``TokenManager`` owns the tokens (one renewal at a time, under a lock); ``with_bearer`` puts the
access token on a request and, when the API refuses it anyway, refreshes once and replays the
request (the refused request was not acted on, so replaying is safe even for a send).

Several processes with one account share their tokens through a ``TokenShare`` (the store
implements it): the refresh token rotates, so one process refreshing would log the others out.
A process renews only while it holds the share's lease, and first re-reads the shared token:
whoever renewed first, everyone else adopts its result, so one expiry costs one ``oauth_access``
and no two processes ever log in at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import anyio
from pydantic import SecretStr, ValidationError

from .errors import MalformedResponse, OutPerformError, Unauthorized

if TYPE_CHECKING:
    from .models import TokenGrant  # imported on the first login: see client.py

log = logging.getLogger(__name__)

# (path, params) -> parsed JSON object; injected by the client so that errors are mapped in one place.
GetJson = Callable[[str, dict[str, str]], Awaitable[dict[str, object]]]


class RefreshTokenFile:
    """The refresh token on disk (0600, atomic replace) so a restart does not log in again."""

    def __init__(self, path: Path, *, owner: str) -> None:
        self.path = path
        self._owner = owner  # base URL + client id: a token of another account is ignored

    def load(self) -> SecretStr | None:
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("owner") != self._owner:
            return None
        token = record.get("refresh_token")
        return SecretStr(token) if isinstance(token, str) and token else None

    def save(self, token: SecretStr) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        data = json.dumps({"owner": self._owner, "refresh_token": token.get_secret_value()})
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass(frozen=True)
class SharedGrant:
    """The tokens one process obtained, as every process sharing them sees them (wall-clock times)."""

    access_token: SecretStr
    refresh_token: SecretStr
    refresh_at: datetime  # renew from then on
    expires_at: datetime


class TokenShare(Protocol):
    async def current(self) -> SharedGrant | None: ...

    async def lease(self) -> bool:
        """Take the right to renew; False while another process holds it."""
        ...

    async def publish(self, grant: SharedGrant) -> None: ...

    async def release(self) -> None: ...


SHARE_POLL_S = 0.05  # how often a process waiting on another's renewal looks again


class TokenManager:
    def __init__(
        self,
        get_json: GetJson,
        *,
        client_id: str,
        client_secret: SecretStr,
        refresh_margin: float = 300.0,
        token_file: RefreshTokenFile | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._get_json = get_json
        self._client_id = client_id
        self._client_secret = client_secret
        self._margin = refresh_margin
        self._file = token_file
        self._clock = clock
        self._lock = anyio.Lock()
        self._access: SecretStr | None = None
        self._refresh: SecretStr | None = token_file.load() if token_file else None
        self._refresh_at = 0.0
        self._expires_at = 0.0
        self._expires_wall: datetime | None = None
        self.share: TokenShare | None = None  # set when processes share the tokens (see module doc)

    def __repr__(self) -> str:
        return f"TokenManager(client_id={self._client_id!r}, valid={self._valid()})"

    @property
    def expires_at(self) -> datetime | None:
        """Wall-clock expiry of the current access token (for ``check``; never the token itself)."""
        return self._expires_wall

    def secrets(self) -> list[str]:
        """Every secret value currently held, so error text can be scrubbed of them."""
        held = [self._client_secret, self._access, self._refresh]
        return [s.get_secret_value() for s in held if s is not None and s.get_secret_value()]

    def _valid(self) -> bool:
        return self._access is not None and self._clock() < self._refresh_at

    async def access_token(self) -> str:
        # Fast path without the lock: most calls find a fresh token.
        if self._access is not None and self._valid():
            return self._access.get_secret_value()
        async with self._lock:
            if self._access is None or not self._valid():
                await self._renew(None)
            assert self._access is not None
            return self._access.get_secret_value()

    async def refused(self, stale: str) -> str:
        """The API refused ``stale``: renew unless a concurrent caller already did."""
        async with self._lock:
            if self._access is None or self._access.get_secret_value() == stale:
                await self._renew(stale)
            assert self._access is not None
            return self._access.get_secret_value()

    async def _renew(self, stale: str | None) -> None:
        share = self.share
        if share is None:
            await self._renew_here()
            return
        while True:
            if await self._adopt(share, stale):
                return
            if await share.lease():
                try:
                    if await self._adopt(share, stale):  # renewed by another between the read and the lease
                        return
                    shared = await share.current()
                    if shared is not None:  # the newest rotated refresh token is the shared one
                        self._refresh = shared.refresh_token
                    await self._renew_here()
                    assert self._access is not None
                    assert self._refresh is not None
                    assert self._expires_wall is not None
                    refresh_at = self._expires_wall - timedelta(seconds=self._expires_at - self._refresh_at)
                    await share.publish(SharedGrant(self._access, self._refresh, refresh_at, self._expires_wall))
                finally:
                    with anyio.CancelScope(shield=True):
                        await share.release()
                return
            await anyio.sleep(SHARE_POLL_S)

    async def _adopt(self, share: TokenShare, stale: str | None) -> bool:
        """Take the shared tokens if they are fresh and not the ones the API just refused."""
        shared = await share.current()
        if shared is None or shared.access_token.get_secret_value() == stale:
            return False
        left = (shared.refresh_at - datetime.now(UTC)).total_seconds()
        if left <= 0:
            return False
        now = self._clock()
        self._access, self._refresh = shared.access_token, shared.refresh_token
        self._refresh_at = now + left
        self._expires_at = now + (shared.expires_at - datetime.now(UTC)).total_seconds()
        self._expires_wall = shared.expires_at
        return True

    async def _renew_here(self) -> None:
        grant: TokenGrant | None = None
        if self._refresh is not None:
            try:
                grant = await self._exchange(self._refresh)
            except Unauthorized:
                log.info("refresh token refused; logging in again")
        if grant is None:
            grant = await self._exchange(await self._login())
        now = self._clock()
        lifetime = max(float(grant.expires_in), 1.0)
        # Short-lived tokens (tests, odd deployments) cannot afford a 5-minute margin.
        margin = min(self._margin, lifetime / 5)
        self._access = SecretStr(grant.access_token)
        self._refresh = SecretStr(grant.refresh_token)
        self._expires_at = now + lifetime
        self._refresh_at = now + lifetime - margin
        self._expires_wall = datetime.now(UTC) + timedelta(seconds=lifetime)
        if self._file is not None:
            try:
                self._file.save(self._refresh)
            except OSError as exc:  # a read-only disk must not stop the server
                log.warning("could not persist the refresh token: %s", exc.strerror)

    async def _login(self) -> SecretStr:
        params = {"client_id": self._client_id, "client_secret": self._client_secret.get_secret_value()}
        payload = await self._get_json("oauth_login", params)
        from .models import LoginGrant

        try:
            return SecretStr(LoginGrant.model_validate(payload).refresh_token)
        except ValidationError as exc:
            raise MalformedResponse("oauth_login answered without a refresh_token") from exc

    async def _exchange(self, refresh: SecretStr) -> TokenGrant:
        params = {"refresh_token": refresh.get_secret_value(), "client_id": self._client_id}
        try:
            payload = await self._get_json("oauth_access", params)
        except OutPerformError as exc:
            if exc.status in (401, 403):
                self._refresh = None
                if self._file is not None:
                    self._file.clear()
                raise Unauthorized("the refresh token was refused") from None
            raise
        from .models import TokenGrant

        try:
            return TokenGrant.model_validate(payload)
        except ValidationError as exc:
            raise MalformedResponse("oauth_access answered without a usable access token") from exc


class Answered(Protocol):
    @property
    def status(self) -> int: ...


A = TypeVar("A", bound=Answered)


async def with_bearer(tokens: TokenManager, send: Callable[[str], Awaitable[A]]) -> A:
    """Send with the access token; when the API refuses it anyway, refresh once and replay once.

    ``send`` must have read the refusal to the end before it returns: that hands its pooled
    connection back, so the refresh (and every other refused request) never waits on a pool this
    one holds. The refused request was not acted on, so replaying it is safe even for a send.
    """
    token = await tokens.access_token()
    answer = await send(token)
    if answer.status in (401, 403):
        answer = await send(await tokens.refused(token))
    return answer
