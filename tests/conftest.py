"""Shared fixtures: a live OutPerform emulator on a loopback port, and a webhook sink.

- `emulator`: a running `EmulatorServer` (attributes `base_url`, `root_url`, `client_id`,
  `client_secret`, `emulator`), fully reset before each test. One uvicorn server is
  shared by the session because starting/stopping one costs ~100 ms.
- `make_emulator(**create_emulator_kwargs)`: a dedicated server with custom settings.
- `auth_headers`: `{"Authorization": "Bearer …"}` for the `emulator` fixture.
- `webhook_receiver`: a tiny HTTP server recording the POSTs it receives.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from outperform_mcp.sandbox import EmulatorServer, create_emulator

from .loopback import CA


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything imported and collected so far lives as long as the run: moved out of the garbage
    collector's sight, so its full collections scan only what tests make. They scanned a heap of
    imported modules dozens of times per worker, about 4 s of CPU each."""
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def hermetic_settings(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A developer's OUTPERFORM_* variables or .env must not change what the tests see."""
    for name in [n for n in os.environ if n.startswith("OUTPERFORM_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(scope="session")
def _shared_emulator_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(create_emulator()) as server:
        yield server


@pytest.fixture
def emulator(_shared_emulator_server: EmulatorServer) -> EmulatorServer:
    _shared_emulator_server.reset(full=True)
    return _shared_emulator_server


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., EmulatorServer]]:
    servers: list[EmulatorServer] = []

    def make(**kwargs: Any) -> EmulatorServer:
        server = EmulatorServer(create_emulator(**kwargs)).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def fetch_access_token(server: EmulatorServer) -> str:
    with httpx.Client(verify=CA, base_url=server.base_url) as client:
        login = client.get(
            "/oauth_login", params={"client_id": server.client_id, "client_secret": server.client_secret}
        )
        login.raise_for_status()
        access = client.get(
            "/oauth_access", params={"client_id": server.client_id, "refresh_token": login.json()["refresh_token"]}
        )
        access.raise_for_status()
        token: str = access.json()["access_token"]
        return token


@pytest.fixture
def auth_headers(emulator: EmulatorServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {fetch_access_token(emulator)}"}


@dataclass
class ReceivedWebhook:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class WebhookReceiver:
    url: str
    received: list[ReceivedWebhook] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            receiver.received.append(
                ReceivedWebhook(self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw or b"null"))
            )
            if receiver.delay:
                time.sleep(receiver.delay)
            body = b'{"status":"ok"}'
            self.send_response(receiver.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{httpd.server_address[1]}/hooks/outperform"
    # A short poll interval keeps shutdown() (and so fixture teardown) fast.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield receiver
    httpd.shutdown()
    httpd.server_close()
