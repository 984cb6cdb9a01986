"""Approval through the approval page: a client with no form elicitation gets a link (or a URL-mode
elicitation), and the test plays the human over real HTTP. Forged, replayed and expired decisions
send nothing; customer-written names are escaped."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp.types as types
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.session import ClientRequestContext, ClientSession

from .guard_harness import BROWSER, MODES, decide, guarded, http_app, open_page, people, sent
from .loopback import CA
from .support import Clock, call

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", MODES)
async def test_client_without_elicitation_approves_through_the_page(emulator: Any, tmp_path: Path, mode: str) -> None:
    p = people(emulator)
    async with (  # Streamable HTTP, no elicitation callback
        guarded(emulator, tmp_path) as (server, deps),
        http_app(server, deps) as base,
        Client(f"{base}/mcp", mode=mode) as c,
    ):
        out = await call(c, "send_message", {"token": p.daniel, "text": "See you at 3pm <b>sharp</b>"})
        assert out["status"] == "pending_approval"
        url = out["approval_url"]
        assert url.startswith(f"{base}/approvals/")
        assert "Do not open the link yourself" in out["message"]
        assert sent(emulator) == []

        page, token = await open_page(url)
        assert page.status_code == 200
        assert token is not None
        assert "Daniel Lee" in page.text
        assert "+60129928376" in page.text
        assert "See you at 3pm &lt;b&gt;sharp&lt;/b&gt;" in page.text
        assert page.headers["referrer-policy"] == "same-origin"  # "no-referrer" makes Origin null
        assert sent(emulator) == []  # looking is not approving

        done = await decide(url, "approve", token)
        assert done.status_code == 200
        assert "Sent" in done.text
        status = await call(c, "list_sends", {"approval_id": out["approval_id"]})
        assert [i["status"] for i in status["items"]] == ["sent"]

        # After the decision the link is dead: no preview, and a replayed post changes nothing.
        assert (await open_page(url))[0].status_code == 410
        assert (await decide(url, "approve", token)).status_code == 410
    log = sent(emulator)
    assert [(r["prospect_token"], r["text"]) for r in log] == [(p.daniel, "See you at 3pm <b>sharp</b>")]


async def test_reject_on_the_page_sends_nothing(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with guarded(emulator, tmp_path) as (server, deps), http_app(server, deps), Client(server) as c:
        out = await call(c, "send_template", {"tokens": [p.aisha], "template": "holiday_greetings_v1"})
        _page, token = await open_page(out["approval_url"])
        assert token is not None
        done = await decide(out["approval_url"], "reject", token)
        assert "Rejected" in done.text
        status = await call(c, "list_sends", {"approval_id": out["approval_id"]})
    assert [i["status"] for i in status["items"]] == ["rejected"]
    assert sent(emulator) == []


async def test_forged_and_tampered_decisions_send_nothing(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with guarded(emulator, tmp_path) as (server, deps), http_app(server, deps) as base:
        async with Client(server) as c:
            out = await call(c, "send_message", {"token": p.daniel, "text": "Hello"})
        url = out["approval_url"]
        approval_id = out["approval_id"]
        _, token = await open_page(url)
        assert token is not None
        wrong_secret = f"{base}/approvals/{approval_id}/{'x' * 32}"
        assert (await open_page(wrong_secret))[0].status_code == 404
        assert (await decide(wrong_secret, "approve", token)).status_code in (404, 410)
        # A script (or a model's fetch tool) posting without a browser's headers is refused.
        assert (await decide(url, "approve", token, headers={})).status_code == 403
        cross_site = {**BROWSER, "Sec-Fetch-Site": "cross-site"}
        assert (await decide(url, "approve", token, headers=cross_site)).status_code == 403
        other_origin = {**BROWSER, "Origin": "http://evil.example"}
        assert (await decide(url, "approve", token, headers=other_origin)).status_code == 403
        assert (await decide(url, "approve", "0" * 64)).status_code in (403, 404, 410)
        async with httpx.AsyncClient(verify=CA) as http:
            assert (await http.get(f"{base}/approvals/{approval_id}")).status_code == 404
        # None of that decided anything: the real page still works.
        assert (await decide(url, "reject", token)).status_code == 200
    assert sent(emulator) == []


async def test_expired_link_is_dead(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    clock = Clock()
    async with (
        guarded(emulator, tmp_path, approval_ttl=60, clock=clock) as (server, deps),
        http_app(server, deps),
        Client(server) as c,
    ):
        out = await call(c, "send_message", {"token": p.daniel, "text": "Hello"})
        _, token = await open_page(out["approval_url"])
        assert token is not None
        clock.advance(61)
        assert (await open_page(out["approval_url"]))[0].status_code == 410
        assert (await decide(out["approval_url"], "approve", token)).status_code == 410
        status = await call(c, "list_sends", {"approval_id": out["approval_id"]})
    assert [i["status"] for i in status["items"]] == ["expired"]
    assert sent(emulator) == []


async def test_customer_written_names_are_escaped(emulator: Any, tmp_path: Path) -> None:
    async with guarded(emulator, tmp_path) as (server, deps), http_app(server, deps), Client(server) as c:
        evil = await call(c, "create_contact", {"name": '<script>alert("x")</script> Eve', "phone": "+60 19-000 1111"})
        out = await call(c, "send_template", {"tokens": [evil["token"]], "template": "holiday_greetings_v1"})
        page, _ = await open_page(out["approval_url"])
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Eve" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert sent(emulator) == []


@pytest.fixture
def url_only_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the SDK client declare URL-mode elicitation only (no form dialogs)."""
    original = ClientSession._build_capabilities

    def url_only(self: ClientSession, version: str) -> types.ClientCapabilities:
        caps = original(self, version)
        if caps.elicitation is not None:
            caps = caps.model_copy(
                update={"elicitation": types.ElicitationCapability(url=types.UrlElicitationCapability())}
            )
        return caps

    monkeypatch.setattr(ClientSession, "_build_capabilities", url_only)


@pytest.mark.usefixtures("url_only_client")
async def test_url_elicitation_handshake_era_reports_the_outcome(emulator: Any, tmp_path: Path) -> None:
    """The client shows the link to the human (the model never sees it); the tool waits and reports."""
    p = people(emulator)
    opened: list[str] = []

    async def human(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestURLParams)
        opened.append(params.url)

        async def approve_soon() -> None:  # after the callback returns: the tool is already waiting
            _, token = await open_page(params.url)
            assert token is not None
            await decide(params.url, "approve", token)

        context_tg.start_soon(approve_soon)
        return types.ElicitResult(action="accept")

    async with (
        guarded(emulator, tmp_path) as (server, deps),
        http_app(server, deps),
        anyio.create_task_group() as context_tg,
        Client(server, mode="legacy", elicitation_callback=human) as c,
    ):
        out = await call(c, "send_message", {"token": p.daniel, "text": "Hello via the page"})
    assert len(opened) == 1
    assert out["status"] == "sent"
    assert out.get("approval_url") is None
    assert [r["text"] for r in sent(emulator)] == ["Hello via the page"]


@pytest.mark.usefixtures("url_only_client")
async def test_url_elicitation_modern_era_then_retry_reports_without_resending(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)

    async def never(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        raise AssertionError("2026-07-28 URL elicitation travels as an error, not a request")

    args = {"token": p.daniel, "text": "Hello via the link"}
    async with (
        guarded(emulator, tmp_path) as (server, deps),
        http_app(server, deps),
        Client(server, mode="auto", elicitation_callback=never) as c,
    ):
        with pytest.raises(MCPError) as raised:
            await c.call_tool("send_message", args)
        assert raised.value.code == types.URL_ELICITATION_REQUIRED
        url = raised.value.data["elicitations"][0]["url"]
        assert sent(emulator) == []
        _, token = await open_page(url)
        assert token is not None
        assert (await decide(url, "approve", token)).status_code == 200
        again = await call(c, "send_message", args)  # the client retries after the human acted
    assert again["status"] == "sent"
    assert len(sent(emulator)) == 1


async def test_stdio_sandbox_serves_the_page_on_its_own_loopback_port(tmp_path: Path) -> None:
    """`outperform-mcp --sandbox` over stdio, with no account in the environment: it serves (the
    search), template previews use the sandbox catalogue, and the approval page lives on a loopback
    listener of the server's own. (It is also test_transports' stdio sandbox check: one process.)"""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "OUTPERFORM_DATA_DIR": str(tmp_path)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "outperform_mcp.cli", "--sandbox"], env=env)
    async with Client(params) as c:
        found = await call(c, "search_contacts", {"search": "Daniel Lee"})
        daniel = found["items"][0]["token"]
        dry = await call(
            c,
            "send_template",
            {"tokens": [daniel], "template": "reengagement_hello_v1", "params": ["Dan"], "dry_run": True},
        )
        assert dry["messages"][0]["text"].startswith("Hi Dan, it's been a while!")
        out = await call(c, "send_message", {"token": daniel, "text": "Hello from stdio"})
        assert out["status"] == "pending_approval"
        assert out["approval_url"].startswith("http://127.0.0.1:")
        _, token = await open_page(out["approval_url"])
        assert token is not None
        assert (await decide(out["approval_url"], "approve", token)).status_code == 200
        log = await call(c, "list_sends", {"approval_id": out["approval_id"]})
    assert [i["status"] for i in log["items"]] == ["sent"]
