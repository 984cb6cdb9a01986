"""Command line: argument parsing and wiring only."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, NoReturn

import anyio
from pydantic import SecretStr, ValidationError

from . import __version__
from .api.errors import OutPerformError
from .api.settings import ApiSettings
from .guard.settings import GuardSettings
from .server.inbox_settings import InboxSettings
from .server.settings import ServerSettings

log = logging.getLogger("outperform_mcp")


class SettingsProblem(Exception):
    pass


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="outperform-mcp",
        description="MCP server for the OutPerform Conversation API. Settings come from OUTPERFORM_* "
        "environment variables or a .env file; secrets are never taken on the command line.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--http", action="store_true", help="serve Streamable HTTP at /mcp instead of stdio")
    p.add_argument("--host", default="127.0.0.1", help="HTTP host (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    p.add_argument("--sandbox", action="store_true", help="run against a built-in emulator with seeded data")
    p.add_argument("--toolsets", type=_csv, default=(), help="comma-separated toolsets to enable")
    p.add_argument("--tools", type=_csv, default=(), help="comma-separated tools to expose (allow-list)")
    p.add_argument("--exclude-tools", type=_csv, default=(), help="comma-separated tools to hide")
    p.add_argument("--read-only", action="store_true", help="hide every tool that changes anything")
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command")
    sb = sub.add_parser("sandbox", help="run only the OutPerform API emulator")
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--port", type=int, default=8900)
    sub.add_parser("check", help="verify the credentials and print the access token's expiry")
    return p


def load_settings(*, sandbox: bool = False) -> tuple[ApiSettings, ServerSettings]:
    """Both settings objects, or one error listing every problem and how to fix it."""
    problems: list[str] = []
    api: ApiSettings | None = None
    srv: ServerSettings | None = None
    for cls in (ApiSettings, ServerSettings, InboxSettings, GuardSettings):
        try:
            obj = cls()
        except ValidationError as exc:
            bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "?"
                problems.append(f"OUTPERFORM_{field.upper()}: {err['msg']}")
            if cls is not ApiSettings:
                continue
            # Defaults in place of the invalid values, so missing ones are reported in the same message.
            obj = ApiSettings(
                **{name: ApiSettings.model_fields[name].get_default(call_default_factory=True) for name in bad}
            )
        if isinstance(obj, ApiSettings):
            api = obj
        elif isinstance(obj, ServerSettings):
            srv = obj
    if api is not None and not sandbox:
        problems += [f"{name}: not set" for name in api.missing()]
    if problems:
        raise SettingsProblem(
            "settings are missing or invalid:\n  "
            + "\n  ".join(problems)
            + "\nSet them in the environment or in a .env file (see README, 'Settings'),"
            " or try the server with no account: outperform-mcp --sandbox"
        )
    assert api is not None
    assert srv is not None
    return api, srv


@contextmanager
def sandbox_api(api: ApiSettings, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[ApiSettings]:
    """Start the emulator in this process and point the API settings at it."""
    from .sandbox.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_emulator
    from .sandbox.runner import EmulatorServer

    client_id = api.client_id or DEFAULT_CLIENT_ID
    secret = api.client_secret.get_secret_value() if api.client_secret else DEFAULT_CLIENT_SECRET
    emulator = create_emulator(client_id=client_id, client_secret=secret)
    with EmulatorServer(emulator, host=host, port=port) as srv:
        yield api.model_copy(
            update={
                "base_url": srv.base_url.rstrip("/") + "/",
                "client_id": client_id,
                "client_secret": api.client_secret or SecretStr(secret),
                "instance_id": api.instance_id or "sandbox-instance",
                "data_dir": api.data_dir / "sandbox",
            }
        )


def run_sandbox(args: argparse.Namespace) -> int:
    from .sandbox.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_emulator
    from .sandbox.runner import EmulatorServer

    client_id = os.environ.get("OUTPERFORM_CLIENT_ID") or DEFAULT_CLIENT_ID
    secret = os.environ.get("OUTPERFORM_CLIENT_SECRET")
    emulator = create_emulator(client_id=client_id, client_secret=secret or DEFAULT_CLIENT_SECRET)
    with EmulatorServer(emulator, host=args.host, port=args.port) as srv:
        print(f"OutPerform API emulator at {srv.base_url}", file=sys.stderr)
        print(f"  client id:     {client_id}", file=sys.stderr)
        shown = "(from OUTPERFORM_CLIENT_SECRET)" if secret else DEFAULT_CLIENT_SECRET
        print(f"  client secret: {shown}", file=sys.stderr)
        print(f"  controls:      {srv.root_url}/_sandbox/stats  (Ctrl-C to stop)", file=sys.stderr)
        with suppress(KeyboardInterrupt):
            srv.wait()
    return 0


async def _check(api_settings: ApiSettings) -> None:
    from .api.client import OutPerformClient

    # A stored refresh token would hide a wrong secret: check logs in afresh.
    async with OutPerformClient(api_settings, persist_tokens=False) as api:
        await api.check()
        expiry = api.tokens.expires_at
        print(f"credentials OK for client {api_settings.client_id} at {api_settings.base_url}")
        print(f"access token valid until {expiry.isoformat() if expiry else 'unknown'}")


async def _serve(args: argparse.Namespace, api_settings: ApiSettings, srv: ServerSettings) -> None:
    from .server.app import Selection, build_server
    from .server.http import is_loopback
    from .server.runtime import open_deps, serve_http, serve_stdio

    if args.http and srv.mcp_token is None and not is_loopback(args.host):
        raise SettingsProblem(
            f"refusing to serve HTTP on {args.host} without a bearer token: set OUTPERFORM_MCP_TOKEN, "
            "or listen on 127.0.0.1"
        )
    selection = Selection(args.toolsets, args.tools, args.exclude_tools, args.read_only)
    inbox = InboxSettings()
    if args.sandbox:  # the emulator's /_sandbox/inbound then reaches this server's webhook receiver
        from .server.webhook import connect_sandbox

        inbox = await connect_sandbox(api_settings, srv, inbox, http=(args.host, args.port) if args.http else None)
    async with open_deps(api_settings, srv, inbox) as deps:
        server = build_server(deps, selection, srv.prompts_dir)
        if args.http:
            await serve_http(server, deps, args.host, args.port)
        else:
            await serve_stdio(server, deps)


def _run(fn: Callable[..., Awaitable[None]], *args: Any) -> None:
    # uvloop where it is installed (less CPU per call); the standard asyncio loop elsewhere.
    anyio.run(fn, *args, backend_options={"use_uvloop": importlib.util.find_spec("uvloop") is not None})


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "sandbox":
            return run_sandbox(args)
        if args.sandbox:  # send previews render the emulator's own template bodies
            os.environ.setdefault(
                "OUTPERFORM_TEMPLATES_FILE", os.path.join(os.path.dirname(__file__), "sandbox", "templates.json")
            )
        api_settings, srv = load_settings(sandbox=args.sandbox)
        if args.command == "check":
            if args.sandbox:
                with sandbox_api(api_settings) as sb:
                    _run(_check, sb)
            else:
                _run(_check, api_settings)
            return 0
        if args.sandbox:
            with sandbox_api(api_settings) as sb:
                _run(_serve, args, sb, srv)
        else:
            _run(_serve, args, api_settings, srv)
        return 0
    except (Exception, KeyboardInterrupt) as exc:
        return _report(exc)


def _report(exc: BaseException) -> int:
    """Exit code and one clear line for the failures a user can fix; anything else is a bug."""
    from .server.prompts import PromptFileError
    from .server.registry import SelectionError
    from .server.runtime import ListenError

    # Errors raised inside the server's task groups arrive wrapped in exception groups.
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, SettingsProblem | PromptFileError | SelectionError | ListenError):
        print(f"outperform-mcp: cannot start: {exc}", file=sys.stderr)
        return 2
    if isinstance(exc, OutPerformError):
        print(f"outperform-mcp: {exc}", file=sys.stderr)
        return 1
    raise exc


def entry() -> NoReturn:
    """The process entry point: ``main``, then exit without the interpreter's teardown.

    Every resource is closed by then (context managers), and tearing down the modules and objects
    of a finished server took longer than the whole exit of a bare MCPServer (bench/startup.py):
    hosts wait for that exit after closing stdin. An unexpected exception still raises normally.
    """
    code = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # the host may have closed the pipe already
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
