"""A light MCP load generator: raw HTTP/1.1 on asyncio sockets, replaying the SDK's JSON-RPC requests.

The SDK's Streamable HTTP client spends more CPU per call than the server it drives (pool scans,
jsonschema), so on two shared cores it measures itself. This one sends the same bytes the SDK
sends (``initialize``, ``notifications/initialized``, then ``tools/call`` with the session id and
protocol headers) and reads the answer (JSON or an SSE stream, by ``Content-Length`` or chunked),
with one keep-alive connection per call in flight. ``bench/inbox_bench.py`` does the same for
webhooks.

Connections are opened before a wave starts and closed after it ends, outside the timing: a warm
client's pool, and no connection ever sits idle long enough for the server to close it under us.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

PROTOCOL = "2025-11-25"
Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class CallFailed(Exception):
    pass


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        body = b""
    return status, headers, body


def _messages(headers: dict[str, str], body: bytes) -> list[dict[str, Any]]:
    if headers.get("content-type", "").startswith("text/event-stream"):
        found = []
        for line in body.decode().splitlines():
            if line.startswith("data:") and line[5:].strip():
                found.append(json.loads(line[5:]))
        return found
    return [json.loads(body)] if body else []


@dataclass
class McpHttp:
    """One MCP session over Streamable HTTP, driven with raw requests."""

    url: str
    session: str = ""
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path

    def _request(self, message: dict[str, Any]) -> bytes:
        body = json.dumps(message, separators=(",", ":")).encode()
        session = f"mcp-session-id: {self.session}\r\nmcp-protocol-version: {PROTOCOL}\r\n" if self.session else ""
        return (
            f"POST {self.path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
            "content-type: application/json\r\naccept: application/json, text/event-stream\r\n"
            f"{session}content-length: {len(body)}\r\n\r\n"
        ).encode() + body

    async def connect(self) -> Conn:
        return await asyncio.open_connection(self.host, self.port)

    async def _exchange(self, conn: Conn, message: dict[str, Any]) -> tuple[dict[str, str], list[dict[str, Any]]]:
        reader, writer = conn
        writer.write(self._request(message))
        status, headers, body = await _read_response(reader)
        if status >= 400:
            raise CallFailed(f"HTTP {status}: {body[:160]!r}")
        return headers, _messages(headers, body)

    async def open(self) -> None:
        conn = await self.connect()
        try:
            init = {
                "jsonrpc": "2.0",
                "id": next(self.ids),
                "method": "initialize",
                "params": {
                    "protocolVersion": PROTOCOL,
                    "capabilities": {},
                    "clientInfo": {"name": "bench-loadgen", "version": "0"},
                },
            }
            headers, _ = await self._exchange(conn, init)
            self.session = headers.get("mcp-session-id", "")
            await self._exchange(conn, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        finally:
            conn[1].close()

    async def call(self, conn: Conn, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """tools/call on ``conn``; the result, or CallFailed with the error text."""
        call_id = next(self.ids)
        message = {"jsonrpc": "2.0", "id": call_id, "method": "tools/call", "params": {"name": name, "arguments": args}}
        _, answers = await self._exchange(conn, message)
        for answer in answers:
            if answer.get("id") == call_id:
                if "error" in answer:
                    raise CallFailed(str(answer["error"])[:160])
                result = dict(answer["result"])
                if result.get("isError"):
                    text = " ".join(str(c.get("text", "")) for c in result.get("content", []))
                    raise CallFailed(text[:160])
                return result
        raise CallFailed("no answer to the call in the response")


@dataclass
class Wave:
    wall: float
    latencies: list[float]
    errors: list[str]
    client_cpu: float


async def wave(client: McpHttp, name: str, args: dict[str, Any], n: int) -> Wave:
    """n calls at once, one fresh keep-alive connection each (opened before the clock starts)."""
    conns = await asyncio.gather(*(client.connect() for _ in range(n)))
    latencies: list[float] = []
    errors: list[str] = []

    async def one(conn: Conn) -> None:
        start = time.perf_counter()
        try:
            await client.call(conn, name, args)
            latencies.append(time.perf_counter() - start)
        except (CallFailed, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:160])

    cpu, start = time.process_time(), time.perf_counter()
    try:
        await asyncio.gather(*(one(c) for c in conns))
        return Wave(time.perf_counter() - start, latencies, errors, time.process_time() - cpu)
    finally:
        for _, writer in conns:
            writer.close()
