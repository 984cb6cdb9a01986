"""The typed API client against the emulator over loopback HTTP: every operation, errors, tokens, faults."""

from __future__ import annotations

import asyncio
import logging
import traceback
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from pydantic import SecretStr

from outperform_mcp.api import errors
from outperform_mcp.api.client import OutPerformClient
from outperform_mcp.api.models import NewContact
from outperform_mcp.settings import ApiSettings

from .inbox_harness import eventually
from .loopback import CA
from .support import Monotonic, api_settings, control

pytestmark = pytest.mark.anyio


def stats(emulator: Any) -> dict[str, int]:
    return dict(control(emulator, "GET", "stats")["requests"])


def fault(emulator: Any, operation: str, kind: str, count: int = 1, **extra: Any) -> None:
    control(emulator, "POST", "faults", {"rules": [{"operation": operation, "kind": kind, "count": count, **extra}]})


@pytest.fixture
def settings(emulator: Any, tmp_path: Path) -> ApiSettings:
    return api_settings(emulator, tmp_path)


async def token_of(emulator: Any, name: str) -> str:
    found = control(emulator, "GET", "stats")  # warm-up: emulator reachable
    assert found
    async with httpx.AsyncClient(verify=CA) as raw:
        login = (
            await raw.get(
                f"{emulator.base_url}/oauth_login",
                params={"client_id": emulator.client_id, "client_secret": emulator.client_secret},
            )
        ).json()
        grant = (
            await raw.get(
                f"{emulator.base_url}/oauth_access",
                params={"refresh_token": login["refresh_token"], "client_id": emulator.client_id},
            )
        ).json()
        page = (
            await raw.get(
                f"{emulator.base_url}/contacts",
                params={"search": name},
                headers={"Authorization": f"Bearer {grant['access_token']}"},
            )
        ).json()
    return str(page["data"][0]["prospect_token"])


async def test_every_read_operation(settings: ApiSettings) -> None:
    async with OutPerformClient(settings) as api:
        page = await api.list_contacts(limit=25)
        assert len(page.items) == 25
        assert page.total is not None
        assert page.total > 200
        assert page.has_more
        second = await api.list_contacts(limit=25, page=2)
        assert {c.token for c in page.items}.isdisjoint({c.token for c in second.items})

        daniel = (await api.list_contacts(search="Daniel Lee")).items[0]
        assert daniel.phone.isdigit()
        assert daniel.created_at is not None
        assert daniel.created_at.tzinfo is not None

        labels = await api.list_labels()
        assert {"lead", "opt-out"} <= {label.name for label in labels}
        labelled = await api.list_contacts(label="opt-out", limit=100)
        assert labelled.items
        assert all("opt-out" in c.labels for c in labelled.items)

        threads = await api.list_conversations(prospect_token=daniel.token)
        assert len(threads) == 1
        messages = threads[0].messages
        assert messages == sorted(messages, key=lambda m: m.timestamp)
        assert {m.direction for m in messages} <= {"inbound", "outbound"}

        recent = await api.list_conversations(start_date=date.today() - timedelta(days=2), limit=50)
        assert recent
        cutoff = date.today() - timedelta(days=2)
        assert all(m.timestamp.date() >= cutoff for conv in recent for m in conv.messages)

        bots = await api.list_chatbot_conversations(sentiment="negative", concluded=False, limit=50)
        assert bots
        assert all(b.sentiment == "negative" and not b.concluded for b in bots)

        assert (await api.get_contact(daniel.token)) == daniel
        assert await api.get_contact("0" * 32) is None


async def test_create_contact_and_duplicate(settings: ApiSettings) -> None:
    async with OutPerformClient(settings) as api:
        created = await api.create_contact(
            NewContact(name="Test Person", phone="60199990001", email="t@example.com", labels=["lead"])
        )
        assert created.token
        assert created.phone == "60199990001"
        with pytest.raises(errors.DuplicateRecord) as info:
            await api.create_contact(NewContact(name="Again", phone="60199990001"))
        assert "already exists" in str(info.value)


async def test_sends_and_their_errors(settings: ApiSettings, emulator: Any) -> None:
    daniel = await token_of(emulator, "Daniel Lee")
    aisha = await token_of(emulator, "Aisha Rahman")
    async with OutPerformClient(settings) as api:
        sent = await api.send_session_message(daniel, "Hello Daniel")
        assert sent.message_id
        with pytest.raises(errors.SessionWindowClosed) as closed:
            await api.send_session_message(aisha, "Hello Aisha")
        assert "template" in str(closed.value)
        ok = await api.send_template_message(aisha, "event_qr_code_canceled_v3", ["Aisha", "0129928376", "rain"])
        assert ok.message_id
        with pytest.raises(errors.InvalidTemplate):
            await api.send_template_message(aisha, "no_such_template", [])
        with pytest.raises(errors.InvalidTemplate) as count:
            await api.send_template_message(aisha, "event_qr_code_canceled_v3", ["only one"])
        assert "parameters" in str(count.value)
        with pytest.raises(errors.BadRequest):
            await api.send_template_message(aisha, "event_qr_code_canceled_v3", ["a|b", "c", "d"])
    sent_log = control(emulator, "GET", "sent")["data"]
    assert [s["message_id"] for s in sent_log] == [sent.message_id, ok.message_id]


async def test_wrong_credentials(settings: ApiSettings) -> None:
    bad = settings.model_copy(update={"client_secret": SecretStr("wrong-secret-value")})
    async with OutPerformClient(bad) as api:
        with pytest.raises(errors.Unauthorized) as info:
            await api.list_labels()
    assert "wrong-secret-value" not in str(info.value)
    assert "OUTPERFORM_CLIENT_SECRET" in str(info.value)


async def test_missing_settings_are_named() -> None:
    with pytest.raises(errors.ConfigurationError) as info:
        OutPerformClient(ApiSettings(client_id=None, client_secret=None))
    assert "OUTPERFORM_CLIENT_ID" in str(info.value)
    assert "OUTPERFORM_CLIENT_SECRET" in str(info.value)


async def test_expired_token_mid_run_refreshes_once(settings: ApiSettings, emulator: Any) -> None:
    async with OutPerformClient(settings) as api:
        await api.list_labels()
        control(emulator, "POST", "expire_tokens")
        before = stats(emulator).get("oauth_access", 0)
        await api.list_labels()  # 403 invalid token -> refresh -> replay
        assert stats(emulator)["oauth_access"] == before + 1


async def test_rotation_old_refresh_token_dies(settings: ApiSettings, emulator: Any) -> None:
    """Each refresh rotates the refresh token and kills the old one, so the client must keep the
    newest: refreshing twice in a row never falls back to logging in again."""
    async with httpx.AsyncClient(verify=CA) as raw:  # the emulator rotates like the API
        base = emulator.base_url
        login = (
            await raw.get(
                f"{base}/oauth_login",
                params={"client_id": emulator.client_id, "client_secret": emulator.client_secret},
            )
        ).json()
        first = await raw.get(
            f"{base}/oauth_access", params={"refresh_token": login["refresh_token"], "client_id": emulator.client_id}
        )
        assert first.status_code == 200
        assert first.json()["refresh_token"] != login["refresh_token"]
        again = await raw.get(
            f"{base}/oauth_access", params={"refresh_token": login["refresh_token"], "client_id": emulator.client_id}
        )
        assert again.status_code == 401

    async with OutPerformClient(settings) as api:
        await api.list_labels()
        control(emulator, "POST", "stats/reset")
        refresh_tokens = set()
        for _ in range(3):
            control(emulator, "POST", "expire_tokens")
            await api.list_labels()
            refresh_tokens.add(api.tokens.secrets()[-1])
    counts = stats(emulator)
    assert counts.get("oauth_login", 0) == 0  # every refresh used the live (newest) refresh token
    assert counts["oauth_access"] == 3
    assert len(refresh_tokens) == 3


async def test_revoked_refresh_token_logs_in_again(settings: ApiSettings, emulator: Any) -> None:
    async with OutPerformClient(settings) as api:
        await api.list_labels()
        control(emulator, "POST", "revoke_refresh_tokens")
        control(emulator, "POST", "expire_tokens")
        logins = stats(emulator).get("oauth_login", 0)
        await api.list_labels()
        assert stats(emulator)["oauth_login"] == logins + 1


async def test_refresh_ahead_of_expiry(settings: ApiSettings, emulator: Any) -> None:
    control(emulator, "POST", "config", {"token_lifetime": 100})
    clock = Monotonic()
    async with OutPerformClient(settings, clock=clock) as api:
        await api.list_labels()
        control(emulator, "POST", "stats/reset")
        clock.advance(79)  # before the refresh point (lifetime - lifetime/5): the token is reused
        await api.list_labels()
        assert stats(emulator).get("oauth_access", 0) == 0
        clock.advance(2)  # past the refresh point, well before the API would refuse the token
        await api.list_labels()
        counts = stats(emulator)
        # Refreshed before the call, so the API never refused a token.
        assert counts.get("oauth_access") == 1
        assert counts.get("list_labels") == 2


async def test_200_concurrent_calls_at_expiry_one_refresh(settings: ApiSettings, emulator: Any) -> None:
    async with OutPerformClient(settings) as api:
        await api.list_labels()
        control(emulator, "POST", "expire_tokens")
        control(emulator, "POST", "stats/reset")
        failures: list[BaseException] = []

        async def one() -> None:
            try:
                await api.list_contacts(limit=5)
            except Exception as exc:
                failures.append(exc)

        async with anyio.create_task_group() as tg:
            for _ in range(200):
                tg.start_soon(one)
    assert failures == []
    assert stats(emulator)["oauth_access"] == 1


async def test_persisted_refresh_token_survives_restart(settings: ApiSettings, emulator: Any) -> None:
    persisted = settings.model_copy(update={"persist_refresh_token": True})
    async with OutPerformClient(persisted) as api:
        await api.list_labels()
    path = settings.data_dir / "refresh_token.json"
    assert path.stat().st_mode & 0o777 == 0o600
    control(emulator, "POST", "stats/reset")
    async with OutPerformClient(persisted) as api:
        await api.list_labels()
    assert stats(emulator).get("oauth_login", 0) == 0


class Backoff:
    """Records the waits between read attempts instead of sleeping through them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.mark.parametrize("kind", ["429", "500", "503", "malformed", "drop"])
async def test_reads_retry_transient_faults(settings: ApiSettings, emulator: Any, kind: str) -> None:
    backoff = Backoff()
    async with OutPerformClient(settings, sleep=backoff) as api:
        await api.list_labels()
        fault(emulator, "list_labels", kind, count=2, retry_after=2.5)
        control(emulator, "POST", "stats/reset")
        labels = await api.list_labels()
        assert labels
        assert stats(emulator)["list_labels"] == 3
    assert len(backoff.waits) == 2
    assert all(0 < wait <= settings.retry_max_seconds for wait in backoff.waits)
    if kind == "429":
        assert backoff.waits == [2.5, 2.5]  # Retry-After honoured (above the backoff's own wait)
    else:
        assert max(backoff.waits) < 2.5


async def test_reads_give_up_with_a_typed_error(settings: ApiSettings, emulator: Any) -> None:
    backoff = Backoff()
    async with OutPerformClient(settings, sleep=backoff) as api:
        await api.list_labels()
        fault(emulator, "list_labels", "503", count=20)
        control(emulator, "POST", "stats/reset")
        with pytest.raises(errors.UpstreamUnavailable) as info:
            await api.list_labels()
        assert "try again" in str(info.value)
        assert stats(emulator)["list_labels"] == settings.retry_attempts
    assert len(backoff.waits) == settings.retry_attempts - 1


async def test_send_dropped_after_write_is_unknown_and_not_repeated(settings: ApiSettings, emulator: Any) -> None:
    daniel = await token_of(emulator, "Daniel Lee")
    async with OutPerformClient(settings) as api:
        fault(emulator, "send_message", "drop_after_write")
        with pytest.raises(errors.SendOutcomeUnknown) as info:
            await api.send_session_message(daniel, "Only once")
        assert "check the conversation" in str(info.value)
    sent = [s for s in control(emulator, "GET", "sent")["data"] if s["text"] == "Only once"]
    assert len(sent) == 1
    assert stats(emulator)["send_message"] == 1


@pytest.mark.parametrize(("kind", "error"), [("drop", errors.SendOutcomeUnknown), ("429", errors.RateLimited)])
async def test_sends_are_never_retried(settings: ApiSettings, emulator: Any, kind: str, error: type[Exception]) -> None:
    daniel = await token_of(emulator, "Daniel Lee")
    async with OutPerformClient(settings) as api:
        await api.list_labels()
        fault(emulator, "send_message", kind, retry_after=1)
        control(emulator, "POST", "stats/reset")
        with pytest.raises(error):
            await api.send_session_message(daniel, "No retry")
    assert stats(emulator)["send_message"] == 1


async def test_send_with_stale_token_is_replayed_once_safely(settings: ApiSettings, emulator: Any) -> None:
    daniel = await token_of(emulator, "Daniel Lee")
    async with OutPerformClient(settings) as api:
        await api.list_labels()
        control(emulator, "POST", "expire_tokens")
        await api.send_session_message(daniel, "After refresh")
    sent = [s for s in control(emulator, "GET", "sent")["data"] if s["text"] == "After refresh"]
    assert len(sent) == 1


def shown(exc: BaseException) -> str:
    """Everything an error can put in front of someone: its text, args and whole traceback chain."""
    return "".join(traceback.format_exception(exc)) + repr(exc) + repr(exc.args)


@pytest.mark.parametrize(
    ("operation", "kind"),
    [("oauth_login", "500"), ("oauth_login", "drop"), ("oauth_access", "malformed"), ("list_labels", "503")],
)
async def test_no_secret_in_repr_or_errors(settings: ApiSettings, emulator: Any, operation: str, kind: str) -> None:
    """Each failing step of the token dance (the client secret and the refresh token travel in query
    strings) ends in an error that names no secret, neither in its text nor in its chained causes."""
    async with OutPerformClient(settings.model_copy(update={"retry_attempts": 1})) as api:
        await api.list_labels()
        held = set(api.tokens.secrets())
        assert len(held) == 3  # client secret, access token, refresh token
        control(emulator, "POST", "expire_tokens")
        if operation == "oauth_login":
            control(emulator, "POST", "revoke_refresh_tokens")
        fault(emulator, operation, kind)
        with pytest.raises(errors.OutPerformError) as info:
            await api.list_labels()
        held |= set(api.tokens.secrets())
        text = repr(api.tokens) + repr(settings) + shown(info.value)
    assert operation.removeprefix("list_") in str(info.value)  # the error still says which step failed
    for secret in held:
        assert secret not in text


async def test_wrong_secret_is_not_echoed(settings: ApiSettings) -> None:
    wrong = settings.model_copy(update={"client_secret": SecretStr("wrong-secret-0123456789")})
    async with OutPerformClient(wrong) as api:
        with pytest.raises(errors.OutPerformError) as info:
            await api.list_labels()
    assert "wrong-secret-0123456789" not in shown(info.value)


async def test_error_text_is_scrubbed_of_held_secrets(settings: ApiSettings) -> None:
    """An API that echoes a token back in its error text does not get it into ours."""
    async with OutPerformClient(settings) as api:
        await api.list_labels()
        for secret in api.tokens.secrets():
            scrubbed = api._scrub(errors.BadRequest(f"list_labels: token {secret} is not valid"))
            assert secret not in shown(scrubbed)
            assert "***" in str(scrubbed)


async def test_secrets_never_reach_the_logs(
    settings: ApiSettings, emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with OutPerformClient(settings) as api:
        await api.list_labels()  # oauth_login carries the client secret in its query string
        control(emulator, "POST", "expire_tokens")
        await api.list_labels()
        held = api.tokens.secrets()
    assert emulator.client_secret in held
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records
    for secret in held:
        assert secret not in text


async def test_send_waiting_for_a_pooled_connection_is_not_sent(emulator: Any, tmp_path: Path) -> None:
    # One connection, held by a slow read: the send gives up waiting for it before anything is
    # written, so it is reported as not sent (safe to try again), not as an unknown outcome.
    settings = api_settings(emulator, tmp_path, max_connections=1, connect_timeout=0.3)
    daniel = await token_of(emulator, "Daniel Lee")
    async with OutPerformClient(settings) as api:
        await api.list_labels()  # the token, before the API slows down
        control(emulator, "POST", "faults", {"latency_ms": 3000})
        before = stats(emulator)["list_labels"]
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(api.list_labels)
                # The read holds the only connection once the API has it.
                await eventually(lambda: stats(emulator)["list_labels"] > before)
                with pytest.raises(errors.UpstreamUnavailable, match="not sent"):
                    await api.send_session_message(daniel, "Waiting for the pool")
                tg.cancel_scope.cancel()
        finally:
            control(emulator, "DELETE", "faults")
    sent = [s for s in control(emulator, "GET", "sent")["data"] if s["text"] == "Waiting for the pool"]
    assert sent == []


async def test_the_proxy_from_the_environment_is_used_and_no_proxy_is_honoured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from outperform_mcp.api.transport import HttpSession

    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readline())
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for name in ("http_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    session = HttpSession(connect_timeout=5, read_timeout=5, max_connections=4, headers={})
    try:
        answer = await session.send("GET", "http://api.invalid/v1/contacts")
        assert (answer.status, answer.body) == (200, b"ok")
        assert seen == [b"GET http://api.invalid/v1/contacts HTTP/1.1\r\n"]
        await session.send("GET", f"http://127.0.0.1:{port}/direct")  # NO_PROXY: asked directly
        assert seen[1] == b"GET /direct HTTP/1.1\r\n"
    finally:
        await session.aclose()
        server.close()
        await server.wait_closed()
