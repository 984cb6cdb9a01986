"""Start-up: spawn a server over stdio, initialize, list tools; time from spawn to the answer.

The client side is raw JSON-RPC lines on the pipes (handshake era, what hosts speak today), so
no client library cost is in the figure. Ours (``python -m outperform_mcp.cli`` pointed at the
emulator) runs interleaved with a minimal one-tool ``MCPServer`` (the floor for a Python MCP
server) and the peer; one warm-up spawn each, then the median of N rounds (the ratio to the floor
is the median of the N per-round ratios).

It also checks that nothing reaches the API before the first request (the emulator counts every
call), and runs ours once under ``python -X importtime`` to name the heaviest imports.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import peer
from common import BENCH, OUR_STDIO_ARGS, PY, Config, Report, Row, median, ms, ratio, scratch_dir, server_env
from emulator import EmulatorProcess

PROTOCOL = "2025-11-25"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}


def _send(pipe: IO[bytes], *messages: dict[str, Any]) -> None:
    pipe.write(b"".join(json.dumps(m).encode() + b"\n" for m in messages))
    pipe.flush()


def _answer(pipe: IO[bytes], request_id: int) -> dict[str, Any]:
    while True:
        line = pipe.readline()
        if not line:
            raise RuntimeError("server closed stdout before answering")
        message = json.loads(line)
        if message.get("id") == request_id:
            if "error" in message:
                raise RuntimeError(f"server error: {message['error']}")
            return dict(message["result"])


def spawn_once(
    argv: Sequence[str], env: dict[str, str], cwd: Path, *, timeout: float = 60
) -> tuple[float, float, int, str]:
    """(seconds from spawn to tools/list answered, seconds from stdin closed to exit, tools, stderr)."""
    log_path = cwd / "stderr.log"
    with log_path.open("wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [PY, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, cwd=cwd
        )
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        assert proc.stdin is not None
        assert proc.stdout is not None
        _send(proc.stdin, INITIALIZE)
        _answer(proc.stdout, 1)
        _send(proc.stdin, INITIALIZED, LIST_TOOLS)
        tools = _answer(proc.stdout, 2)["tools"]
        elapsed = time.perf_counter() - start
    except (RuntimeError, ValueError, OSError) as exc:
        raise RuntimeError(f"{argv}: {exc}: {log_path.read_text(errors='replace')[-2000:]}") from None
    finally:
        watchdog.cancel()
        closed = time.perf_counter()
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        exited = time.perf_counter() - closed
        if proc.stdout is not None:
            proc.stdout.close()
    return elapsed, exited, len(tools), log_path.read_text(errors="replace")


def import_self_times(argv: Sequence[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Seconds of import self-time per top-level package on a server's start-up path."""
    _, _, _, stderr = spawn_once(("-X", "importtime", *argv), env, cwd)
    packages: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|", 2)
        try:
            seconds = float(self_us) / 1e6
        except ValueError:
            continue  # the header line
        package = name.strip().split(".")[0]
        packages[package] = packages.get(package, 0.0) + seconds
    return packages


def run(emu: EmulatorProcess, cfg: Config, report: Report) -> None:
    rounds = cfg.pick(5, 15)
    with scratch_dir() as data_dir:
        contestants: dict[str, tuple[Sequence[str], dict[str, str]]] = {
            "ours": (OUR_STDIO_ARGS, server_env(emu, data_dir)),
            "minimal": ((str(BENCH / "minimal_server.py"),), {"PATH": server_env(emu, data_dir)["PATH"]}),
        }
        if peer.available():
            contestants["peer"] = (peer.STDIO_ARGS, peer.env(emu, data_dir, emu.access_token()))
        times: dict[str, list[float]] = {name: [] for name in contestants}
        exits: dict[str, list[float]] = {name: [] for name in contestants}
        tools: dict[str, int] = {}
        api_calls = 0
        for i in range(rounds + 1):
            for name, (argv, env) in contestants.items():
                if name == "ours":
                    emu.reset_stats()
                elapsed, exited, count, _ = spawn_once(argv, env, data_dir)
                if name == "ours":
                    api_calls += sum(emu.stats().values())
                tools[name] = count
                if i > 0:  # round 0 warms the page cache and the bytecode caches
                    times[name].append(elapsed)
                    exits[name].append(exited)
        if cfg.quick:
            ours_imports = floor_imports = {}
        else:
            ours_imports = import_self_times(OUR_STDIO_ARGS, contestants["ours"][1], data_dir)
            floor_imports = import_self_times(*contestants["minimal"], data_dir)

    ours, minimal = median(times["ours"]), median(times["minimal"])
    # Median of the per-round ratios: a round's spawns run back to back under the same load.
    paired = median([o / m for o, m in zip(times["ours"], times["minimal"], strict=True)])
    report.add(
        Row(
            "start-up",
            f"stdio spawn → tools/list answered ({tools['ours']} tools)",
            ms(ours, 0),
            f"minimal MCPServer {ms(minimal, 0)}",
            paired,
            "≤ 1.15×",
            paired <= 1.15,
        ),
        Row(
            "start-up",
            "exit after the client closes stdin",
            ms(median(exits["ours"]), 0),
            f"minimal MCPServer {ms(median(exits['minimal']), 0)}",
            ratio(median(exits["ours"]), median(exits["minimal"])),
            "≤ 1.5×",
            median(exits["ours"]) <= 1.5 * median(exits["minimal"]),
        ),
        Row(
            "start-up",
            "API calls before the first request",
            str(api_calls),
            "0",
            None,
            "0",
            api_calls == 0,
        ),
    )
    if "peer" in times:
        peer_time = median(times["peer"])
        report.add(
            Row(
                "peer",
                "start-up: ours / peer",
                ms(ours, 0),
                f"{peer.NAME} {ms(peer_time, 0)} ({tools['peer']} tools)",
                ratio(ours, peer_time),
                "< 1 (better)",
                ours < peer_time,
            )
        )
    if not ours_imports:
        return
    extra = sorted(((t - floor_imports.get(p, 0.0), p) for p, t in ours_imports.items()), reverse=True)
    listing = ", ".join(f"{p} {t * 1000:.0f}" for t, p in extra[:8] if t > 0.001)
    report.note(
        f"start-up imports (python -X importtime, self time): ours {sum(ours_imports.values()) * 1000:.0f} ms, "
        f"minimal MCPServer {sum(floor_imports.values()) * 1000:.0f} ms; ours beyond the minimal, ms: {listing}"
    )
