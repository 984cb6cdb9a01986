"""API client transports: CPU per GET with 100 requests in flight, all measured in one run.

    python bench/transport.py            # 20 waves each, interleaved
    python bench/transport.py --quick    # 5 waves each

Contestants, each fetching the same page of 20 contacts from the emulator (its own process, 100 ms
added latency, so every wave really has 100 requests in flight):

- ``httpx2``: ``httpx2.AsyncClient`` with its own pool (the API client's transport until issue 15);
- ``httpx2 + aiohttp``: ``httpx2.AsyncClient`` on ``httpx_aiohttp.httpx2.AiohttpTransport``;
- ``httpx + aiohttp``: ``httpx.AsyncClient`` (0.28) on ``httpx_aiohttp.AiohttpTransport``;
- ``aiohttp``: ``aiohttp.ClientSession`` directly (the floor).

Waves alternate between contestants (after one warm-up wave each, which also opens the pools), on
uvloop when it is installed. CPU is this process's (``time.process_time``); the emulator runs apart.
The issue's rule: keep an httpx interface if its aiohttp transport is within 15 % of raw aiohttp.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from emulator import running_emulator

IN_FLIGHT = 100
LATENCY_MS = 100
PARAMS = {"search": "a", "limit": "20", "page": "1"}


async def wave(get: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(get() for _ in range(IN_FLIGHT)))
    return time.process_time() - cpu, time.perf_counter() - wall


async def measure(base_url: str, token: str, waves: int) -> dict[str, tuple[float, float]]:
    import aiohttp
    import httpx
    import httpx2
    from httpx_aiohttp import AiohttpTransport as HttpxAiohttp
    from httpx_aiohttp.httpx2 import AiohttpTransport as Httpx2Aiohttp

    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    url = base_url + "contacts"
    limits2 = httpx2.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    limits1 = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    clients: dict[str, Any] = {
        "httpx2": httpx2.AsyncClient(headers=headers, limits=limits2, timeout=30),
        "httpx2 + aiohttp": httpx2.AsyncClient(headers=headers, timeout=30, transport=Httpx2Aiohttp(limits=limits2)),
        "httpx + aiohttp": httpx.AsyncClient(headers=headers, timeout=30, transport=HttpxAiohttp(limits=limits1)),
        "aiohttp": aiohttp.ClientSession(
            headers=headers, connector=aiohttp.TCPConnector(limit=IN_FLIGHT), timeout=aiohttp.ClientTimeout(30)
        ),
    }

    def getter(name: str) -> Callable[[], Awaitable[Any]]:
        client = clients[name]
        if name == "aiohttp":

            async def get_aiohttp() -> Any:
                async with client.get(url, params=PARAMS) as response:
                    response.raise_for_status()
                    return await response.json()

            return get_aiohttp

        async def get_httpx() -> Any:
            response = await client.get(url, params=PARAMS)
            response.raise_for_status()
            return response.json()

        return get_httpx

    gets = {name: getter(name) for name in clients}
    cpu: dict[str, list[float]] = {name: [] for name in gets}
    wall: dict[str, list[float]] = {name: [] for name in gets}
    try:
        for get in gets.values():
            await wave(get)
        for i in range(waves):
            order = list(gets) if i % 2 == 0 else list(reversed(gets))
            for name in order:
                c, w = await wave(gets[name])
                cpu[name].append(c / IN_FLIGHT)
                wall[name].append(w)
    finally:
        for client in clients.values():
            await (client.close() if hasattr(client, "closed") else client.aclose())
    return {name: (sorted(cpu[name])[len(cpu[name]) // 2], sorted(wall[name])[len(wall[name]) // 2]) for name in gets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    waves = 5 if args.quick else 20
    use_uvloop = importlib.util.find_spec("uvloop") is not None
    with running_emulator() as emu:
        token = emu.access_token()
        emu.latency(LATENCY_MS)
        try:
            load = os.getloadavg()[0]
            if use_uvloop:
                import uvloop

                results = uvloop.run(measure(emu.base_url, token, waves))
            else:
                results = asyncio.run(measure(emu.base_url, token, waves))
        finally:
            emu.latency(0)
    floor = results["aiohttp"][0]
    print(
        f"\n{IN_FLIGHT} GETs in flight, {LATENCY_MS} ms API latency, median of {waves} waves each; "
        f"loop: {'uvloop' if use_uvloop else 'asyncio'}; load average {load:.2f}; {os.cpu_count()} CPUs\n"
    )
    print("| client | CPU per GET | vs aiohttp | wave wall |")
    print("|---|---:|---:|---:|")
    for name, (c, w) in results.items():
        print(f"| {name} | {c * 1000:.3f} ms | {c / floor:.2f}× | {w * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
