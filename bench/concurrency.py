"""Concurrency and token refresh under load, over Streamable HTTP on loopback.

200 ``search_contacts`` calls are started at once while the emulator adds 100 ms to every API
request. The client is ``loadgen`` (raw HTTP replaying the SDK's JSON-RPC request, one keep-alive
connection per call, opened before the clock starts), so its own CPU stays small and is reported
apart from the server's. Waves of ours, of a bare ``MCPServer`` making the same API call and
returning the same payload (``minimal_server.py``), of the same bare server's ``wait`` tool (a
100 ms sleep: the SDK's own floor) and of the peer alternate, after one warm-up wave each; the
servers stay up across waves. Every API pool is sized to the wave (``OUTPERFORM_MAX_CONNECTIONS``).
The CPU time each server process spends per call during the waves is read with psutil. Ratios to
the bare server are medians of per-round ratios (a round's waves run back to back).

Token refresh: (a) the emulator revokes every access token while a wave is in flight, so the
in-flight requests are refused and replayed; (b) the token is allowed to reach its refresh time
just before a wave starts. Either way all 200 calls must share one ``oauth_access`` call.
"""

from __future__ import annotations

import asyncio
from typing import Any

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
    http_server,
    median,
    ms,
    ratio,
    scratch_dir,
    server_env,
)
from emulator import EmulatorProcess
from loadgen import McpHttp, Wave, wave

IN_FLIGHT = 200
LATENCY_MS = 100
ARGS: dict[str, Any] = {"search": SEARCH, "limit": PAGE}
FLOOR_ARGS = ("minimal_server.py", "--http", "--port", "{port}")
# name -> (tool, arguments, server process key)
CALLS: dict[str, tuple[str, dict[str, Any], str]] = {
    "ours": (OUR_READ_TOOL, ARGS, "ours"),
    "bare": ("search_contacts", ARGS, "bare"),
    "sleep": ("wait", {"ms": LATENCY_MS}, "bare"),
    "peer": (PEER_READ_TOOL, ARGS, "peer"),
}


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


class Tally:
    def __init__(self) -> None:
        self.walls: list[float] = []
        self.cpu_per_call: list[float] = []  # one per wave, paired by round with the other servers'
        self.server_cpu = 0.0
        self.client_cpu = 0.0
        self.calls = 0
        self.failed = 0

    def add(self, w: Wave, server_cpu: float) -> None:
        self.walls.append(w.wall)
        self.cpu_per_call.append(server_cpu / max(1, len(w.latencies) + len(w.errors)))
        self.server_cpu += server_cpu
        self.client_cpu += w.client_cpu
        self.calls += len(w.latencies) + len(w.errors)
        self.failed += len(w.errors)


async def _measure(
    emu: EmulatorProcess, cfg: Config, report: Report, urls: dict[str, str], pids: dict[str, int]
) -> None:
    rounds = cfg.pick(4, 8)
    clients = {name: McpHttp(url) for name, url in urls.items()}
    for client in clients.values():
        await client.open()
    procs = {name: psutil.Process(pid) for name, pid in pids.items()}
    names = [name for name in CALLS if CALLS[name][2] in clients]
    tallies = {name: Tally() for name in names}
    errors: dict[str, int] = {}

    async def run(name: str) -> Wave:
        tool, args, server = CALLS[name]
        before = cpu_seconds(procs[server])
        w = await wave(clients[server], tool, args, IN_FLIGHT)
        # The server may still be finishing its last responses' bookkeeping: let it settle.
        await asyncio.sleep(0.05)
        tallies[name].add(w, cpu_seconds(procs[server]) - before)
        for e in w.errors:
            errors[f"{name}: {e}"] = errors.get(f"{name}: {e}", 0) + 1
        return w

    emu.latency(LATENCY_MS)
    try:
        for name in names:  # warm-up: imports, validators, every API pool opened
            tool, args, server = CALLS[name]
            await wave(clients[server], tool, args, IN_FLIGHT)
        for i in range(rounds):
            for name in names if i % 2 == 0 else reversed(names):
                await run(name)
        refresh = await _token_refresh(emu, clients["ours"], procs["ours"])
    finally:
        emu.latency(0)

    floor_s = LATENCY_MS / 1000
    t = tallies
    ours_wall, bare_wall, sleep_wall = (median(t[n].walls) for n in ("ours", "bare", "sleep"))

    def per_call(name: str, what: str) -> float:
        return float(getattr(t[name], what)) / max(1, t[name].calls)

    def paired(a: list[float], b: list[float]) -> float:
        """Median of the per-round ratios: each round's waves ran back to back, under the same
        load, so a ratio of the two is steadier than a ratio of totals on a shared machine."""
        return median([x / y for x, y in zip(a, b, strict=True) if y > 0])

    wall_ratio = paired(t["ours"].walls, t["bare"].walls)
    cpu_ratio = paired(t["ours"].cpu_per_call, t["bare"].cpu_per_call)

    failed = f" ({t['ours'].failed} failed)" if t["ours"].failed else ""
    report.add(
        Row(
            "concurrency",
            f"{IN_FLIGHT} calls in flight, {LATENCY_MS} ms API latency: wall",
            ms(ours_wall, 0) + failed,
            f"bare MCPServer, same API call and payload {ms(bare_wall, 0)}",
            wall_ratio,
            "≤ 1.5×",
            wall_ratio <= 1.5 and t["ours"].failed == 0,
        ),
        Row(
            "concurrency",
            "  same wave against the 100 ms floor",
            ms(ours_wall, 0),
            f"{LATENCY_MS} ms floor",
            ratio(ours_wall, floor_s),
        ),
        Row(
            "concurrency",
            "  bare MCPServer, same API call and payload",
            ms(bare_wall, 0) + (f" ({t['bare'].failed} failed)" if t["bare"].failed else ""),
            f"{LATENCY_MS} ms floor",
            ratio(bare_wall, floor_s),
        ),
        Row(
            "concurrency",
            "  bare MCPServer, tool only sleeps 100 ms (no API call)",
            ms(sleep_wall, 0),
            f"{LATENCY_MS} ms floor",
            ratio(sleep_wall, floor_s),
        ),
        Row(
            "concurrency",
            "server CPU per call during the waves",
            ms(per_call("ours", "server_cpu")),
            f"bare MCPServer, same API call {ms(per_call('bare', 'server_cpu'))}",
            cpu_ratio,
            "≤ 1.5×",
            cpu_ratio <= 1.5,
        ),
        Row(
            "concurrency",
            "  load generator (client) CPU per call, our waves",
            ms(per_call("ours", "client_cpu")),
            f"server {ms(per_call('ours', 'server_cpu'))}",
            ratio(per_call("ours", "client_cpu"), per_call("ours", "server_cpu")),
        ),
    )
    if "peer" in t:
        peer_wall = median(t["peer"].walls)
        report.add(
            Row(
                "peer",
                f"{IN_FLIGHT} in flight, wall: ours / peer",
                ms(ours_wall, 0),
                f"{peer.NAME} {ms(peer_wall, 0)}" + (f" ({t['peer'].failed} failed)" if t["peer"].failed else ""),
                ratio(ours_wall, peer_wall),
                "< 1 (better)",
                ours_wall < peer_wall,
            ),
            Row(
                "peer",
                "server CPU per call: ours / peer",
                ms(per_call("ours", "server_cpu")),
                f"{peer.NAME} {ms(per_call('peer', 'server_cpu'))}",
                ratio(per_call("ours", "server_cpu"), per_call("peer", "server_cpu")),
                "< 1 (better)",
                per_call("ours", "server_cpu") < per_call("peer", "server_cpu"),
            ),
        )
    for label, (access, login, wall, nfailed) in refresh.items():
        report.add(
            Row(
                "token refresh",
                f"{label}: oauth_access calls",
                f"{access} (oauth_login {login})" + (f", {nfailed} calls failed" if nfailed else ""),
                "1",
                None,
                "= 1, no call fails",
                access == 1 and login == 0 and nfailed == 0,
            ),
            Row(
                "token refresh",
                f"{label}: wave wall",
                ms(wall, 0),
                f"wave without refresh {ms(ours_wall, 0)}",
                ratio(wall, ours_wall),
            ),
        )
    for error, count in sorted(errors.items(), key=lambda e: -e[1]):
        report.note(f"concurrency: {count} call(s) failed with: {error}")


async def _token_refresh(
    emu: EmulatorProcess, client: McpHttp, proc: psutil.Process
) -> dict[str, tuple[int, int, float, int]]:
    tool, args, _ = CALLS["ours"]
    results: dict[str, tuple[int, int, float, int]] = {}

    # (a) every access token revoked while the wave is in flight: refused, refreshed once, replayed.
    emu.reset_stats()
    running = asyncio.ensure_future(wave(client, tool, args, IN_FLIGHT))
    await asyncio.sleep(LATENCY_MS / 1000 / 2)
    await asyncio.to_thread(emu.expire_tokens)
    w = await running
    stats = emu.stats()
    results["tokens revoked mid-wave"] = (stats["oauth_access"], stats["oauth_login"], w.wall, len(w.errors))

    # (b) the token reaches its refresh time just before the wave: refreshed ahead, once.
    lifetime = 3
    emu.token_lifetime(lifetime)
    emu.expire_tokens()
    await wave(client, tool, args, 1)  # refused, renewed with a 3 s token: refresh due after 3 - 3/5 = 2.4 s
    emu.token_lifetime(3600)  # the token the wave refreshes to outlives the wave
    await asyncio.sleep(lifetime * 0.8 + 0.1)
    emu.reset_stats()
    w = await wave(client, tool, args, IN_FLIGHT)
    stats = emu.stats()
    results["token due for refresh as the wave starts"] = (
        stats["oauth_access"],
        stats["oauth_login"],
        w.wall,
        len(w.errors),
    )
    return results


def run(emu: EmulatorProcess, cfg: Config, report: Report) -> None:
    pool = str(IN_FLIGHT * 2)  # every API pool sized past the wave: nothing waits for a connection
    with scratch_dir() as data_dir:
        floor_env = {
            "PATH": server_env(emu, data_dir)["PATH"],
            "HOME": str(data_dir),
            "FLOOR_BASE_URL": emu.base_url,
            "FLOOR_ACCESS_TOKEN": emu.access_token(),
        }
        floor_script = (str(BENCH / FLOOR_ARGS[0]), *FLOOR_ARGS[1:])
        with (
            http_server(OUR_HTTP_ARGS, server_env(emu, data_dir, OUTPERFORM_MAX_CONNECTIONS=pool), data_dir) as (
                our_url,
                our_proc,
            ),
            http_server(floor_script, floor_env, data_dir) as (floor_url, floor_proc),
        ):
            urls = {"ours": our_url, "bare": floor_url}
            pids = {"ours": our_proc.pid, "bare": floor_proc.pid}
            if peer.available():
                with peer.over_http(emu, data_dir) as (peer_url, peer_proc):
                    urls["peer"], pids["peer"] = peer_url, peer_proc.pid
                    asyncio.run(_measure(emu, cfg, report, urls, pids))
            else:
                asyncio.run(_measure(emu, cfg, report, urls, pids))
