"""Running the server: building ``Deps`` from settings and serving stdio or Streamable HTTP.

Features that need plain HTTP routes (the webhook receiver, the approval page) add a provider to
``ROUTE_PROVIDERS``; over HTTP the routes join ``/mcp`` on one app, and in stdio mode they get a
loopback listener of their own (``OUTPERFORM_LISTEN_HOST``/``_PORT``), bound at start and served
from its first connection on.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from functools import partial
from typing import Literal

import anyio
import anyio.abc
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from ..api.client import OutPerformClient
from ..guard.service import SendService
from ..inbox import InboxChange, InboxService
from ..inbox.webhook import webhook_routes
from ..mirror.sync import Mirror
from ..problems import StartProblem
from ..settings import Settings
from ..store import leases
from ..store.db import Store, open_store
from ..store.tokens import SharedTokens
from .deps import Deps
from .http import build_http_app
from .inbox.uris import uris_of
from .messaging.approval_page import approval_routes
from .push import HandshakeSubscriptions

log = logging.getLogger(__name__)

RouteProvider = Callable[[Deps], Sequence[BaseRoute]]
ROUTE_PROVIDERS: list[RouteProvider] = [lambda deps: webhook_routes(deps.inbox), approval_routes]


def extra_routes(deps: Deps) -> list[BaseRoute]:
    return [route for provider in ROUTE_PROVIDERS for route in provider(deps)]


async def _shared_process(
    store: Store, api: OutPerformClient, guard: SendService, settings: Settings, services: anyio.abc.TaskGroup
) -> tuple[bytes, ...]:
    """On a shared store: this process's heartbeat, the shared API tokens, recovery as a job that
    one process at a time runs; returns the request-state keys every process uses."""
    replica = leases.Replica(store, ttl=settings.store.lease_seconds)
    await replica.beat()
    owner = f"{settings.api.base_url}|{settings.api.client_id}"
    api.tokens.share = SharedTokens(store, owner, replica.id)
    services.start_soon(replica.heartbeat)
    services.start_soon(partial(replica.job, "recovery", guard.recover, every=settings.store.lease_seconds / 2))
    log.info("state in the shared database %s (process %s)", store.where, replica.id)
    key = await store.run(lambda conn: leases.shared_key(conn, "request-state"))
    return (key,)


@asynccontextmanager
async def open_deps(settings: Settings) -> AsyncIterator[Deps]:
    store = open_store(settings.store.url, settings.api.data_dir, lock_timeout=settings.store.lock_timeout)
    try:
        async with OutPerformClient(settings.api) as api, anyio.create_task_group() as services:
            bus = InMemorySubscriptionBus()
            guard = SendService(api, store, settings.guard)
            keys: tuple[bytes, ...] = ()
            if store.shared:
                keys = await _shared_process(store, api, guard, settings, services)
            await guard.start()
            if settings.store.request_state_key is not None:
                keys = (settings.store.request_state_key.get_secret_value().encode(),)

            async def publish(change: InboxChange) -> None:
                for uri in uris_of(change):
                    await bus.publish(ResourceUpdated(uri=uri))

            inbox = InboxService(
                store,
                api,
                settings.inbox,
                country=settings.api.default_country,
                on_change=publish,
                opt_out=guard.opt_out,
            )
            push = HandshakeSubscriptions(bus)
            mirror = Mirror(api, store, settings.mirror, opt_out=guard.opt_out, lease_ttl=settings.store.lease_seconds)
            mirror.attach(services)
            deps = Deps(
                api=api,
                store=store,
                guard=guard,
                inbox=inbox,
                bus=bus,
                push=push,
                settings=settings.server,
                request_state_keys=keys,
                mirror=mirror,
            )
            await services.start(push.run)
            await services.start(inbox.run)
            try:
                yield deps
            finally:
                services.cancel_scope.cancel()
                if store.shared:  # a clean stop leaves nothing for the others to recover
                    with anyio.CancelScope(shield=True), suppress(Exception):
                        await store.run(
                            lambda conn: leases.release(conn, f"replica:{store.process_id}", store.process_id)
                        )
    finally:
        store.close()


def trimmed_headers(app: ASGIApp) -> ASGIApp:
    """Header values without surrounding blanks, as HTTP defines them (RFC 9110 5.5).

    h11 trims them; httptools keeps trailing blanks, and the SDK compares ``Mcp-Name`` with the
    body's name as given, so a valid request got a 400 (conformance: sep-2243 whitespace value).
    """

    async def trimmed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["headers"] = [(name, value.strip(b" \t")) for name, value in scope["headers"]]
        await app(scope, receive, send)

    return trimmed


def _uvicorn(app: ASGIApp, host: str, port: int, *, lifespan: Literal["on", "off"] = "on") -> uvicorn.Server:
    # access_log off: URLs can carry the webhook secret as a path segment. No websockets: nothing
    # here speaks them, and loading the implementation costs start-up time.
    # http="auto" picks httptools where it is installed (a dependency on CPython), h11 elsewhere.
    config = uvicorn.Config(
        trimmed_headers(app),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan=lifespan,
        ws="none",
        http="auto",
    )
    return uvicorn.Server(config)


class ListenError(StartProblem, OSError):
    """The address to serve on cannot be used; the message says which and what to do."""


def listen(host: str, port: int) -> socket.socket:
    """Bind before uvicorn starts, so a taken port is one clear error instead of uvicorn's exit."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): choose another --port") from None
    sock.setblocking(False)
    return sock


def bound_port(server: uvicorn.Server) -> int:
    for srv in getattr(server, "servers", []):
        for sock in srv.sockets:
            return int(sock.getsockname()[1])
    raise RuntimeError("server is not listening")


def check_store(settings: Settings) -> None:
    """Open the configured store once and close it: ``StoreUnavailable`` says what is wrong."""
    open_store(settings.store.url, settings.api.data_dir, lock_timeout=settings.store.lock_timeout).close()


async def serve_http(server: MCPServer, deps: Deps, host: str, port: int, *, sock: socket.socket | None = None) -> None:
    """Serve on ``host:port``, or on ``sock`` when one is given (workers share a bound socket)."""
    app = build_http_app(
        server,
        host=host,
        port=port,
        allowed_hosts=deps.settings.allowed_hosts,
        allowed_origins=deps.settings.allowed_origins,
        extra_routes=extra_routes(deps),
        sessions_per_client=deps.settings.sessions_per_client,
        session_idle_timeout=deps.settings.session_idle_timeout,
    )
    deps.public_url = deps.public_url or f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    own = sock is None
    sock = listen(host, port) if sock is None else sock
    log.info("serving MCP on http://%s:%s/mcp (process %d)", host, port, os.getpid())
    try:
        await _uvicorn(app, host, port).serve(sockets=[sock])
    finally:
        if own:
            sock.close()


async def serve_stdio(server: MCPServer, deps: Deps) -> None:
    routes = extra_routes(deps)
    if not routes:
        await server.run_stdio_async()
        return
    host = deps.settings.listen_host
    sock = listen(host, deps.settings.listen_port)
    # Bound already, so the page's address is known before the first tool call needs it.
    deps.public_url = f"http://{host}:{sock.getsockname()[1]}"
    log.info("side listener (approval page, webhook) on %s", deps.public_url)
    # No lifespan: the side app has none, and a cancelled lifespan task logs a traceback at exit.
    side = _uvicorn(Starlette(routes=routes), host, deps.settings.listen_port, lifespan="off")

    async def serve_from_first_connection() -> None:
        # The socket listens already, so a first visitor (or webhook) waits in the backlog while
        # uvicorn starts; starting it only then keeps its start-up work off the host's start.
        await anyio.wait_readable(sock)
        await side.serve(sockets=[sock])

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve_from_first_connection)
            await server.run_stdio_async()
            # The client closed stdin: stop now. uvicorn's own exit (should_exit) waits for its
            # 0.1 s poll and a graceful shutdown, for pages nobody can act on any more.
            tg.cancel_scope.cancel()
    finally:
        sock.close()
