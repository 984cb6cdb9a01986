"""Per-call overhead: a read tool through an MCP client minus the same API call made directly.

Ours: ``search_contacts`` (a page of 20 contacts). Baseline: ``OutPerformClient.list_contacts``
with the same arguments, against the same emulator, interleaved call by call with the tool
calls (the order alternates every round) after a warm-up. The peer's ``list_contacts`` tool is
interleaved in the same loop. In process the SDK ``Client(server)`` drives the server directly;
over HTTP each server runs in its own process on loopback and the client is the SDK's
Streamable HTTP client. Overheads are paired: each round's tool call minus the same round's
direct call, then the p50 and p99 of those differences.

Baselines in the same interleaved loop: in process, a minimal ``MCPServer`` returning the same
20-contact result with no API call (the SDK floor); over HTTP, a bare ``MCPServer`` making the
same API call and returning the same payload (``minimal_server.py``). Also reported: the time the
SDK client spends validating the result against the tool's ``outputSchema`` (jsonschema, in the
client).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import peer
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
    our_server_in_process,
    pct,
    ratio,
    scratch_dir,
    server_env,
    timed,
)
from emulator import EmulatorProcess

ARGS: dict[str, Any] = {"search": SEARCH, "limit": PAGE}
FLOOR_ARGS = (str(BENCH / "minimal_server.py"), "--http", "--port", "{port}")
Call = Callable[[], Awaitable[Any]]


async def interleave(calls: dict[str, Call], rounds: int, warmup: int) -> dict[str, list[float]]:
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            await calls[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        for name in names if i % 2 == 0 else reversed(names):
            samples[name].append(await timed(calls[name]))
    return samples


def tool_call(client: Any, name: str, args: dict[str, Any]) -> Call:
    async def call() -> None:
        result = await client.call_tool(name, args)
        if result.is_error:
            raise RuntimeError(f"{name} failed: {result.content}")

    return call


async def validation_cost(client: Any, name: str, args: dict[str, Any], rounds: int) -> float:
    """p50 of the SDK client's own check of one result against the tool's outputSchema."""
    result = await client.call_tool(name, args)
    session = client.session
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        await session.validate_tool_result(name, result)
        samples.append(time.perf_counter() - start)
    return median(samples)


def paired(samples: dict[str, list[float]], a: str, b: str) -> list[float]:
    """Per-round differences a - b: the calls were made back to back in the same round."""
    return [x - y for x, y in zip(samples[a], samples[b], strict=True)]


def overhead_rows(
    report: Report, where: str, target_ms: float, samples: dict[str, list[float]], with_peer: bool
) -> dict[str, float]:
    diffs = paired(samples, "ours", "direct")
    d50 = median(samples["direct"])
    o50, o99 = median(samples["ours"]), pct(samples["ours"], 99)
    over50, over99 = median(diffs), pct(diffs, 99)
    report.add(
        Row(
            "overhead",
            f"per-call overhead p50, {where}",
            f"{ms(over50)} (tool {ms(o50)})",
            f"direct API call {ms(d50)}",
            ratio(o50, d50),
            f"≤ {target_ms:g} ms",
            over50 <= target_ms / 1000,
        ),
        Row(
            "overhead",
            f"per-call overhead p99 (of paired differences), {where}",
            f"{ms(over99)} (tool p99 {ms(o99)})",
            f"direct API call p99 {ms(pct(samples['direct'], 99))}",
        ),
    )
    result = {"ours": over50}
    if with_peer:
        p50 = median(paired(samples, "peer", "direct"))
        result["peer"] = p50
        report.add(
            Row(
                "peer",
                f"per-call overhead p50, {where}: ours / peer",
                ms(over50),
                f"{peer.NAME} {ms(p50)} (tool {ms(median(samples['peer']))})",
                ratio(over50, p50),
                "< 1 (better)",
                over50 < p50,
            )
        )
    return result


def sdk_floor(canned: Any) -> Any:
    """A minimal MCPServer whose tool returns ``canned`` (the same model as ours, no API call)."""
    from mcp.server.mcpserver import MCPServer

    floor = MCPServer("floor", log_level="WARNING")

    async def search_contacts(search: str | None = None, limit: int = 20) -> Any:
        """Return a canned page."""
        return canned

    # The return annotation decides the outputSchema: make it the same model as ours.
    search_contacts.__annotations__ = {"search": str | None, "limit": int, "return": type(canned)}
    floor.add_tool(search_contacts, structured_output=True)
    return floor


async def _in_process(emu: EmulatorProcess, cfg: Config, report: Report, data_dir: Path) -> None:
    from mcp import Client

    from outperform_mcp.server.contacts.tools import ContactList
    from outperform_mcp.server.views import ContactOut

    rounds, warmup = cfg.pick(200, 2000), cfg.pick(30, 200)
    with_peer = peer.available()
    async with our_server_in_process(emu, data_dir) as (server, deps), Client(server) as ours:
        await ours.list_tools()  # the client validates results against the listed outputSchema
        page = await deps.api.list_contacts(search=SEARCH, limit=PAGE)
        canned = ContactList(items=[ContactOut.of(c) for c in page.items], page=1, total=page.total, next_page=2)
        async with Client(sdk_floor(canned)) as floor:
            await floor.list_tools()
            calls: dict[str, Call] = {
                "ours": tool_call(ours, OUR_READ_TOOL, ARGS),
                "direct": lambda: deps.api.list_contacts(search=SEARCH, limit=PAGE),
                "floor": tool_call(floor, "search_contacts", ARGS),
            }
            async with _maybe_peer_in_process(emu, with_peer) as peer_client:
                if peer_client is not None:
                    await peer_client.list_tools()
                    calls["peer"] = tool_call(peer_client, PEER_READ_TOOL, ARGS)
                samples = await interleave(calls, rounds, warmup)
                ours_validation = await validation_cost(ours, OUR_READ_TOOL, ARGS, rounds)
                peer_validation = (
                    await validation_cost(peer_client, PEER_READ_TOOL, ARGS, rounds)
                    if peer_client is not None
                    else None
                )
    figures = overhead_rows(report, "in-process", 1.0, samples, with_peer)
    floor = median(samples["floor"])
    report.add(
        Row(
            "overhead",
            "  of which: the SDK client checks the result against outputSchema",
            ms(ours_validation),
            f"peer {ms(peer_validation)}" if peer_validation is not None else "",
        ),
        Row(
            "overhead",
            "  SDK floor: minimal MCPServer returning the same 20 contacts, no API call (interleaved)",
            ms(floor),
            f"our overhead {ms(figures['ours'])}",
            ratio(figures["ours"], floor),
        ),
    )


@asynccontextmanager
async def _maybe_peer_in_process(emu: EmulatorProcess, enabled: bool) -> AsyncIterator[Any]:
    if not enabled:
        yield None
        return
    async with peer.in_process(emu) as client:
        yield client


async def _over_http(emu: EmulatorProcess, cfg: Config, report: Report, data_dir: Path, urls: dict[str, str]) -> None:
    from outperform_mcp.api.client import OutPerformClient

    rounds, warmup = cfg.pick(100, 1000), cfg.pick(20, 100)
    async with (
        OutPerformClient(api_settings(emu, data_dir)) as api,
        http_client(urls["ours"]) as ours,
        http_client(urls["floor"]) as floor,
        AsyncExitStack() as stack,
    ):
        await ours.list_tools()
        await floor.list_tools()
        calls: dict[str, Call] = {
            "ours": tool_call(ours, OUR_READ_TOOL, ARGS),
            "direct": lambda: api.list_contacts(search=SEARCH, limit=PAGE),
            "bare": tool_call(floor, "search_contacts", ARGS),
        }
        if "peer" in urls:
            peer_client = await stack.enter_async_context(http_client(urls["peer"]))
            await peer_client.list_tools()
            calls["peer"] = tool_call(peer_client, PEER_READ_TOOL, ARGS)
        samples = await interleave(calls, rounds, warmup)
    overhead_rows(report, "Streamable HTTP (loopback)", 3.0, samples, "peer" in urls)
    beyond = median(paired(samples, "ours", "bare"))
    report.add(
        Row(
            "overhead",
            "  ours beyond a bare MCPServer making the same API call, same payload (p50 of paired)",
            f"{ms(beyond)} (tool {ms(median(samples['ours']))})",
            f"bare server {ms(median(samples['bare']))}",
            ratio(median(samples["ours"]), median(samples["bare"])),
            "≤ +0.5 ms",
            beyond <= 0.0005,
        )
    )


def run(emu: EmulatorProcess, cfg: Config, report: Report) -> None:
    with scratch_dir() as data_dir:
        anyio.run(_in_process, emu, cfg, report, data_dir)
    with (
        scratch_dir() as data_dir,
        http_server(OUR_HTTP_ARGS, server_env(emu, data_dir), data_dir) as (our_url, _),
        http_server(
            FLOOR_ARGS,
            {
                "PATH": os.environ.get("PATH", ""),
                "FLOOR_BASE_URL": emu.base_url,
                "FLOOR_ACCESS_TOKEN": emu.access_token(),
            },
            data_dir,
        ) as (floor_url, _),
    ):
        urls = {"ours": our_url, "floor": floor_url}
        if peer.available():
            with peer.over_http(emu, data_dir) as (peer_url, _):
                anyio.run(_over_http, emu, cfg, report, data_dir, {**urls, "peer": peer_url})
        else:
            anyio.run(_over_http, emu, cfg, report, data_dir, urls)
