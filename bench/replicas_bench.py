"""Several processes on PostgreSQL: throughput of concurrent tool calls with 1, 2 and 4 workers,
webhook acknowledgement latency on PostgreSQL against SQLite, and what a send's journal writes cost
on each backend. Every figure is against a floor measured in the same run (these machines are noisy).

    .venv/bin/python bench/replicas_bench.py [--quick]

Needs PostgreSQL (OUTPERFORM_TEST_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/test);
each server gets a fresh schema, dropped afterwards.

- calls: `outperform-mcp --http --workers N` on PostgreSQL, the emulator in its own process; waves
  of 200 and 1,000 concurrent `list_inbound` calls (2026-07-28 requests over HTTP: one POST each; a
  tool that reads the shared database and calls no API, so the server and the database are what
  is measured, not the emulator). Ratio: against 1 worker.
- webhook: 500 sequential events, then 2,000 from 32 concurrent senders, to one server process on
  each backend; every acknowledged event is committed first. Ratio: PostgreSQL against SQLite.
- journal: the writes of one approved single-message send (approval + message rows, approve,
  claim, `sending`, `sent`: 5 transactions), in-process, 300 times per backend. Ratio: PostgreSQL
  against SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from outperform_mcp.store import journal  # noqa: E402
from outperform_mcp.store.db import Connection, SqliteStore, Store, open_store  # noqa: E402

PG = os.environ.get("OUTPERFORM_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "bench-webhook-secret-0123456789"
MODERN = "2026-07-28"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def schema() -> Iterator[str]:
    name = "bench_" + secrets.token_hex(5)
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        joiner = "&" if "?" in PG else "?"
        yield f"{PG}{joiner}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, env=env, stderr=sink, stdout=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url} exited:\n{log.read_text()}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not start:\n{log.read_text()}")


@contextmanager
def emulator(work: Path) -> Iterator[str]:
    port = free_port()
    log = work / "emulator.log"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(work)}
    cmd = [sys.executable, "-m", "outperform_mcp.cli", "sandbox", "--port", str(port)]
    with process(cmd, env, log) as proc:
        wait_for(f"http://127.0.0.1:{port}/", proc, log)
        base = next(line.split(" at ", 1)[1] for line in log.read_text().splitlines() if " emulator at " in line)
        yield base.strip()


@contextmanager
def server(work: Path, base: str, *, database_url: str | None, workers: int = 1) -> Iterator[int]:
    port = free_port()
    data = Path(tempfile.mkdtemp(dir=work))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(data),
        "OUTPERFORM_DATA_DIR": str(data),
        "OUTPERFORM_BASE_URL": base,
        "OUTPERFORM_CLIENT_ID": "sandbox-client",
        "OUTPERFORM_CLIENT_SECRET": "sandbox-secret",
        "OUTPERFORM_WEBHOOK_SECRET": SECRET,
        "OUTPERFORM_PERSIST_REFRESH_TOKEN": "false",
    }
    if database_url:
        env["OUTPERFORM_DATABASE_URL"] = database_url
    cmd = [sys.executable, "-m", "outperform_mcp.cli", "--http", "--port", str(port), "--workers", str(workers)]
    log = data / "server.log"
    with process(cmd, env, log) as proc:
        wait_for(f"http://127.0.0.1:{port}/", proc, log)
        yield port


# -- tool calls ----------------------------------------------------------------------------------

HEADERS = {
    "accept": "application/json, text/event-stream",
    "content-type": "application/json",
    "mcp-protocol-version": MODERN,
    "mcp-method": "tools/call",
    "mcp-name": "list_inbound",
}


def call_body(i: int) -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "id": i,
        "method": "tools/call",
        "params": {
            "name": "list_inbound",
            "arguments": {"since": 0, "limit": 20, "unread_only": False},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }


async def wave(port: int, n: int) -> tuple[float, list[float], int]:
    url = f"http://127.0.0.1:{port}/mcp"
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(limits=limits, timeout=120) as http:
        for i in range(20):  # warm up: connections, the token, the pools of every worker
            (await http.post(url, json=call_body(i), headers=HEADERS)).raise_for_status()
        latencies: list[float] = []
        failed = 0

        async def one(i: int) -> None:
            nonlocal failed
            start = time.perf_counter()
            answer = await http.post(url, json=call_body(i), headers=HEADERS)
            latencies.append(time.perf_counter() - start)
            if answer.status_code != 200 or '"isError":true' in answer.text:
                failed += 1

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - start, latencies, failed


# -- webhooks ------------------------------------------------------------------------------------


def event(i: int, run: str) -> dict[str, object]:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "event": "whatsapp_message_received",
        "timestamp": stamp,
        "data": {
            "contact": f"6012{run}{i % 9000 + 1000:04d}",
            "name": "Bench",
            "direction": "inbound",
            "message": {"type": "text", "text": f"bench {run} {i}"},
        },
    }


async def webhooks(port: int, sequential: int, concurrent: int, senders: int) -> tuple[list[float], list[float]]:
    url = f"http://127.0.0.1:{port}/webhooks/outperform/{SECRET}"
    async with httpx.AsyncClient(timeout=30) as http:
        seq: list[float] = []
        for i in range(sequential):
            start = time.perf_counter()
            (await http.post(url, json=event(i, "1"))).raise_for_status()
            seq.append(time.perf_counter() - start)
        conc: list[float] = []
        queue = list(range(concurrent))

        async def sender() -> None:
            while queue:
                i = queue.pop()
                start = time.perf_counter()
                (await http.post(url, json=event(i, "2"))).raise_for_status()
                conc.append(time.perf_counter() - start)

        await asyncio.gather(*(sender() for _ in range(senders)))
        return seq, conc


# -- journal writes ------------------------------------------------------------------------------


def one_send(store: Store, n: int) -> None:
    now = datetime.now(UTC)
    approval_id = f"bench{n}"
    item = journal.NewSend(0, "tok", "Name", "6012", "session", "hi", None, [], None, f"ck{n}", None)

    def prepare(conn: Connection) -> None:
        journal.insert_approval(
            conn,
            approval_id=approval_id,
            client="c",
            digest="d",
            kind="session",
            channel="page",
            status="pending",
            allowed_because=[],
            created_at=now,
            expires_at=now + timedelta(minutes=10),
            sends=[item],
            send_status="prepared",
        )

    store.call(prepare)
    store.call(
        lambda conn: journal.transition(
            conn, approval_id, from_status="pending", to_status="approved", at=now, send_status="approved"
        )
    )

    def claim(conn: Connection) -> int:
        journal.transition(conn, approval_id, from_status="approved", to_status="used", at=now)
        journal.claim_rows(conn, approval_id, "bench")
        return journal.sends_of(conn, approval_id)[0].id

    row = store.call(claim)
    store.call(lambda conn: journal.mark_sending(conn, row, now, "bench"))
    store.call(lambda conn: journal.finish(conn, row, status="sent", at=now, message_id="m"))


def journal_cost(store: Store, n: int) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        one_send(store, i)
        times.append(time.perf_counter() - start)
    return times


# -- the run -------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller waves and fewer events")
    args = parser.parse_args()
    waves = (200, 1000)
    seq, conc, senders, sends = (100, 400, 32, 100) if args.quick else (500, 2000, 32, 300)
    work = Path(tempfile.mkdtemp(prefix="replicas-bench-"))
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores", flush=True)

    with emulator(work) as base:
        rows: list[tuple[str, int, float, float, float, int]] = []
        for workers in (1, 2, 4):
            with schema() as url, server(work, base, database_url=url, workers=workers) as port:
                for n in waves:  # the better of two waves: other processes share these cores
                    wall, lat, failed = min((asyncio.run(wave(port, n)) for _ in range(2)), key=lambda r: r[0])
                    rows.append((f"{workers} worker(s)", n, n / wall, pct(lat, 0.5), pct(lat, 0.99), failed))
        print("\n| workers | calls in flight | calls/s | vs 1 worker | p50 ms | p99 ms | failed |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        floor = {n: next(r[2] for r in rows if r[1] == n) for n in waves}
        for name, n, rate, p50, p99, failed in rows:
            print(f"| {name} | {n} | {rate:,.0f} | {rate / floor[n]:.2f}× | {ms(p50)} | {ms(p99)} | {failed} |")

        hooks = {}
        with server(work, base, database_url=None) as port:
            hooks["SQLite"] = asyncio.run(webhooks(port, seq, conc, senders))
        with schema() as url, server(work, base, database_url=url) as port:
            hooks["PostgreSQL"] = asyncio.run(webhooks(port, seq, conc, senders))
        print(
            f"\n| webhook ack ({seq} sequential, then {conc} from {senders} senders) | seq p50 ms | seq p99 ms "
            "| conc p50 ms | conc p99 ms | conc p99 vs SQLite |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        base_p99 = pct(hooks["SQLite"][1], 0.99)
        for name, (s, c) in hooks.items():
            print(
                f"| {name} | {ms(pct(s, 0.5))} | {ms(pct(s, 0.99))} | {ms(pct(c, 0.5))} | {ms(pct(c, 0.99))} "
                f"| {pct(c, 0.99) / base_p99:.2f}× |"
            )

    costs = {}
    sqlite = SqliteStore(work / "journal.db")
    costs["SQLite (WAL, synchronous=FULL)"] = journal_cost(sqlite, sends)
    sqlite.close()
    with schema() as url:
        pg = open_store(url, work)
        costs["PostgreSQL (loopback)"] = journal_cost(pg, sends)
        pg.close()
    print(f"\n| a send's journal writes (5 transactions), {sends} sends | p50 ms | p99 ms | mean ms | vs SQLite |")
    print("|---|---:|---:|---:|---:|")
    floor_mean = statistics.mean(next(iter(costs.values())))
    for name, t in costs.items():
        mean = statistics.mean(t)
        print(f"| {name} | {ms(pct(t, 0.5))} | {ms(pct(t, 0.99))} | {ms(mean)} | {mean / floor_mean:.2f}× |")


if __name__ == "__main__":
    main()
