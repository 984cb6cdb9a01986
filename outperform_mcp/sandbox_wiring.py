"""``--sandbox`` and ``outperform-mcp sandbox``: the emulator wired in from outside the server.

The only module of the package that imports ``outperform_mcp.sandbox`` (lazily, so a normal run
never loads the emulator). It starts the emulator, derives the run's settings from the loaded
ones with ``model_copy`` (API pointed at the emulator, previews from its template catalogue, a
webhook secret for this run) and tells the emulator where this server's webhook receiver is.
"""

from __future__ import annotations

import logging
import secrets
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from .inbox.webhook import WEBHOOK_PATH
from .settings import ApiSettings, Settings, default_data_dir

if TYPE_CHECKING:
    from .sandbox.app import Emulator

log = logging.getLogger(__name__)


def _emulator(api: ApiSettings) -> tuple[Emulator, str, str]:
    """A fresh emulator accepting the configured credentials, else the sandbox's own; and those."""
    from .sandbox.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_emulator

    client_id = api.client_id or DEFAULT_CLIENT_ID
    secret = api.client_secret.get_secret_value() if api.client_secret else DEFAULT_CLIENT_SECRET
    return create_emulator(client_id=client_id, client_secret=secret), client_id, secret


@contextmanager
def sandbox_settings(settings: Settings, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[Settings]:
    """Start the emulator in this process; yield the settings pointed at it."""
    from .sandbox.runner import EmulatorServer
    from .sandbox.templates import TEMPLATES_PATH

    api = settings.api
    emulator, client_id, secret = _emulator(api)
    with EmulatorServer(emulator, host=host, port=port) as srv, ExitStack() as stack:
        # A freshly seeded emulator gets a fresh journal and inbox: sends, opt-outs and approvals of
        # an earlier sandbox run would not match it. OUTPERFORM_DATA_DIR keeps one on purpose.
        if api.data_dir != default_data_dir():  # OUTPERFORM_DATA_DIR was set
            data_dir = api.data_dir / "sandbox"
            forget_mirror(data_dir)
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="outperform-sandbox-")))
        log.info("sandbox data folder: %s", data_dir)
        sandboxed = api.model_copy(
            update={
                "base_url": srv.base_url.rstrip("/") + "/",
                "client_id": client_id,
                "client_secret": api.client_secret or SecretStr(secret),
                "instance_id": api.instance_id or "sandbox-instance",
                "data_dir": data_dir,
            }
        )
        guard = settings.guard
        if guard.templates_file is None:  # send previews render the emulator's own template bodies
            guard = guard.model_copy(update={"templates_file": TEMPLATES_PATH})
        yield settings.model_copy(update={"api": sandboxed, "guard": guard})


def forget_mirror(data_dir: Path) -> None:
    """The emulator is seeded afresh on every run (its clock moves on), so a mirror kept in a
    sandbox data folder from an earlier run would hold the same messages at other times: start it
    empty (the journal and inbox stay, as that folder is kept on purpose)."""
    from .store import mirror
    from .store.db import SqliteStore

    if not (data_dir / "outperform.db").exists():
        return
    store = SqliteStore(data_dir / "outperform.db")
    try:
        store.call(mirror.reset)
    finally:
        store.close()


def run_emulator(settings: Settings, host: str, port: int) -> int:
    """``outperform-mcp sandbox``: only the emulator, until Ctrl-C."""
    from .sandbox.runner import EmulatorServer
    from .server.runtime import ListenError

    emulator, client_id, secret = _emulator(settings.api)
    srv = EmulatorServer(emulator, host=host, port=port)
    try:
        srv.start()
    except OSError as exc:  # a taken port: the same one clear line as the server's
        raise ListenError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): choose another --port") from None
    try:
        print(f"OutPerform API emulator at {srv.base_url}", file=sys.stderr)
        print(f"  client id:     {client_id}", file=sys.stderr)
        shown = "(from OUTPERFORM_CLIENT_SECRET)" if settings.api.client_secret else secret
        print(f"  client secret: {shown}", file=sys.stderr)
        print(f"  controls:      {srv.root_url}/_sandbox/stats  (Ctrl-C to stop)", file=sys.stderr)
        with suppress(KeyboardInterrupt):
            srv.wait()
    finally:
        srv.stop()
    return 0


async def connect_webhook(settings: Settings, *, http: tuple[str, int] | None) -> Settings:
    """Tell the emulator to deliver ``/_sandbox/inbound`` messages to this server's receiver.

    Without a configured secret a random one is made for this run. In stdio mode a port is chosen
    now (if none is set) so the receiver's URL is known before the side listener starts. The secret
    travels in the emulator's ``X-Webhook-Secret`` header, so it is in no URL and no log.
    """
    import httpx2

    from .sandbox.operations import BASE_PATH

    inbox, server = settings.inbox, settings.server
    if inbox.webhook_secret is None:
        inbox = inbox.model_copy(update={"webhook_secret": SecretStr(secrets.token_urlsafe(32))})
    assert inbox.webhook_secret is not None
    if http is not None:
        host, port = http
    else:
        host = server.listen_host
        if server.listen_port == 0:
            with socket.socket() as sock:
                sock.bind((host, 0))
                server = server.model_copy(update={"listen_port": int(sock.getsockname()[1])})
        port = server.listen_port
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - listening everywhere; the emulator calls loopback
        host = "127.0.0.1"
    root = settings.api.base_url.split(BASE_PATH)[0].rstrip("/")
    receiver = f"http://{host}:{port}{WEBHOOK_PATH}"
    async with httpx2.AsyncClient(timeout=5) as client:
        response = await client.post(
            f"{root}/_sandbox/config",
            json={"webhook_url": receiver, "webhook_secret": inbox.webhook_secret.get_secret_value()},
        )
        response.raise_for_status()
    log.info("sandbox: POST %s/_sandbox/inbound delivers a customer message to %s", root, receiver)
    return settings.model_copy(update={"inbox": inbox, "server": server})
