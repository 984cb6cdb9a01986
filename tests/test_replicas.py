"""Several server processes on one PostgreSQL database: the emulator, PostgreSQL and three replicas
(real `outperform-mcp --http` processes), driven through real MCP clients over Streamable HTTP.

- 200 calls spread across the replicas through an access-token expiry: one oauth_access, no failure;
- 20 racing commits of one approval across the replicas: one message sent;
- a webhook posted to replica A wakes a waiter on replica C (LISTEN/NOTIFY);
- kill -9 of a replica in the middle of a send: nothing sent twice, the others keep serving, and
  the interrupted send is settled once, by whichever replica holds the recovery lease.

One set of processes serves the whole module (starting them is the expensive part).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import psycopg
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from outperform_mcp.sandbox import EmulatorServer, create_emulator

from .inbox_harness import DANIEL_PHONE, SECRET, eventually, payload
from .loopback import CA, CA2, LOOPBACK
from .pg import fresh_schema
from .support import control, free_port, server_env

pytestmark = pytest.mark.anyio

MCP_TOKEN = "replica-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {MCP_TOKEN}"}
LEASE_S = 2


@dataclass
class Replica:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/outperform/{SECRET}"


@dataclass
class Cluster:
    emulator: EmulatorServer
    database_url: str
    replicas: list[Replica]


def _wait_listening(replica: Replica) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert replica.proc.poll() is None, replica.log.read_text()
        try:
            LOOPBACK.get(f"http://127.0.0.1:{replica.port}/", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"replica {replica.name} did not start: {replica.log.read_text()}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    emulator = EmulatorServer(create_emulator()).start()
    replicas: list[Replica] = []
    try:
        with fresh_schema() as url:
            for name in "ABC":
                data = tmp_path_factory.mktemp(f"replica{name}")
                env = server_env(
                    emulator,
                    data,
                    OUTPERFORM_DATABASE_URL=url,
                    OUTPERFORM_MCP_TOKEN=MCP_TOKEN,
                    OUTPERFORM_WEBHOOK_SECRET=SECRET,
                    OUTPERFORM_APPROVAL_MODE="host",
                    OUTPERFORM_LEASE_SECONDS=str(LEASE_S),
                )
                port = free_port()
                log = data / "stderr.log"
                with log.open("wb") as sink:
                    cmd = [sys.executable, "-m", "outperform_mcp.cli", "--http", "--port", str(port)]
                    proc = subprocess.Popen(cmd, env=env, stderr=sink)
                replicas.append(Replica(name, port, proc, log))
            for replica in replicas:
                _wait_listening(replica)
            yield Cluster(emulator, url, replicas)
    finally:
        for replica in replicas:
            if replica.proc.poll() is None:
                replica.proc.terminate()
        for replica in replicas:
            try:
                replica.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                replica.proc.kill()
                replica.proc.wait()
        emulator.stop()


@asynccontextmanager
async def connect(replica: Replica) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(verify=CA2, headers=AUTH, timeout=60) as http,
        Client(streamable_http_client(replica.url, http_client=http)) as client,
    ):
        yield client


async def tool(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, args)
    assert result.is_error is False, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


def stats(emulator: EmulatorServer) -> dict[str, int]:
    return dict(control(emulator, "GET", "stats")["requests"])


async def daniel(client: Client) -> str:
    found = await tool(client, "search_contacts", {"search": "Daniel Lee"})
    token: str = found["items"][0]["token"]
    return token


async def test_one_oauth_access_per_expiry_across_replicas(cluster: Cluster) -> None:
    async with connect(cluster.replicas[0]) as a, connect(cluster.replicas[1]) as b, connect(cluster.replicas[2]) as c:
        clients = [a, b, c]
        for client in clients:  # every replica holds the shared token
            await tool(client, "list_labels", {})
        control(cluster.emulator, "POST", "expire_tokens")
        control(cluster.emulator, "POST", "stats/reset")
        failures: list[str] = []

        async def one(i: int) -> None:
            result = await clients[i % 3].call_tool("search_contacts", {"search": "a", "limit": 5})
            if result.is_error:
                failures.append(str(result.content))

        async with anyio.create_task_group() as tg:
            for i in range(200):
                tg.start_soon(one, i)
    counts = stats(cluster.emulator)
    assert failures == []
    assert counts.get("oauth_access", 0) == 1
    assert counts.get("oauth_login", 0) == 0


async def test_refused_refresh_tokens_cost_one_login_across_replicas(cluster: Cluster) -> None:
    """The rotating refresh token revoked: one replica logs in again, the others adopt its tokens."""
    async with connect(cluster.replicas[0]) as a, connect(cluster.replicas[1]) as b, connect(cluster.replicas[2]) as c:
        clients = [a, b, c]
        # The shared tokens must exist before they are revoked (run alone, no earlier test logged in).
        assert not (await a.call_tool("list_labels", {})).is_error
        control(cluster.emulator, "POST", "revoke_refresh_tokens")
        control(cluster.emulator, "POST", "expire_tokens")
        control(cluster.emulator, "POST", "stats/reset")
        failures: list[str] = []

        async def one(i: int) -> None:
            result = await clients[i % 3].call_tool("list_labels", {})
            if result.is_error:
                failures.append(str(result.content))

        async with anyio.create_task_group() as tg:
            for i in range(60):
                tg.start_soon(one, i)
    counts = stats(cluster.emulator)
    assert failures == []
    assert counts.get("oauth_login", 0) == 1
    assert counts.get("oauth_access", 0) == 2  # the refused refresh, then the exchange after the login


async def test_racing_commits_across_replicas_send_once(cluster: Cluster) -> None:
    control(cluster.emulator, "POST", "reset")
    clients: list[Client] = []
    async with connect(cluster.replicas[0]) as a, connect(cluster.replicas[1]) as b, connect(cluster.replicas[2]) as c:
        clients = [a, b, c]
        prepared = await tool(a, "send_message", {"token": await daniel(a), "text": "One send, three replicas"})
        args = {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
        statuses: list[str] = []

        async def commit(i: int) -> None:
            result = await clients[i % 3].call_tool("commit_send", args)
            assert result.structured_content is not None, result.content
            statuses.append(str(result.structured_content["status"]))

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(commit, i)
    sent = control(cluster.emulator, "GET", "sent")["data"]
    assert [m["text"] for m in sent] == ["One send, three replicas"]
    assert "sent" in statuses


async def test_a_webhook_on_one_replica_wakes_a_waiter_on_another(cluster: Cluster) -> None:
    replica_a, replica_c = cluster.replicas[0], cluster.replicas[2]
    async with connect(replica_c) as c:
        token = await daniel(c)
        cursor = (await tool(c, "list_inbound", {"unread_only": False, "limit": 1}))["next_cursor"]
        woke: dict[str, Any] = {}

        async def wait() -> None:
            woke["result"] = await tool(c, "wait_for_reply", {"token": token, "seconds": 20, "since": cursor})
            woke["at"] = time.monotonic()

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            # A call issued after the wait returns after the wait has looked at the store (same
            # process, first come first served), so the message below can only reach it by a wake-up.
            await tool(c, "list_inbound", {"unread_only": False, "limit": 1})
            async with httpx.AsyncClient(verify=CA, timeout=10) as http:
                answer = await http.post(replica_a.webhook, json=payload("Posted to A", phone=DANIEL_PHONE))
            acked = time.monotonic()
            assert answer.status_code == 200
    assert [m["text"] for m in woke["result"]["messages"]] == ["Posted to A"]
    latency = woke["at"] - acked
    print(f"webhook on A -> waiter on C: {latency * 1000:.0f} ms")
    assert latency < 0.5  # LISTEN/NOTIFY; without it the waiter would sleep to its next re-check


def _sending_rows(url: str, text: str) -> list[tuple[str, str | None]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT status, owner FROM sends WHERE text = %s", (text,)).fetchall()
        return [(str(r[0]), r[1]) for r in rows]


async def test_kill_9_mid_send_sends_nothing_twice_and_recovery_runs_once(cluster: Cluster) -> None:
    control(cluster.emulator, "POST", "reset")
    text = "Interrupted by kill -9"
    replica_a, replica_b, replica_c = cluster.replicas
    async with connect(replica_b) as b:
        prepared = await tool(b, "send_message", {"token": await daniel(b), "text": text})
    args = {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
    lost: list[BaseException] = []

    async def doomed_commit() -> None:
        try:
            async with connect(replica_b) as b:
                await b.call_tool("commit_send", args)
        except Exception as exc:  # the connection dies with the replica
            lost.append(exc)

    control(cluster.emulator, "POST", "faults", {"latency_ms": 3000})
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(doomed_commit)
            await eventually(lambda: [s for s, _ in _sending_rows(cluster.database_url, text)] == ["sending"], 10)
            os.kill(replica_b.proc.pid, signal.SIGKILL)
            replica_b.proc.wait(timeout=10)
    finally:
        control(cluster.emulator, "DELETE", "faults")
    assert lost
    await eventually(lambda: [s for s, _ in _sending_rows(cluster.database_url, text)] == ["unknown"], LEASE_S * 5)
    async with connect(replica_a) as a, connect(replica_c) as c:  # the others keep serving
        await tool(a, "list_labels", {})
        await tool(c, "list_labels", {})
        history = await tool(c, "list_sends", {})
    sent = [m for m in control(cluster.emulator, "GET", "sent")["data"] if m["text"] == text]
    assert len(sent) <= 1
    assert any(item["status"] == "unknown" for item in history["items"])
    logs = [r.log.read_text() for r in (replica_a, replica_c)]
    assert sum(log.count("were being sent when the server stopped") for log in logs) == 1


def test_a_handshake_era_session_lives_on_the_replica_that_made_it(cluster: Cluster) -> None:
    """What a load balancer must do for handshake-era clients: send every request carrying an
    Mcp-Session-Id to the replica that answered its initialize (sticky sessions); another replica
    answers 404, which tells the client to start a new session."""
    replica_a, replica_b = cluster.replicas[0], cluster.replicas[2]
    headers = {**AUTH, "accept": "application/json, text/event-stream", "content-type": "application/json"}
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    with httpx.Client(verify=CA, timeout=10) as http:
        made = http.post(replica_a.url, json=init, headers=headers)
        assert made.status_code == 200
        session = {**headers, "mcp-session-id": made.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        assert http.post(replica_a.url, json=ping, headers=session).status_code == 200
        assert http.post(replica_b.url, json=ping, headers=session).status_code == 404
