"""OAuth-ish token bookkeeping: refresh tokens rotate, access tokens expire.

Expiry runs on the monotonic clock so a seeded fake `now` never affects token life; tests may
replace ``clock`` to expire tokens without waiting.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable


class TokenStore:
    def __init__(self, client_id: str, client_secret: str) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self._refresh: set[str] = set()
        self._access: dict[str, float] = {}
        self.clock: Callable[[], float] = time.monotonic

    @property
    def client_secret(self) -> str:
        return self._client_secret

    def credentials_ok(self, client_id: str | None, client_secret: str | None) -> bool:
        if client_id is None or client_secret is None:
            return False
        # Both compared in constant time so timing never hints at which one was wrong.
        id_ok = hmac.compare_digest(client_id.encode(), self.client_id.encode())
        secret_ok = hmac.compare_digest(client_secret.encode(), self._client_secret.encode())
        return id_ok and secret_ok

    def issue_refresh(self) -> str:
        token = secrets.token_hex(16)
        self._refresh.add(token)
        return token

    def rotate(self, refresh_token: str, lifetime: int) -> tuple[str, str] | None:
        """Spend a refresh token; return (access, new refresh) or None if it is not live."""
        if refresh_token not in self._refresh:
            return None
        self._refresh.discard(refresh_token)
        access = secrets.token_hex(16)
        self._access[access] = self.clock() + lifetime
        self._purge()
        return access, self.issue_refresh()

    def access_ok(self, token: str) -> bool:
        expires = self._access.get(token)
        return expires is not None and expires > self.clock()

    def expire_access(self) -> int:
        count = len(self._access)
        self._access.clear()
        return count

    def revoke_refresh(self) -> int:
        count = len(self._refresh)
        self._refresh.clear()
        return count

    def _purge(self) -> None:
        # Keeps long benchmark runs from growing the table without bound.
        if len(self._access) > 1024:
            now = self.clock()
            self._access = {t: exp for t, exp in self._access.items() if exp > now}
