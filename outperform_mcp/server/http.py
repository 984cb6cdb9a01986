"""The Streamable HTTP app: ``/mcp`` plus extra routes (webhook, approval page) on one Starlette app."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from .sdk_private import cap_sessions_per_client

SCOPE = "outperform"
MAX_SESSIONS = 1000  # all clients together; one session holds some tens of kB


class StaticTokenVerifier:
    """Accepts the one configured bearer token (constant-time comparison)."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode(), self._token.get_secret_value().encode()):
            return AccessToken(token="***", client_id="bearer", scopes=[SCOPE])  # noqa: S106
        return None


def security(host: str, port: int, hosts: Sequence[str], origins: Sequence[str]) -> TransportSecuritySettings:
    """DNS-rebinding protection stays on; configured hosts/origins are added to the loopback ones."""
    local = ["127.0.0.1", "localhost", "[::1]"]
    allowed_hosts = [f"{h}:*" for h in local] + local + list(hosts)
    if host not in local and host not in ("0.0.0.0", "::"):  # noqa: S104
        allowed_hosts += [host, f"{host}:{port}"]
    allowed_origins = [f"http://{h}:*" for h in local] + list(origins)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=allowed_hosts, allowed_origins=allowed_origins
    )


def build_http_app(
    server: MCPServer,
    *,
    host: str,
    port: int,
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
    extra_routes: Sequence[BaseRoute] = (),
    sessions_per_client: int = 20,
    session_idle_timeout: float = 600.0,
) -> Starlette:
    mcp_app = server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=security(host, port, allowed_hosts, allowed_origins),
        host=host,
        session_idle_timeout=session_idle_timeout,
        max_sessions=MAX_SESSIONS,
    )
    cap_sessions_per_client(server.session_manager, sessions_per_client)
    # Extra routes first: they carry their own authentication (webhook secret, approval id). They
    # join the SDK's app rather than an outer app mounting it: each Starlette layer adds its error
    # and exception middleware to every request, about a tenth of a tool call's server CPU.
    mcp_app.router.routes[:0] = extra_routes
    return mcp_app
