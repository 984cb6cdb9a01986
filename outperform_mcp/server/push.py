"""Resource-change notifications for handshake-era clients (``resources/subscribe``).

2026-07-28 clients listen through ``subscriptions/listen``, which the SDK serves from the
subscription bus. Handshake-era clients subscribe per URI instead, and ``MCPServer`` does not serve
``resources/subscribe``. The low-level server does accept a handler for it (and then advertises
``resources.subscribe``), and a session's ``send_resource_updated`` writes to the connection's
standalone channel, which outlives the request. So this module keeps, per connection, the session
of its last subscribe request and the URIs it asked for, and forwards matching bus events to it.

Limits (from the SDK): delivery needs a standalone channel, i.e. stdio or stateful Streamable HTTP
with the client's GET stream open; over stateless HTTP the notification is dropped by the SDK. The
connection's end is observed through its ``exit_stack``, which the SDK exposes on ``Connection``
but not on ``ServerSession`` (read in ``sdk_private``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated, ServerEvent

from .sdk_private import connection_key

log = logging.getLogger(__name__)

MAX_PEERS = 1000
SEND_TIMEOUT_S = 5.0


@dataclass
class _Peer:
    session: ServerSession
    uris: set[str] = field(default_factory=set)


class HandshakeSubscriptions:
    def __init__(self, bus: InMemorySubscriptionBus) -> None:
        self._bus = bus
        self._peers: dict[int, _Peer] = {}
        self._send: MemoryObjectSendStream[tuple[ServerSession, str]]
        self._recv: MemoryObjectReceiveStream[tuple[ServerSession, str]]
        self._send, self._recv = anyio.create_memory_object_stream[tuple[ServerSession, str]](4096)

    def subscribe(self, session: ServerSession, uri: str) -> None:
        key, closing = connection_key(session)
        peer = self._peers.get(key)
        if peer is None:
            if len(self._peers) >= MAX_PEERS:  # bounded: evict the oldest connection
                self._peers.pop(next(iter(self._peers)))
            peer = self._peers[key] = _Peer(session)
            if closing is not None:
                closing.callback(self._forget, key)
        peer.session = session
        peer.uris.add(uri)

    def unsubscribe(self, session: ServerSession, uri: str) -> None:
        key, _ = connection_key(session)
        peer = self._peers.get(key)
        if peer is not None:
            peer.uris.discard(uri)

    def subscribers(self, uri: str) -> int:
        return sum(uri in p.uris for p in self._peers.values())

    def _forget(self, key: int) -> None:
        self._peers.pop(key, None)

    def _on_event(self, event: ServerEvent) -> None:
        if not isinstance(event, ResourceUpdated):
            return
        for peer in self._peers.values():
            if event.uri in peer.uris:
                try:
                    self._send.send_nowait((peer.session, event.uri))
                except anyio.WouldBlock:
                    log.warning("handshake-era notification backlog full; dropping an update")

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        unsubscribe: Callable[[], None] = self._bus.subscribe(self._on_event)
        task_status.started()
        try:
            async for session, uri in self._recv:
                with anyio.move_on_after(SEND_TIMEOUT_S):
                    try:
                        await session.send_resource_updated(uri)
                    except Exception:  # a client that went away must not stop the others
                        log.debug("could not notify a handshake-era client", exc_info=True)
        finally:
            unsubscribe()
