"""Concurrency and token refresh under load, over Streamable HTTP on loopback.

200 ``search_contacts`` calls are started at once while the emulator adds 100 ms to every API
request; the wall time of the whole wave is compared with the 100 ms floor. Waves of the peer,
of a minimal MCPServer whose tool only sleeps 100 ms (the SDK's own floor), and of 200 direct
``OutPerformClient`` calls (no MCP at all) run interleaved with ours, after one warm-up wave each.
The CPU time the server process spends per call during the waves is reported too.

Token refresh: (a) the emulator revokes every access token while a wave is in flight, so the
in-flight requests are refused and replayed; (b) the token is allowed to reach its refresh time
just before a wave starts. Either way all 200 calls must share one ``oauth_access`` call.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import peer
import psutil
from common import (
    BENCH,
    OUR_HTTP_ARGS,
    OUR_READ_TOOL,
    PAGE,
    PEER_READ_TOOL,
    SEARCH,
    Config,
    Report,
    Row,
    api_settings,
    http_client,
    http_server,
    median,
    ms,
    ratio,
    scratch_dir,
    server_env,
)
from emulator import EmulatorProcess

IN_FLIGHT = 200
LATENCY_MS = 100
ARGS: dict[str, Any] = {"search": SEARCH, "limit": PAGE}
FLOOR_ARGS = ("minimal_server.py", "--http", "--port", "{port}")


ERRORS: dict[str, int] = {}


async def wave(call: Callable[[], Awaitable[str | None]], n: int = IN_FLIGHT) -> tuple[float, int]:
    """Start n calls at once; (wall seconds, failed calls). Error texts are counted in ERRORS."""
    failed = 0

    async def one() -> None:
        nonlocal failed
        error = await call()
        if error is not None:
            failed += 1
            ERRORS[error] = ERRORS.get(error, 0) + 1

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(one)
    return time.perf_counter() - start, failed


def tool(client: Any, name: str, args: dict[str, Any]) -> Callable[[], Awaitable[str | None]]:
    async def call() -> str | None:
        result = await client.call_tool(name, args)
        if not result.is_error:
            return None
        return " ".join(getattr(block, "text", "") for block in result.content)[:160]

    return call


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


async def _measure(
    emu: EmulatorProcess,
    cfg: Config,
    report: Report,
    data_dir: Path,
    urls: dict[str, str],
    pids: dict[str, int],
) -> None:
    from outperform_mcp.api.client import OutPerformClient

    rounds = cfg.pick(1, 5)
    async with (
        OutPerformClient(api_settings(emu, data_dir)) as api,
        http_client(urls["ours"]) as ours,
        http_client(urls["floor"]) as floor,
    ):

        async def direct() -> str | None:
            try:
                await api.list_contacts(search=SEARCH, limit=PAGE)
            except Exception as exc:
                return f"{type(exc).__name__}: {exc}"[:160]
            return None

        calls = {
            "ours": tool(ours, OUR_READ_TOOL, ARGS),
            "floor": tool(floor, "wait", {"ms": LATENCY_MS}),
        }
        if not cfg.quick:  # an explanatory row only: the slowest wave while the API client is on httpx 0.28
            calls["direct"] = direct
        peer_exit = AsyncExitStack()
        if "peer" in urls:
            peer_client = await peer_exit.enter_async_context(http_client(urls["peer"]))
            calls["peer"] = tool(peer_client, PEER_READ_TOOL, ARGS)
        try:
            emu.latency(LATENCY_MS)
            walls: dict[str, list[float]] = {name: [] for name in calls}
            cpu: dict[str, float] = dict.fromkeys(pids, 0.0)
            failures: dict[str, int] = dict.fromkeys(calls, 0)
            procs = {name: psutil.Process(pid) for name, pid in pids.items()}
            for call in calls.values():  # warm-up: open every connection of every pool
                await wave(call)
            for _ in range(rounds):
                for name, call in calls.items():
                    before = cpu_seconds(procs[name]) if name in procs else 0.0
                    wall, failed = await wave(call)
                    walls[name].append(wall)
                    failures[name] += failed
                    if name in procs:
                        cpu[name] += cpu_seconds(procs[name]) - before
            # The refresh scenarios revoke every access token, the peer's static one too: close it first.
            await _close_quietly(peer_exit)
            refresh = await _token_refresh(emu, calls["ours"])
        finally:
            emu.latency(0)
            await _close_quietly(peer_exit)

    floor_s = LATENCY_MS / 1000
    ours_wall = median(walls["ours"])
    per_call = {name: cpu[name] / (rounds * IN_FLIGHT) for name in cpu}
    report.add(
        Row(
            "concurrency",
            f"{IN_FLIGHT} calls in flight, {LATENCY_MS} ms API latency: wall",
            ms(ours_wall, 0) + (f" ({failures['ours']} failed)" if failures["ours"] else ""),
            f"{LATENCY_MS} ms floor",
            ratio(ours_wall, floor_s),
            "≤ 2×",
            ours_wall <= 2 * floor_s and failures["ours"] == 0,
        ),
        Row(
            "concurrency",
            "  same wave, minimal MCPServer (tool sleeps 100 ms)",
            ms(median(walls["floor"]), 0),
            f"{LATENCY_MS} ms floor",
            ratio(median(walls["floor"]), floor_s),
        ),
        Row(
            "concurrency",
            "  server CPU per call during the waves",
            ms(per_call["ours"]),
            f"minimal MCPServer {ms(per_call['floor'])}",
            ratio(per_call["ours"], per_call["floor"]),
        ),
    )
    if "direct" in walls:
        report.add(
            Row(
                "concurrency",
                "  same wave, direct API client (no MCP)",
                ms(median(walls["direct"]), 0),
                f"{LATENCY_MS} ms floor",
                ratio(median(walls["direct"]), floor_s),
            )
        )
    if "peer" in walls:
        peer_wall = median(walls["peer"])
        report.add(
            Row(
                "peer",
                f"{IN_FLIGHT} in flight, wall: ours / peer",
                ms(ours_wall, 0),
                f"{peer.NAME} {ms(peer_wall, 0)}" + (f" ({failures['peer']} failed)" if failures["peer"] else ""),
                ratio(ours_wall, peer_wall),
                "< 1 (better)",
                ours_wall < peer_wall,
            )
        )
    for label, (access, login, wall, failed) in refresh.items():
        report.add(
            Row(
                "token refresh",
                f"{label}: oauth_access calls",
                f"{access} (oauth_login {login})" + (f", {failed} calls failed" if failed else ""),
                "1",
                None,
                "= 1, no call fails",
                access == 1 and login == 0 and failed == 0,
            ),
            Row(
                "token refresh",
                f"{label}: wave wall",
                ms(wall, 0),
                f"wave without refresh {ms(ours_wall, 0)}",
                ratio(wall, ours_wall),
                "",
                None,
            ),
        )
    for error, count in sorted(ERRORS.items(), key=lambda e: -e[1]):
        report.note(f"concurrency: {count} call(s) failed with: {error}")


async def _close_quietly(stack: AsyncExitStack) -> None:
    """Close a finished client; its idle background streams may error as the server drops them."""
    try:
        await stack.aclose()
    except Exception as exc:  # an ExceptionGroup of ReadErrors at teardown, after every figure is in
        ERRORS[f"(ignored at client teardown) {type(exc).__name__}"] = 1


async def _token_refresh(
    emu: EmulatorProcess, call: Callable[[], Awaitable[str | None]]
) -> dict[str, tuple[int, int, float, int]]:
    results: dict[str, tuple[int, int, float, int]] = {}

    # (a) every access token revoked while the wave is in flight: refused, refreshed once, replayed.
    emu.reset_stats()
    outcome: list[tuple[float, int]] = []

    async def run_wave() -> None:
        outcome.append(await wave(call))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_wave)
        await anyio.sleep(LATENCY_MS / 1000 / 2)
        await anyio.to_thread.run_sync(emu.expire_tokens)
    stats = emu.stats()
    results["tokens revoked mid-wave"] = (stats["oauth_access"], stats["oauth_login"], *outcome[0])

    # (b) the token reaches its refresh time just before the wave: refreshed ahead, once.
    lifetime = 3
    emu.token_lifetime(lifetime)
    emu.expire_tokens()
    await call()  # refused, renewed with a 3 s token: refresh due after 3 - 3/5 = 2.4 s
    emu.token_lifetime(3600)  # the token the wave refreshes to outlives the wave
    await anyio.sleep(lifetime * 0.8 + 0.1)
    emu.reset_stats()
    wall, failed = await wave(call)
    stats = emu.stats()
    results["token due for refresh as the wave starts"] = (stats["oauth_access"], stats["oauth_login"], wall, failed)
    return results


def run(emu: EmulatorProcess, cfg: Config, report: Report) -> None:
    with scratch_dir() as data_dir:
        floor_env = {"PATH": server_env(emu, data_dir)["PATH"], "HOME": str(data_dir)}
        floor_script = (str(BENCH / FLOOR_ARGS[0]), *FLOOR_ARGS[1:])
        with (
            http_server(OUR_HTTP_ARGS, server_env(emu, data_dir), data_dir) as (our_url, our_proc),
            http_server(floor_script, floor_env, data_dir) as (floor_url, floor_proc),
        ):
            urls = {"ours": our_url, "floor": floor_url}
            pids = {"ours": our_proc.pid, "floor": floor_proc.pid}
            if peer.available():
                with peer.over_http(emu, data_dir) as peer_url:
                    urls["peer"] = peer_url
                    anyio.run(_measure, emu, cfg, report, data_dir, urls, pids)
            else:
                anyio.run(_measure, emu, cfg, report, data_dir, urls, pids)
