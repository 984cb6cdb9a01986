"""Serving an Emulator over real HTTP: in a background thread, or in the caller's loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

import uvicorn

from .app import BASE_PATH, Emulator, create_emulator

T = TypeVar("T")


def _config(emulator: Emulator, host: str, port: int, log_level: str) -> uvicorn.Config:
    # No access log: OAuth calls carry the client secret in the query string.
    return uvicorn.Config(
        emulator.app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
    )


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket whose accepted connections get TCP_NODELAY.

    asyncio only sets TCP_NODELAY when the socket's proto is IPPROTO_TCP; uvicorn's own
    bind_socket() leaves proto 0, and Nagle + delayed ACK then adds ~40 ms to every
    keep-alive response (headers and body are written separately).
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """Uvicorn server that reports when it accepts connections (instead of polling `started`)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], object]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()


class EmulatorServer:
    """Uvicorn serving an Emulator from a daemon thread with its own event loop.

    ``with EmulatorServer(create_emulator(), port=0) as srv: httpx.get(srv.base_url + "/labels")``
    Port 0 picks a free port; `port`, `root_url` and `base_url` are valid once started.
    """

    def __init__(
        self,
        emulator: Emulator | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        startup_timeout: float = 10.0,
    ) -> None:
        self.emulator = emulator or create_emulator()
        self.host = host
        self.port = port
        self._log_level = log_level
        self._startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def client_id(self) -> str:
        return self.emulator.client_id

    @property
    def client_secret(self) -> str:
        return self.emulator.client_secret

    @property
    def root_url(self) -> str:
        return _url(self.host, self.port)

    @property
    def base_url(self) -> str:
        return self.root_url + BASE_PATH

    def start(self) -> EmulatorServer:
        config = _config(self.emulator, self.host, self.port, self._log_level)
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        started = threading.Event()
        server = _Server(config, started.set)
        self._server = server

        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            await server.serve(sockets=[sock])

        def run() -> None:
            try:
                asyncio.run(serve())
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name=f"outperform-emulator:{self.port}", daemon=True)
        self._thread.start()
        waited = 0.0
        while not started.wait(0.05):
            waited += 0.05
            if not self._thread.is_alive():
                raise RuntimeError("emulator server thread exited during startup")
            if waited >= self._startup_timeout:
                self.stop()
                raise TimeoutError(f"emulator did not start within {self._startup_timeout} s")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = self._loop = None

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C still interrupts: the join is sliced)."""
        thread = self._thread
        while thread is not None and thread.is_alive():
            thread.join(0.5)

    def in_flight(self) -> int:
        """Requests being handled right now (tests wait for a slow one to finish instead of sleeping)."""
        server = self._server
        return self.call(lambda: len(server.server_state.tasks)) if server is not None else 0

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server's loop, so it never interleaves with a request handler."""
        if self._loop is None:
            return fn()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(timeout=10)

    def reset(self, *, full: bool = True) -> None:
        self.call(lambda: self.emulator.reset(full=full))

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
