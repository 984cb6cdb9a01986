"""Command line: argument parsing and wiring only."""

from __future__ import annotations

import argparse
import gc
import importlib.util
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, NoReturn

import anyio

from . import __version__, logs
from .api.errors import OutPerformError
from .problems import StartProblem
from .settings import ApiSettings, Settings, SettingsProblem, load

log = logging.getLogger("outperform_mcp")


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
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="HTTP: serve with N processes on one port (N > 1 needs OUTPERFORM_DATABASE_URL)",
    )
    p.add_argument("--sandbox", action="store_true", help="run against a built-in emulator with seeded data")
    p.add_argument("--toolsets", type=_csv, default=(), help="comma-separated toolsets to enable")
    p.add_argument("--tools", type=_csv, default=(), help="comma-separated tools to expose (allow-list)")
    p.add_argument("--exclude-tools", type=_csv, default=(), help="comma-separated tools to hide")
    p.add_argument("--read-only", action="store_true", help="hide every tool that changes anything")
    p.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="this server's log level (default INFO; libraries log warnings only, except at DEBUG)",
    )
    sub = p.add_subparsers(dest="command")
    sb = sub.add_parser("sandbox", help="run only the OutPerform API emulator")
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--port", type=int, default=8900)
    sub.add_parser("check", help="verify the credentials and print the access token's expiry")
    sy = sub.add_parser("sync", help="fill (or refresh) the local mirror now, with progress on stderr; resumable")
    sy.add_argument("--full", action="store_true", help="forget the mirror and read the whole account again")
    return p


async def _check(api_settings: ApiSettings) -> None:
    from .api.client import OutPerformClient

    # A stored refresh token would hide a wrong secret: check logs in afresh.
    async with OutPerformClient(api_settings, persist_tokens=False) as api:
        await api.check()
        expiry = api.tokens.expires_at
        print(f"credentials OK for client {api_settings.client_id} at {api_settings.base_url}")
        print(f"access token valid until {expiry.isoformat() if expiry else 'unknown'}")


async def _sync(settings: Settings, full: bool) -> None:
    from .api.client import OutPerformClient
    from .mirror.sync import Mirror
    from .store.db import open_store
    from .store.optout import OptOutRules

    tty = sys.stderr.isatty()

    async def progress(kind: str, pages: int, stored: int) -> None:
        line = f"sync {kind}: page {pages}, {stored:,} stored"
        print(f"\r{line:<60}" if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)

    store = open_store(settings.store.url, settings.api.data_dir, lock_timeout=settings.store.lock_timeout)
    try:
        if full:  # contacts are refreshed newest first, so an edited older contact needs this
            from .store import mirror

            store.call(mirror.reset)
        async with OutPerformClient(settings.api) as api:
            rules = OptOutRules(settings.guard.opt_out_phrases)
            engine = Mirror(api, store, settings.mirror, opt_out=rules, lease_ttl=settings.store.lease_seconds)
            report = await engine.sync(progress=progress)
    finally:
        store.close()
    if tty:
        print(file=sys.stderr)
    calls = sum(report.calls.values())
    stored = ", ".join(f"{kind} {n:,}" for kind, n in report.stored.items())
    print(f"mirror synced in {report.seconds:.1f} s with {calls} API calls: {stored}", file=sys.stderr)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _serve(args: argparse.Namespace, settings: Settings, sock: socket.socket | None = None) -> None:
    # Refused before the server's imports: saying so takes 0.2 s instead of a second.
    if args.http and settings.server.mcp_token is None and not is_loopback(args.host):
        raise SettingsProblem(
            f"refusing to serve HTTP on {args.host} without a bearer token: set OUTPERFORM_MCP_TOKEN, "
            "or listen on 127.0.0.1"
        )
    # Start-up makes a great many objects that live as long as the process (the SDK's protocol
    # models, ours), and the collector scanned them again and again while they were made: about
    # 60 ms of a 650 ms start (gc.callbacks). Off until the server is built; then what exists is
    # frozen out of every later collection, and collection resumes for what serving makes.
    gc.disable()
    try:
        from .server.app import Selection, build_server
        from .server.runtime import open_deps, serve_http, serve_stdio

        selection = Selection(args.toolsets, args.tools, args.exclude_tools, args.read_only)
        if args.sandbox:  # the emulator's /_sandbox/inbound then reaches this server's webhook receiver
            from .sandbox_wiring import connect_webhook

            settings = await connect_webhook(settings, http=(args.host, args.port) if args.http else None)
        async with open_deps(settings) as deps:
            server = build_server(deps, selection, settings.server.prompts_dir)
            gc.freeze()
            gc.enable()
            if args.http:
                await serve_http(server, deps, args.host, args.port, sock=sock)
            else:
                await serve_stdio(server, deps)
    finally:
        gc.enable()


@contextmanager
def _target(settings: Settings, sandbox: bool) -> Iterator[Settings]:
    """The settings to run with: as loaded, or pointed at an emulator started for this run."""
    if not sandbox:
        yield settings
        return
    from .sandbox_wiring import sandbox_settings

    with sandbox_settings(settings) as sandboxed:
        yield sandboxed


def _workers_problem(args: argparse.Namespace, settings: Settings) -> str | None:
    if args.workers < 1:
        return f"--workers must be 1 or more, not {args.workers}"
    if args.workers == 1:
        return None
    if not args.http:
        return "--workers needs --http (a stdio server is one process for one client)"
    if args.sandbox:
        return (
            "--workers cannot run the in-process emulator; start it apart (outperform-mcp sandbox) and point "
            "OUTPERFORM_BASE_URL at it"
        )
    if settings.store.url is None:
        return (
            f"--workers {args.workers} needs OUTPERFORM_DATABASE_URL (a PostgreSQL database the processes share); "
            "the embedded SQLite store serves one process"
        )
    return None


def _serve_workers(args: argparse.Namespace, settings: Settings) -> int:
    from .server.runtime import check_store, listen
    from .server.workers import supervise

    check_store(settings)  # one clear error here, and the schema migrated once, before any worker starts
    sock = listen(args.host, args.port)

    def work(shared: socket.socket) -> int:
        try:
            _run(_serve, args, settings, shared)
            return 0
        except (Exception, KeyboardInterrupt) as exc:
            return _report(exc)

    return supervise(args.workers, work, sock)


def _run(fn: Callable[..., Awaitable[None]], *args: Any) -> None:
    # uvloop where it is installed (less CPU per call); the standard asyncio loop elsewhere.
    anyio.run(fn, *args, backend_options={"use_uvloop": importlib.util.find_spec("uvloop") is not None})


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # Routine lines of this server are INFO; libraries stay at WARNING (their INFO lines can carry
    # request URLs) unless DEBUG is asked for. Every line passes the secret filter.
    logs.configure("DEBUG" if args.log_level == "DEBUG" else "WARNING", sys.stderr)
    log.setLevel(args.log_level)
    try:
        if not 1 <= args.port <= 65535:
            raise SettingsProblem(f"--port must be between 1 and 65535, not {args.port}")
        if args.command == "sandbox":
            from .sandbox_wiring import run_emulator

            return run_emulator(load(sandbox=True), args.host, args.port)
        settings = load(sandbox=args.sandbox)
        problem = _workers_problem(args, settings)
        if problem:
            raise SettingsProblem(problem)
        if args.workers > 1:
            return _serve_workers(args, settings)
        with _target(settings, args.sandbox) as target:
            if args.command == "check":
                _run(_check, target.api)
            elif args.command == "sync":
                _run(_sync, target, args.full)
            else:
                _run(_serve, args, target)
        return 0
    except (Exception, KeyboardInterrupt) as exc:
        return _report(exc)


def _report(exc: BaseException) -> int:
    """Exit code and one clear line for the failures a user can fix; anything else is a bug."""
    # Errors raised inside the server's task groups arrive wrapped in exception groups.
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, StartProblem):
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
