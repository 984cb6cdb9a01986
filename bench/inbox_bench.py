"""Webhook intake benchmark: acknowledgement latency and sustained events/s, against a baseline.

    python bench/inbox_bench.py            # full run (about a minute)
    python bench/inbox_bench.py --quick    # smaller counts

Each server runs in its own process (uvicorn, one worker, loopback, same settings) so the load
generator does not share its event loop:

- ``baseline``: a bare Starlette route that reads the body and answers 200 without storing;
- ``inbox, 1 event/commit``: the real receiver with group commit off (``inbox_commit_batch_max=1``);
- ``inbox, group commit``: the real receiver as shipped.

The load generator is a minimal HTTP/1.1 keep-alive client on raw sockets (one connection per
concurrent sender), so the client's own cost stays small next to the server's. Every event is
distinct (a few hundred contacts, unique text) and must be answered 200. The real servers use the
emulator (in a process of its own, bench/emulator.py) as the OutPerform API, so contact linking runs as it would.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SECRET = "bench-webhook-secret-0123456789"
PHONES = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- server side (child process) ---------------------------------------------------------------


def serve(mode: str, port: int, data_dir: str, batch_max: int) -> None:
    import logging

    import anyio
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    logging.basicConfig(level=logging.ERROR)

    def run_uvicorn(app: Starlette) -> uvicorn.Server:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False, lifespan="on")
        return uvicorn.Server(config)

    # The same event loop as the CLI (uvloop where it is installed), for every contestant.
    options = {"use_uvloop": importlib.util.find_spec("uvloop") is not None}

    if mode == "baseline":

        async def ok(request: Request) -> Response:
            await request.body()
            return JSONResponse({"status": "stored", "id": 0})

        app = Starlette(routes=[Route(f"/webhooks/outperform/{SECRET}", ok, methods=["POST"])])
        anyio.run(run_uvicorn(app).serve, backend_options=options)
        return

    from pydantic import SecretStr

    from outperform_mcp.server.app import build_server
    from outperform_mcp.server.http import build_http_app
    from outperform_mcp.server.runtime import extra_routes, open_deps
    from outperform_mcp.settings import ApiSettings, InboxSettings, Settings

    async def main() -> None:
        # The emulator runs in the parent's child process, not here: its CPU must not share our GIL.
        base_url, client_id, client_secret = os.environ["BENCH_EMULATOR"].split(" ")
        api = ApiSettings.model_validate(
            {
                "base_url": base_url,
                "client_id": client_id,
                "client_secret": SecretStr(client_secret),
                "data_dir": Path(data_dir),
                "persist_refresh_token": False,
            }
        )
        inbox = InboxSettings(webhook_secret=SecretStr(SECRET), inbox_commit_batch_max=batch_max)
        async with open_deps(Settings(api=api, inbox=inbox)) as deps:
            server = build_server(deps)
            app = build_http_app(server, host="127.0.0.1", port=port, extra_routes=extra_routes(deps))
            await run_uvicorn(app).serve()

    anyio.run(main, backend_options=options)


# -- load side (parent process) ----------------------------------------------------------------


def request_bytes(i: int, run: str) -> bytes:
    body = json.dumps(
        {
            "event": "whatsapp_message_received",
            "timestamp": "2026-01-15T09:30:00Z",
            "data": {
                "contact": f"6011{i % PHONES:07d}",
                "name": f"Bench Customer {i % PHONES}",
                "direction": "inbound",
                "message": {"type": "text", "text": f"Hello, this is message {i} of run {run}. Is it still available?"},
            },
        }
    ).encode()
    head = (
        f"POST /webhooks/outperform/{SECRET} HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


async def post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> float:
    started = time.perf_counter()
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    elapsed = time.perf_counter() - started
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length)
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
    return elapsed


async def load(port: int, total: int, concurrency: int, run: str) -> tuple[list[float], float]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def sender() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in counter:
                latencies.append(await post(reader, writer, request_bytes(i, run)))
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


async def wait_ready(port: int, proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError("server process exited during startup")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise TimeoutError("server did not start")


@dataclass
class Row:
    name: str
    seq_p50: float
    seq_p99: float
    conc_p50: float
    conc_p99: float
    eps: float


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def measure(name: str, mode: str, batch_max: int, counts: argparse.Namespace) -> Row:
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="inbox-bench-")
    cmd = [sys.executable, __file__, "--serve", mode, "--port", str(port), "--data", data_dir]
    cmd += ["--batch-max", str(batch_max)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BENCH_EMULATOR": counts.emulator}
    proc = await asyncio.create_subprocess_exec(*cmd, env=env)
    try:
        await wait_ready(port, proc)
        await load(port, counts.warmup, 4, f"{name}-warm")
        seq, _ = await load(port, counts.sequential, 1, f"{name}-seq")
        conc, elapsed = await load(port, counts.total, counts.concurrency, f"{name}-conc")
        return Row(name, pct(seq, 0.5), pct(seq, 0.99), pct(conc, 0.5), pct(conc, 0.99), counts.total / elapsed)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


async def bench(counts: argparse.Namespace) -> None:
    rows = [
        await measure("baseline (200, no storing)", "baseline", 1, counts),
        await measure("inbox, 1 event/commit", "inbox", 1, counts),
        await measure("inbox, group commit", "inbox", 256, counts),
    ]
    base = rows[0]
    print(
        f"\n{counts.sequential} sequential events; {counts.total} events from {counts.concurrency} concurrent senders; "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n"
    )
    print("| server | seq p50 ms | seq p99 ms | conc p50 ms | conc p99 ms | events/s | vs baseline |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = r.eps / base.eps
        print(
            f"| {r.name} | {r.seq_p50:.2f} | {r.seq_p99:.2f} | {r.conc_p50:.2f} | {r.conc_p99:.2f} "
            f"| {r.eps:,.0f} | {ratio:.0%} |"
        )
    shipped = rows[-1]
    met = "yes" if shipped.conc_p99 <= 100 else "NO"
    load = os.getloadavg()[0]
    print(f"\ntarget: group commit, conc p99 ≤ 100 ms: {shipped.conc_p99:.0f} ms, met: {met}; load average {load:.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller counts")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--serve", choices=["baseline", "inbox"], help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--batch-max", type=int, default=256, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.data, args.batch_max)
        return
    args.warmup, args.sequential, args.total = (100, 200, 1000) if args.quick else (300, 1000, 5000)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from emulator import running_emulator

    with running_emulator() as emu:
        args.emulator = f"{emu.base_url} {emu.client_id} {emu.client_secret}"
        asyncio.run(bench(args))


if __name__ == "__main__":
    main()
