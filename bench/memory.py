"""Memory: resident set size of our stdio server after start and after 10,000 tool calls.

The server is spawned as a host would (``python -m outperform_mcp.cli`` over stdio) and driven by
the SDK client, 8 calls in flight, rotating over the read tools of the contacts and
conversations toolsets that exist at run time (the inbox's ``wait_for_reply`` blocks by design
and sends are not reads, so neither is in the rotation). RSS is read with psutil after
``tools/list``, after a warm-up of 10 % of the calls (caches, pools, lazily built validators),
and at the end; growth is measured from the warm-up point and must stay within
``max(2 MiB, 2 %)``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import psutil
from common import OUR_STDIO_ARGS, PAGE, SEARCH, Config, Report, Row, contact_token, scratch_dir, server_env
from emulator import EmulatorProcess

IN_FLIGHT = 8
ROTATION: dict[str, dict[str, Any]] = {
    "search_contacts": {"search": SEARCH, "limit": PAGE},
    "get_contact": {"token": "{token}"},
    "list_labels": {},
    "get_conversation": {"token": "{token}", "limit": 30},
    "list_conversations": {"limit": 20},
    "list_chatbot_conversations": {"limit": 20},
}
MIB = 1024 * 1024


def _server_process(before: set[int]) -> psutil.Process:
    me = psutil.Process()
    for child in me.children(recursive=True):
        if child.pid not in before and any("outperform_mcp.cli" in part for part in child.cmdline()):
            return child
    raise RuntimeError("could not find the spawned server process")


async def _measure(emu: EmulatorProcess, cfg: Config, report: Report, data_dir: Path) -> None:
    from mcp import Client, StdioServerParameters

    calls = cfg.pick(1_000, 10_000)
    token = contact_token(emu, "Aisha Rahman")
    params = StdioServerParameters(
        command=sys.executable, args=list(OUR_STDIO_ARGS), env=server_env(emu, data_dir), cwd=str(data_dir)
    )
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    async with Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        rotation = [
            (name, {k: (token if v == "{token}" else v) for k, v in args.items()})
            for name, args in ROTATION.items()
            if name in names
        ]
        server = _server_process(before)
        after_start = server.memory_info().rss
        failed = 0
        done = 0

        async def worker(offset: int, count: int) -> None:
            nonlocal failed, done
            for i in range(count):
                name, args = rotation[(offset + i) % len(rotation)]
                result = await client.call_tool(name, args)
                failed += bool(result.is_error)
                done += 1

        async def batch(count: int) -> None:
            async with anyio.create_task_group() as tg:
                for w in range(IN_FLIGHT):
                    tg.start_soon(worker, w, count // IN_FLIGHT + (w < count % IN_FLIGHT))

        warm = calls // 10
        await batch(warm)
        after_warm = server.memory_info().rss
        await batch(calls - warm)
        final = server.memory_info().rss
    growth = final - after_warm
    allowed = max(2 * MIB, 0.02 * after_warm)
    report.add(
        Row("memory", "RSS after start (tools/list answered)", f"{after_start / MIB:.1f} MiB"),
        Row(
            "memory",
            f"RSS after {done:,} calls" + (f" ({failed} failed)" if failed else ""),
            f"{final / MIB:.1f} MiB",
            f"after {warm:,}-call warm-up {after_warm / MIB:.1f} MiB",
            final / after_warm,
            "growth ≤ max(2 MiB, 2 %)",
            growth <= allowed and failed == 0,
        ),
    )


def run(emu: EmulatorProcess, cfg: Config, report: Report) -> None:
    with scratch_dir() as data_dir:
        anyio.run(_measure, emu, cfg, report, data_dir)
