"""The API client's HTTP transport: one aiohttp session, answers read to the end, two kinds of failure.

aiohttp rather than an httpx interface: ``bench/transport.py`` measures the CPU per request with
100 in flight, and httpx2 spent 7.7× raw aiohttp's, httpx2 or httpx on an aiohttp transport about
2× (the issue's rule kept httpx only within 15 %). aiohttp is imported on first use: importing it
builds its TLS contexts (100–250 ms here), which start-up never needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp


class TransportError(Exception):
    """The request failed in transit: it may have reached the server."""


class NotSent(TransportError):
    """The request provably never left this process (no connection, or none free in time)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A response read to the end, so its connection is back in the pool."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class HttpSession:
    def __init__(
        self, *, connect_timeout: float, read_timeout: float, max_connections: int, headers: Mapping[str, str]
    ) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_connections = max_connections
        self._headers = dict(headers)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        self._session = aiohttp.ClientSession(
            # connect also bounds the wait for a free pooled connection; sock_read bounds each read.
            timeout=aiohttp.ClientTimeout(total=None, connect=self._connect_timeout, sock_read=self._read_timeout),
            connector=aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0),
            headers=self._headers,
            trust_env=True,  # HTTPS_PROXY and friends, as httpx honoured them
        )
        # aiohttp silently resends a GET once when a reused connection turns out closed. The client
        # owns the retry policy (counted attempts, backoff, Retry-After): no hidden extra attempt.
        # A private attribute (aiohttp 3.x has no public switch); tests/test_api_client.py's drop
        # cases fail if it stops working.
        self._session._retry_connection = False
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        import aiohttp

        session = self._session or self._open()
        try:
            async with session.request(method, url, params=params, json=json, headers=headers) as response:
                return Answer(response.status, response.headers, await response.read())
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.InvalidURL) as exc:
            raise NotSent(type(exc).__name__) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TransportError(type(exc).__name__) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
