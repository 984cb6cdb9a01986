"""The OutPerform API emulator in a process of its own, for benchmarks.

Run as a script it serves ``create_emulator().app`` on 127.0.0.1 and prints one line,
``READY <root_url> <client_id> <client_secret>``, once it accepts connections; it stops when
its standard input closes (so it never outlives the benchmark that started it).

It runs in its own process so that its CPU time never competes with the code being measured
for the GIL (``EmulatorServer`` runs it in a thread of the caller's process).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import uvicorn

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class EmulatorProcess:
    """Handle on a running emulator process: URLs, credentials and its ``/_sandbox`` controls."""

    root_url: str
    client_id: str
    client_secret: str
    proc: subprocess.Popen[str]
    http: httpx.Client

    @property
    def base_url(self) -> str:
        from outperform_mcp.sandbox.operations import BASE_PATH

        return f"{self.root_url}{BASE_PATH}/"

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, f"{self.root_url}/_sandbox/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, int]:
        return dict(self.control("GET", "stats")["requests"])

    def reset_stats(self) -> None:
        self.control("POST", "stats/reset")

    def latency(self, ms: int) -> None:
        if ms:
            self.control("POST", "faults", {"latency_ms": ms})
        else:
            self.control("DELETE", "faults")

    def token_lifetime(self, seconds: int) -> None:
        self.control("POST", "config", {"token_lifetime": seconds})

    def expire_tokens(self) -> None:
        self.control("POST", "expire_tokens")

    def access_token(self) -> str:
        """A fresh access token through the two OAuth steps (for the peer, which cannot log in)."""
        login = self.http.get(
            self.base_url + "oauth_login", params={"client_id": self.client_id, "client_secret": self.client_secret}
        ).json()
        grant = self.http.get(
            self.base_url + "oauth_access",
            params={"client_id": self.client_id, "refresh_token": login["refresh_token"]},
        ).json()
        return str(grant["access_token"])


@contextmanager
def running_emulator(*, contacts: int | None = None, messages: int | None = None) -> Iterator[EmulatorProcess]:
    """``contacts``/``messages`` seed a larger account (see ``create_emulator``)."""
    size = [*(["--contacts", str(contacts)] if contacts else []), *(["--messages", str(messages)] if messages else [])]
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "emulator.py"), *size],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) != 4 or line[0] != "READY":
            raise RuntimeError(f"emulator did not start: {line!r}")
        with httpx.Client(timeout=30) as http:
            yield EmulatorProcess(line[1], line[2], line[3], proc, http)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _serve(contacts: int | None, messages: int | None) -> None:
    from outperform_mcp.sandbox.app import create_emulator

    emulator = create_emulator(seed_contacts=contacts or 300, seed_messages=messages)
    config = uvicorn.Config(
        emulator.app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    stop = anyio.Event()

    def watch_stdin() -> None:
        sys.stdin.read()  # returns at EOF: the parent closed the pipe or exited
        anyio.from_thread.run_sync(stop.set, token=token)

    token = anyio.lowlevel.current_token()
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await anyio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(f"READY http://127.0.0.1:{port} {emulator.client_id} {emulator.client_secret}", flush=True)
        threading.Thread(target=watch_stdin, daemon=True).start()
        await stop.wait()
        server.should_exit = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=None, help="seed this many contacts (default 300)")
    parser.add_argument("--messages", type=int, default=None, help="grow the seed to this many messages")
    args = parser.parse_args()
    anyio.run(_serve, args.contacts, args.messages)


if __name__ == "__main__":
    main()
