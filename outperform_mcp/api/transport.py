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
    from yarl import URL

    Proxy = tuple[URL | None, aiohttp.BasicAuth | None]


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
        self._proxies: dict[tuple[str, str | None, int | None], Proxy] = {}

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        self._session = aiohttp.ClientSession(
            # connect also bounds the wait for a free pooled connection; sock_read bounds each read.
            timeout=aiohttp.ClientTimeout(total=None, connect=self._connect_timeout, sock_read=self._read_timeout),
            connector=aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0),
            headers=self._headers,
            # Not trust_env: aiohttp then looks the proxy up (and reads ~/.netrc) in a worker thread
            # on every request, about a tenth of a call's CPU here. The proxy is looked up once per
            # origin instead (_proxy); a netrc login could not be used anyway next to our bearer header.
            trust_env=False,
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
        proxy, proxy_auth = self._proxy(url)
        try:
            async with session.request(
                method, url, params=params, json=json, headers=headers, proxy=proxy, proxy_auth=proxy_auth
            ) as response:
                return Answer(response.status, response.headers, await response.read())
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.InvalidURL) as exc:
            raise NotSent(type(exc).__name__) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TransportError(type(exc).__name__) from exc

    def _proxy(self, url: str) -> Proxy:
        """HTTPS_PROXY/HTTP_PROXY/NO_PROXY for ``url``'s origin, read from the environment once."""
        from aiohttp.helpers import get_env_proxy_for_url
        from yarl import URL

        parsed = URL(url)
        origin = (parsed.scheme, parsed.host, parsed.port)
        found = self._proxies.get(origin)
        if found is None:
            try:
                found = get_env_proxy_for_url(parsed)
            except LookupError:  # no proxy set, or NO_PROXY names the host
                found = (None, None)
            self._proxies[origin] = found
        return found

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
