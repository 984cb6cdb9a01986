"""The install paths a user meets first: ``python -m outperform_mcp``, the README's client snippets
(each started over stdio, in --sandbox, exactly as the snippet names it), the Claude Desktop bundle
manifest (its tools are the server's tools/list) and the MCP registry's ``server.json``.

CI goes further where this machine allows (.ci/bundle.sh packs and runs the bundle with the pinned
MCPB CLI and runs ``uvx --from``; .ci/image.sh installs the wheel the Dockerfile's way and runs it
as a non-root user). Here ``uvx --from X outperform-mcp`` and the snippets' placeholder path both
stand for the console script of this environment, so no test downloads anything.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters
from pydantic import SecretStr

from outperform_mcp import __version__
from outperform_mcp.server.app import build_server
from outperform_mcp.settings import PREFIX, SECTIONS, ApiSettings

from .inbox_harness import eventually
from .loopback import LOOPBACK
from .support import free_port, offline_deps

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MANIFEST = json.loads((ROOT / "mcpb" / "manifest.json").read_text(encoding="utf-8"))
SERVER_JSON = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
CONSOLE_SCRIPT = str(Path(sys.executable).parent / "outperform-mcp")
PLACEHOLDER = "/path/to/outperform-mcp/.venv/bin/outperform-mcp"


def settings_env() -> dict[str, bool]:
    """Every OUTPERFORM_* variable the server reads, and whether it holds a secret."""
    names: dict[str, bool] = {}
    for section in SECTIONS.values():
        for field, info in section.model_fields.items():
            names[(PREFIX + field).upper()] = SecretStr in getattr(info.annotation, "__args__", (info.annotation,))
    return names


def base_env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path), "OUTPERFORM_DATA_DIR": str(tmp_path)}


async def tool_names(tmp_path: Path) -> list[str]:
    async with offline_deps(tmp_path) as deps, Client(build_server(deps)) as client:
        return [t.name for t in (await client.list_tools()).tools]


# -- python -m -----------------------------------------------------------------------------------


def run(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=base_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_python_dash_m_is_the_console_script(tmp_path: Path) -> None:
    module = run([sys.executable, "-m", "outperform_mcp", "--version"], tmp_path)
    script = run([CONSOLE_SCRIPT, "--version"], tmp_path)
    assert module.returncode == script.returncode == 0, module.stderr
    assert module.stdout == script.stdout == f"outperform-mcp {__version__}\n"
    # Same start-up checks too: no credentials is one clear message and exit 2, not a traceback.
    bare = run([sys.executable, "-m", "outperform_mcp"], tmp_path)
    assert bare.returncode == 2
    assert "cannot start" in bare.stderr
    assert "OUTPERFORM_CLIENT_ID" in bare.stderr
    assert "Traceback" not in bare.stderr


# -- the README's snippets -----------------------------------------------------------------------


def fenced(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def json_configs() -> list[tuple[str, dict[str, Any]]]:
    """(root key, server entry) of every MCP client config in the README."""
    found = []
    for block in fenced("json"):
        if '"mcpServers"' not in block and '"servers"' not in block:
            continue  # an example of a tool's output, not a config
        config = json.loads(block)  # a snippet people paste must be valid JSON
        for root in ("mcpServers", "servers"):
            for entry in config.get(root, {}).values():
                found.append((root, entry))
    return found


def command_lines(prefix: str) -> list[str]:
    lines = [line.strip() for block in fenced("sh") for line in block.splitlines()]
    inline = re.findall(r"`(" + re.escape(prefix) + r"[^`]*)`", README)
    return [line for line in lines + inline if line.startswith(prefix) and "<" not in line]


def local(argv: list[str]) -> list[str]:
    """The snippet's command with its placeholder path (or uvx) standing for this environment's script."""
    if argv[0] == PLACEHOLDER:
        return [CONSOLE_SCRIPT, *argv[1:]]
    if argv[:2] == ["uvx", "--from"] and argv[3] == "outperform-mcp":
        return [CONSOLE_SCRIPT, *argv[4:]]
    raise AssertionError(f"the README starts the server with {argv[0]!r}: use {PLACEHOLDER} or uvx --from")


def fill(value: str) -> str:
    """A client's placeholder syntax (${VAR}, ${env:VAR}, ${input:id}) replaced by a test value."""
    return re.sub(r"\$\{[^}]*\}", "sandbox-value", value)


async def start(argv: list[str], env: dict[str, str], tmp_path: Path) -> list[str]:
    """Start the server the way the snippet does, in --sandbox; what tools/list answers."""
    if "--sandbox" not in argv:
        argv = [*argv, "--sandbox"]
    env = {**base_env(tmp_path), **env}
    if "--http" in argv:
        return await start_http([*argv, "--port", str(free_port())], env, tmp_path)
    params = StdioServerParameters(command=argv[0], args=argv[1:], env=env, cwd=tmp_path)
    async with Client(params) as client:
        return [t.name for t in (await client.list_tools()).tools]


async def start_http(argv: list[str], env: dict[str, str], tmp_path: Path) -> list[str]:
    url = f"http://127.0.0.1:{argv[-1]}/mcp"
    async with await anyio.open_process(
        argv, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        try:
            await eventually(lambda: listening(url) or proc.returncode is not None, seconds=30)
            assert proc.returncode is None, "the server exited during start-up"
            async with Client(url) as client:
                return [t.name for t in (await client.list_tools()).tools]
        finally:
            proc.terminate()


def listening(url: str) -> bool:
    try:
        LOOPBACK.get(url, timeout=0.5)
    except httpx.TransportError:
        return False
    return True


def test_readme_has_a_snippet_for_each_client() -> None:
    roots = sorted(root for root, _ in json_configs())
    # Claude Desktop, Claude Code and Cursor use mcpServers; VS Code uses servers.
    assert roots == ["mcpServers", "mcpServers", "mcpServers", "servers"]
    assert command_lines("claude mcp add ")
    assert command_lines("uvx --from ")
    first_screen = README[: README.index("## What you get")]
    for client in ("Claude Desktop", "Claude Code", "VS Code", "Cursor"):
        assert client in first_screen, f"the README's first screen does not say how to start with {client}"


def snippets() -> list[tuple[str, list[str], dict[str, str]]]:
    """(snippet, argv, env) of every way the README starts the server, placeholders filled in."""
    known = settings_env()
    found = []
    for root, entry in json_configs():
        env = entry.get("env", {})
        for name in env:
            assert name in known, f"the README sets {name}, which no setting reads"
        if root == "servers":
            assert entry["type"] == "stdio"  # VS Code's form
        argv = [entry["command"], *entry.get("args", [])]
        found.append((json.dumps(entry), local(argv), {k: fill(v) for k, v in env.items()}))
    for line in dict.fromkeys(command_lines("claude mcp add ") + command_lines("uvx --from ")):
        argv = shlex.split(line)
        if argv[0] == "claude":
            assert argv[:3] == ["claude", "mcp", "add"]
            assert "-e" not in argv, "no secrets on a command line"
            assert "--env" not in argv, "no secrets on a command line"
            argv = argv[argv.index("--") + 1 :]
        found.append((line, local(argv), {}))
    return found


async def test_every_readme_snippet_starts_the_server(tmp_path: Path) -> None:
    """Started side by side (each is a process start), each in its own data folder. Snippets that
    come to the same command and environment here (two clients' identical configs) start once."""
    expected = await tool_names(tmp_path)
    runs: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], list[str]] = {}
    for label, argv, env in snippets():
        runs.setdefault((tuple(argv), tuple(sorted(env.items()))), []).append(label)
    results: dict[str, list[str]] = {}

    async def one(n: int, argv: tuple[str, ...], env: dict[str, str], labels: list[str]) -> None:
        home = tmp_path / str(n)
        home.mkdir()
        names = await start(list(argv), env, home)
        results.update(dict.fromkeys(labels, names))

    async with anyio.create_task_group() as tg:
        for n, ((argv, env), labels) in enumerate(runs.items()):
            tg.start_soon(one, n, argv, dict(env), labels)
    assert len(results) >= 6
    for label, names in results.items():
        assert names == expected, label


# -- the Claude Desktop bundle -------------------------------------------------------------------


async def test_bundle_manifest_lists_exactly_the_servers_tools(tmp_path: Path) -> None:
    assert [t["name"] for t in MANIFEST["tools"]] == await tool_names(tmp_path)
    assert all(t.get("description") for t in MANIFEST["tools"])


def test_bundle_asks_for_the_credentials_and_keeps_the_secret_sensitive() -> None:
    assert MANIFEST["version"] == PROJECT["version"] == __version__
    config = MANIFEST["user_config"]
    assert set(config) == {"client_id", "client_secret", "instance_id"}
    assert config["client_secret"]["sensitive"] is True
    assert config["client_id"]["required"] is True
    assert config["client_secret"]["required"] is True
    known = settings_env()
    env = MANIFEST["server"]["mcp_config"]["env"]
    assert env == {f"OUTPERFORM_{key.upper()}": f"${{user_config.{key}}}" for key in config}
    for name in env:
        assert name in known
    for key, option in config.items():
        assert option.get("sensitive", False) == known[f"OUTPERFORM_{key.upper()}"], key
    # `uv run server.py` in the unpacked bundle: the entry point must exist and start the CLI.
    assert MANIFEST["server"]["type"] == "uv"
    entry = ROOT / "mcpb" / MANIFEST["server"]["entry_point"]
    assert "from outperform_mcp.cli import main" in entry.read_text(encoding="utf-8")


# -- the MCP registry's server.json --------------------------------------------------------------


def test_server_json_has_what_the_registry_requires() -> None:
    """The fields the registry's server.json schema (2025-09-29) requires, and its official-registry
    rules for PyPI packages (pypi.org only; ownership shown by mcp-name in the package's README)."""
    s = SERVER_JSON
    assert s["$schema"].endswith("/server.schema.json")
    assert re.fullmatch(r"[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+", s["name"])
    assert 3 <= len(s["name"]) <= 200
    assert 1 <= len(s["description"]) <= 100
    assert s["version"] == PROJECT["version"] == __version__
    assert f"<!-- mcp-name: {s['name']} -->" in README
    [package] = s["packages"]
    assert {"registryType", "identifier", "version", "transport"} <= set(package)
    assert package["registryType"] == "pypi"
    assert package["registryBaseUrl"] == "https://pypi.org"
    assert package["identifier"] == PROJECT["name"]
    assert package["version"] == PROJECT["version"]
    assert not re.search(r"[\^~<>=*x]|latest", package["version"]), "a specific version, not a range"
    assert package["transport"] == {"type": "stdio"}
    assert package["runtimeHint"] == "uvx"
    known = settings_env()
    declared = {v["name"]: v for v in package["environmentVariables"]}
    assert set(declared) == {"OUTPERFORM_CLIENT_ID", "OUTPERFORM_CLIENT_SECRET", "OUTPERFORM_INSTANCE_ID"}
    for name, var in declared.items():
        assert var["description"]
        assert var["isSecret"] is known[name], name
        assert var["isRequired"] is (name in ApiSettings().missing()), name
