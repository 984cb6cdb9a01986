"""Smoke-test an installed outperform-mcp through a real MCP client: initialize, tools/list, one read.

    python smoke.py stdio [--tools-of MANIFEST] -- COMMAND [ARGS...]
    python smoke.py http URL [--bearer-env NAME]
    python smoke.py mcpb DIR [EXTRA_ARGS...]

mcpb: start the server the way a host starts an unpacked bundle: its manifest's mcp_config, with
${__dirname} = DIR and ${user_config.NAME} = $USER_CONFIG_NAME from this environment, plus
EXTRA_ARGS (such as --sandbox); the tools listed must be the manifest's, in its order.

stdio passes this process's whole environment to the server (the SDK would otherwise pass only
PATH, HOME and a few more), so callers set OUTPERFORM_* there and never on a command line.
--tools-of: the tools listed must be exactly the ones in an MCPB manifest.json, in its order.
HTTP also checks that a request without the bearer token is refused with 401.
Exits non-zero with one line saying what was wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client


class SmokeFailure(Exception):
    pass


def manifest_tools(manifest: Path) -> list[str]:
    return [t["name"] for t in json.loads(manifest.read_text(encoding="utf-8"))["tools"]]


async def exercise(client: Client, where: str, expected: list[str] | None) -> None:
    info = client.server_info
    names = [t.name for t in (await client.list_tools()).tools]
    if "search_contacts" not in names:
        raise SmokeFailure(f"{where}: tools/list lacks search_contacts: {names}")
    if expected is not None and expected != names:
        raise SmokeFailure(f"{where}: the manifest lists {expected}, the server's tools/list gives {names}")
    result = await client.call_tool("search_contacts", {"search": "Daniel Lee"})
    content: Any = result.structured_content or {}
    if result.is_error or not content.get("items"):
        raise SmokeFailure(f"{where}: search_contacts failed: {result.content}")
    server = f" ({info.name} {info.version})" if info else ""
    print(f"{where}: initialize OK{server}, tools/list {len(names)} tools, search_contacts OK")


async def stdio(command: list[str], expected: list[str] | None) -> None:
    params = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    async with Client(params) as client:
        await exercise(client, f"stdio `{' '.join(command)}`", expected)


def bundle_command(bundle: Path, extra: list[str]) -> tuple[list[str], dict[str, str]]:
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    config = manifest["server"]["mcp_config"]

    def fill(value: str) -> str:
        value = value.replace("${__dirname}", str(bundle))
        for name in manifest.get("user_config", {}):
            key = f"USER_CONFIG_{name.upper()}"
            if "${user_config." + name + "}" in value:
                if key not in os.environ:
                    raise SmokeFailure(f"set {key} for the bundle's user_config.{name}")
                value = value.replace("${user_config." + name + "}", os.environ[key])
        return value

    command = [fill(config["command"]), *(fill(a) for a in config.get("args", [])), *extra]
    env = {**os.environ, **{k: fill(v) for k, v in config.get("env", {}).items()}}
    return command, env


async def mcpb(bundle: Path, command: list[str], env: dict[str, str]) -> None:
    params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=str(bundle))
    async with Client(params) as client:
        await exercise(client, f"bundle `{' '.join(command)}`", manifest_tools(bundle / "manifest.json"))


async def http(url: str, bearer_env: str | None) -> None:
    if bearer_env:
        async with httpx2.AsyncClient(timeout=10) as bare:
            refused = await bare.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        if refused.status_code != 401:
            raise SmokeFailure(f"http {url}: a request without the bearer token got {refused.status_code}, not 401")
    headers = {"Authorization": f"Bearer {os.environ[bearer_env]}"} if bearer_env else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as session,
        Client(streamable_http_client(url, http_client=session)) as client,
    ):
        await exercise(client, f"http {url}{' (bearer token)' if bearer_env else ''}", None)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("stdio")
    s.add_argument("--tools-of", type=Path)
    s.add_argument("command", nargs="+")
    h = sub.add_parser("http")
    h.add_argument("url")
    h.add_argument("--bearer-env")
    b = sub.add_parser("mcpb")
    b.add_argument("bundle", type=Path)
    b.add_argument("extra", nargs=argparse.REMAINDER)
    args = p.parse_args()
    try:
        if args.mode == "stdio":
            anyio.run(stdio, args.command, manifest_tools(args.tools_of) if args.tools_of else None)
        elif args.mode == "mcpb":
            bundle = args.bundle.resolve()
            anyio.run(mcpb, bundle, *bundle_command(bundle, args.extra))
        else:
            anyio.run(http, args.url, args.bearer_env)
    except BaseException as exc:
        # Raised inside the SDK's task groups, a failure arrives wrapped once per group.
        leaf = exc
        while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
            leaf = leaf.exceptions[0]
        if not isinstance(leaf, SmokeFailure):
            raise
        print(f"smoke: FAIL {leaf}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
