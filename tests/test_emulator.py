"""The OutPerform emulator over real HTTP (uvicorn on loopback), driven with raw httpx."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest

from outperform_mcp.sandbox import (
    BASE_PATH,
    EmulatorServer,
    create_emulator,
    load_templates,
)
from tests.conftest import WebhookReceiver, fetch_access_token
from tests.support import Monotonic

from .loopback import CA, LOOPBACK

pytestmark = pytest.mark.anyio

FIXED_NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
WINDOW_ERROR = "outside the 24-hour session window"


# -- helpers ----------------------------------------------------------------------------------


def control(server: EmulatorServer, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = LOOPBACK.request(method, f"{server.root_url}/_sandbox/{path}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def api(emulator: EmulatorServer, auth_headers: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(verify=CA, base_url=emulator.base_url, headers=auth_headers) as client:
        yield client


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    message: str = body["error"]
    return message


# -- auth -------------------------------------------------------------------------------------


def test_oauth_flow_rotates_refresh_tokens(emulator: EmulatorServer) -> None:
    with httpx.Client(verify=CA, base_url=emulator.base_url) as client:
        login = client.get("/oauth_login", params={"client_id": emulator.client_id, "client_secret": "sandbox-secret"})
        assert login.status_code == 200
        assert login.json()["client_id"] == emulator.client_id
        first_refresh = login.json()["refresh_token"]
        assert len(first_refresh) == 32
        assert int(first_refresh, 16) >= 0

        grant = client.get("/oauth_access", params={"refresh_token": first_refresh, "client_id": emulator.client_id})
        body = grant.json()
        assert grant.status_code == 200
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600
        assert len(body["access_token"]) == 32
        assert body["refresh_token"] != first_refresh

        reuse = client.get("/oauth_access", params={"refresh_token": first_refresh, "client_id": emulator.client_id})
        assert error_of(reuse, 401) == "invalid refresh token"

        second = client.get(
            "/oauth_access", params={"refresh_token": body["refresh_token"], "client_id": emulator.client_id}
        )
        assert second.status_code == 200
        # The earlier access token stays valid until its own expiry.
        for token in (body["access_token"], second.json()["access_token"]):
            assert client.get("/labels", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_oauth_errors(emulator: EmulatorServer) -> None:
    with httpx.Client(verify=CA, base_url=emulator.base_url) as client:
        wrong = client.get("/oauth_login", params={"client_id": emulator.client_id, "client_secret": "nope"})
        assert error_of(wrong, 401) == "invalid client credentials"
        assert error_of(client.get("/oauth_login"), 401) == "invalid client credentials"
        unknown = client.get("/oauth_access", params={"refresh_token": "0" * 32, "client_id": emulator.client_id})
        assert error_of(unknown, 401) == "invalid refresh token"


def test_oauth_accepts_json_body_on_get(emulator: EmulatorServer) -> None:
    with httpx.Client(verify=CA, base_url=emulator.base_url) as client:
        creds = {"client_id": emulator.client_id, "client_secret": emulator.client_secret}
        login = client.request("GET", "/oauth_login", json=creds)
        assert login.status_code == 200
        grant = client.request(
            "GET",
            "/oauth_access",
            json={"refresh_token": login.json()["refresh_token"], "client_id": emulator.client_id},
        )
        assert grant.status_code == 200


def test_access_token_errors(emulator: EmulatorServer) -> None:
    with httpx.Client(verify=CA, base_url=emulator.base_url) as client:
        assert error_of(client.get("/contacts"), 401) == "unauthorized"
        assert error_of(client.get("/contacts", headers={"Authorization": "Basic abc"}), 401) == "unauthorized"
        bogus = client.get("/contacts", headers={"Authorization": f"Bearer {'f' * 32}"})
        assert error_of(bogus, 403) == "invalid access token"

        headers = {"Authorization": f"Bearer {fetch_access_token(emulator)}"}
        assert client.get("/contacts", headers=headers).status_code == 200
        assert control(emulator, "POST", "expire_tokens")["expired"] >= 1
        assert error_of(client.get("/contacts", headers=headers), 403) == "invalid access token"


def test_access_token_expires_after_its_lifetime(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Monotonic()
    monkeypatch.setattr(emulator.emulator.state.tokens, "clock", clock)
    assert control(emulator, "POST", "config", {"token_lifetime": 60})["token_lifetime"] == 60
    with httpx.Client(verify=CA, base_url=emulator.base_url) as client:
        login = client.get("/oauth_login", params={"client_id": emulator.client_id, "client_secret": "sandbox-secret"})
        grant = client.get(
            "/oauth_access", params={"refresh_token": login.json()["refresh_token"], "client_id": emulator.client_id}
        ).json()
        assert grant["expires_in"] == 60
        headers = {"Authorization": f"Bearer {grant['access_token']}"}
        assert client.get("/labels", headers=headers).status_code == 200
        clock.advance(59)
        assert client.get("/labels", headers=headers).status_code == 200
        clock.advance(1)
        assert error_of(client.get("/labels", headers=headers), 403) == "invalid access token"


def test_revoked_refresh_tokens_die(emulator: EmulatorServer) -> None:
    with httpx.Client(verify=CA, base_url=emulator.base_url) as client:
        login = client.get("/oauth_login", params={"client_id": emulator.client_id, "client_secret": "sandbox-secret"})
        control(emulator, "POST", "revoke_refresh_tokens")
        grant = client.get(
            "/oauth_access", params={"refresh_token": login.json()["refresh_token"], "client_id": emulator.client_id}
        )
        assert error_of(grant, 401) == "invalid refresh token"


# -- contacts and labels ----------------------------------------------------------------------


def test_list_contacts_shape_and_order(api: httpx.Client) -> None:
    body = api.get("/contacts").json()
    assert (body["total"], body["page"], body["limit"]) == ("300", "1", "20")
    contacts = body["data"]
    assert len(contacts) == 20
    for contact in contacts:
        assert len(contact["prospect_token"]) == 32
        assert contact["contact"].isdigit()
        assert {"name", "labels", "created_at"} <= set(contact)
    keys = [(c["created_at"], c["prospect_token"]) for c in contacts]
    assert [k[0] for k in keys] == sorted((k[0] for k in keys), reverse=True)

    everything = [
        c for page in (1, 2, 3) for c in api.get("/contacts", params={"limit": 100, "page": page}).json()["data"]
    ]
    assert len({c["prospect_token"] for c in everything}) == 300
    assert any("email" not in c for c in everything)
    assert any("email" in c and c["email"] is None for c in everything)
    assert api.get("/contacts", params={"page": 99}).json()["data"] == []


def test_list_contacts_params_query_or_body(api: httpx.Client) -> None:
    by_body = api.request("GET", "/contacts", json={"limit": "5", "page": "2"}).json()
    by_query = api.get("/contacts", params={"limit": 5, "page": 2}).json()
    assert by_body == by_query
    assert by_body["limit"] == "5"
    # The query string wins over the body.
    mixed = api.request("GET", "/contacts", params={"limit": "3"}, json={"limit": "7"}).json()
    assert mixed["limit"] == "3"
    assert len(mixed["data"]) == 3
    assert api.get("/contacts", params={"limit": "500"}).json()["limit"] == "100"


@pytest.mark.parametrize(
    ("params", "fragment"), [({"limit": "abc"}, "limit"), ({"limit": "0"}, "limit"), ({"page": "-1"}, "page")]
)
def test_list_contacts_bad_paging(api: httpx.Client, params: dict[str, str], fragment: str) -> None:
    assert fragment in error_of(api.get("/contacts", params=params), 400)


def test_list_contacts_filters(api: httpx.Client, emulator: EmulatorServer) -> None:
    sample = emulator.emulator.state.sample()
    daniel = sample.window_open
    for needle in ("daniel lee", "DANIEL", daniel.contact, "0129928376", "+60 12-992 8376", daniel.prospect_token):
        found = api.get("/contacts", params={"search": needle}).json()["data"]
        assert daniel.prospect_token in [c["prospect_token"] for c in found], needle
    if daniel.email:
        assert api.get("/contacts", params={"search": daniel.email.upper()}).json()["total"] == "1"

    opt_out = api.get("/contacts", params={"label": "opt-out", "limit": 100}).json()
    names = {c["name"] for c in opt_out["data"]}
    assert {"Farid Ismail", "Grace Lim"} <= names
    assert all("opt-out" in c["labels"] for c in opt_out["data"])
    assert api.get("/contacts", params={"label": "no-such-label"}).json() == {
        "data": [],
        "total": "0",
        "page": "1",
        "limit": "20",
    }


def test_labels_counts_match_contacts(api: httpx.Client) -> None:
    labels = api.get("/labels").json()["data"]
    names = [label["name"] for label in labels]
    assert names[:3] == ["lead", "customer", "vip"]
    assert "opt-out" in names
    for label in labels:
        assert isinstance(label["id"], str)
        assert isinstance(label["contacts"], str)
        assert api.get("/contacts", params={"label": label["name"]}).json()["total"] == label["contacts"]


def test_create_contact(api: httpx.Client) -> None:
    created = api.post(
        "/contacts",
        json={
            "name": "John Doe",
            "contact": "+60 11-2345 6789",
            "email": "john@email.com",
            "labels": ["lead", "trade-show"],
        },
    )
    assert created.status_code == 200, created.text
    contact = created.json()["data"]
    assert contact["contact"] == "601123456789"
    assert contact["labels"] == ["lead", "trade-show"]
    assert api.get("/contacts", params={"limit": 1}).json()["data"][0] == contact  # newest first
    labels = {label["name"]: label["contacts"] for label in api.get("/labels").json()["data"]}
    assert labels["trade-show"] == "1"

    by_query = api.post("/contacts", params={"name": "Query Person", "contact": "0198887766"})
    assert by_query.status_code == 200
    assert by_query.json()["data"]["contact"] == "0198887766"


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"contact": "60111111111"}, 400, "name"),
        ({"name": "No Phone"}, 400, "contact"),
        ({"name": "Letters", "contact": "01x2345678"}, 400, "invalid contact"),
        ({"name": "Bad Mail", "contact": "60111111112", "email": "not-an-email"}, 400, "email"),
        ({"name": "Dup", "contact": "60129928376"}, 405, "duplicate record"),
        ({"name": "Dup Local", "contact": "012-992 8376"}, 405, "duplicate record"),
    ],
)
def test_create_contact_errors(api: httpx.Client, body: dict[str, str], status: int, fragment: str) -> None:
    assert fragment in error_of(api.post("/contacts", json=body), status)


# -- conversations ----------------------------------------------------------------------------


def test_conversations_order_and_shape(api: httpx.Client) -> None:
    conversations = api.get("/conversations", params={"limit": 100}).json()["data"]
    assert len(conversations) == 100
    latest = [c["last_message_at"] for c in conversations]
    assert latest == sorted(latest, reverse=True)
    assert conversations[0]["name"] == "Mallory Tan"  # her injection is the newest message
    for conversation in conversations:
        stamps = [m["timestamp"] for m in conversation["message"]]
        assert stamps == sorted(stamps)
        assert stamps[-1] == conversation["last_message_at"]
        assert {m["direction"] for m in conversation["message"]} <= {"inbound", "outbound"}
        assert all(m["type"] == "text" for m in conversation["message"])


def test_conversations_vendor_style_json_body(api: httpx.Client, emulator: EmulatorServer) -> None:
    daniel = emulator.emulator.state.sample().window_open
    body = {"limit": "100", "page": "1", "start_date": "2000-01-01", "end_date": "2099-12-31"}
    result = api.request("GET", "/conversations", json={**body, "prospect_token": daniel.prospect_token}).json()
    assert [c["name"] for c in result["data"]] == ["Daniel Lee"]
    assert result["data"][0]["message"][-1]["direction"] == "inbound"
    assert api.get("/conversations", params={"prospect_token": "0" * 32}).json() == {"data": []}


def test_conversations_date_filter(api: httpx.Client) -> None:
    everything = api.get("/conversations", params={"limit": 100, "page": 1}).json()["data"]
    day = everything[10]["message"][0]["timestamp"][:10]
    filtered = api.get("/conversations", params={"start_date": day, "end_date": day, "limit": 100}).json()["data"]
    assert filtered
    for conversation in filtered:
        assert conversation["message"]
        assert all(m["timestamp"][:10] == day for m in conversation["message"])
    latest = [c["last_message_at"] for c in filtered]
    assert latest == sorted(latest, reverse=True)
    assert api.get("/conversations", params={"start_date": "1999-01-01", "end_date": "1999-01-02"}).json() == {
        "data": []
    }


@pytest.mark.parametrize(
    "params",
    [{"start_date": "01/02/2026"}, {"end_date": "2026-02-30"}, {"start_date": "2026-03-02", "end_date": "2026-03-01"}],
)
def test_conversations_bad_dates(api: httpx.Client, params: dict[str, str]) -> None:
    assert "date" in error_of(api.get("/conversations", params=params), 400)


def test_chatbot_conversations(api: httpx.Client) -> None:
    everything = api.get("/chatbot_conversations", params={"limit": 100}).json()["data"]
    assert 70 <= len(everything) <= 100
    started = [c["started_at"] for c in everything]
    assert started == sorted(started, reverse=True)
    for chat in everything:
        assert chat["concluded"] in ("1", "0")
        assert isinstance(chat["id"], str)
        assert (chat["ended_at"] is None) == (chat["concluded"] == "0")
        assert chat["summary"]
        assert chat["message"]

    negative = api.get("/chatbot_conversations", params={"sentiment": "negative", "limit": 100}).json()["data"]
    assert negative
    assert all(c["sentiment"] == "negative" for c in negative)
    for flag, expected in (("1", "1"), ("true", "1"), ("0", "0"), ("false", "0")):
        chats = api.request("GET", "/chatbot_conversations", json={"concluded": flag, "limit": "100"}).json()["data"]
        assert chats
        assert all(c["concluded"] == expected for c in chats)
    day = everything[0]["started_at"][:10]
    on_day = api.get("/chatbot_conversations", params={"start_date": day, "end_date": day}).json()["data"]
    assert on_day
    assert all(c["started_at"].startswith(day) for c in on_day)

    assert "sentiment" in error_of(api.get("/chatbot_conversations", params={"sentiment": "angry"}), 400)
    assert "concluded" in error_of(api.get("/chatbot_conversations", params={"concluded": "maybe"}), 400)


# -- messaging --------------------------------------------------------------------------------


def test_send_message_inside_window(api: httpx.Client, emulator: EmulatorServer) -> None:
    daniel = emulator.emulator.state.sample().window_open
    sent = api.post(
        "/send_message",
        json={"prospect_token": daniel.prospect_token, "message": "Yes, it is!", "instance_id": "0809202501"},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "success"
    message_id = sent.json()["message_id"]
    log = control(emulator, "GET", "sent")["data"]
    assert [(r["message_id"], r["kind"], r["text"], r["contact"]) for r in log] == [
        (message_id, "session", "Yes, it is!", daniel.contact)
    ]
    conversation = api.get("/conversations", params={"prospect_token": daniel.prospect_token}).json()["data"][0]
    assert conversation["message"][-1]["text"] == "Yes, it is!"
    assert conversation["message"][-1]["direction"] == "outbound"


def test_send_message_outside_window(api: httpx.Client, emulator: EmulatorServer) -> None:
    aisha = emulator.emulator.state.sample().window_closed
    body = {"prospect_token": aisha.prospect_token, "message": "Hello again", "instance_id": "1"}
    message = error_of(api.post("/send_message", json=body), 400)
    assert message.startswith(WINDOW_ERROR)
    assert "send an approved template instead" in message
    assert (
        message.split("was at ")[1].split(";")[0]
        == api.get("/conversations", params={"prospect_token": aisha.prospect_token}).json()["data"][0]["message"][-2][
            "timestamp"
        ]
    )
    assert control(emulator, "GET", "sent")["data"] == []

    # A customer message reopens the window.
    control(emulator, "POST", "inbound", {"prospect_token": aisha.prospect_token, "text": "hi", "deliver": False})
    assert api.post("/send_message", json=body).status_code == 200


def test_send_message_errors(api: httpx.Client, emulator: EmulatorServer) -> None:
    daniel = emulator.emulator.state.sample().window_open.prospect_token
    assert "message" in error_of(api.post("/send_message", json={"prospect_token": daniel, "instance_id": "1"}), 400)
    assert "instance_id" in error_of(api.post("/send_message", json={"prospect_token": daniel, "message": "x"}), 400)
    unknown = api.post("/send_message", json={"prospect_token": "0" * 32, "message": "x", "instance_id": "1"})
    assert error_of(unknown, 400) == "unknown prospect_token"
    never = api.post("/contacts", json={"name": "Silent Sam", "contact": "60100000001"}).json()["data"]
    body = {"prospect_token": never["prospect_token"], "message": "x", "instance_id": "1"}
    assert error_of(api.post("/send_message", json=body), 400).startswith(WINDOW_ERROR)


def test_send_template(api: httpx.Client, emulator: EmulatorServer) -> None:
    aisha = emulator.emulator.state.sample().window_closed  # templates need no open window
    sent = api.post(
        "/send_template",
        json={
            "prospect_token": aisha.prospect_token,
            "template_name": "event_qr_code_canceled_v3",
            "template_parameter": "Daniel|0129928376|not interested",
            "instance_id": "0809202501",
        },
    )
    assert sent.status_code == 200, sent.text
    record = control(emulator, "GET", "sent")["data"][-1]
    assert record["kind"] == "template"
    assert record["message_id"] == sent.json()["message_id"]
    assert record["template_parameter"] == "Daniel|0129928376|not interested"
    assert record["text"] == (
        "Hi Daniel, your booking 0129928376 was cancelled: not interested. Reply to this message if you have questions."
    )
    zero = {"prospect_token": aisha.prospect_token, "template_name": "holiday_greetings_v1", "instance_id": "1"}
    assert api.post("/send_template", json={**zero, "template_parameter": ""}).status_code == 200


def test_send_template_errors(api: httpx.Client, emulator: EmulatorServer) -> None:
    token = emulator.emulator.state.sample().window_closed.prospect_token
    base = {"prospect_token": token, "instance_id": "1"}
    unknown = api.post("/send_template", json={**base, "template_name": "nope_v1", "template_parameter": "a"})
    assert error_of(unknown, 422) == "invalid template: unknown template 'nope_v1'"
    wrong = api.post(
        "/send_template", json={**base, "template_name": "event_qr_code_canceled_v3", "template_parameter": "a|b"}
    )
    assert error_of(wrong, 422) == "invalid template: 'event_qr_code_canceled_v3' takes 3 parameters, got 2"
    empty = api.post(
        "/send_template", json={**base, "template_name": "reengagement_hello_v1", "template_parameter": ""}
    )
    assert error_of(empty, 422) == "invalid template: 'reengagement_hello_v1' takes 1 parameters, got 0"
    assert "template_name" in error_of(api.post("/send_template", json=base), 400)
    assert control(emulator, "GET", "sent")["data"] == []


def test_template_catalogue(emulator: EmulatorServer) -> None:
    catalogue = control(emulator, "GET", "templates")["data"]
    assert catalogue == load_templates()
    assert any(t["name"] == "event_qr_code_canceled_v3" and t["parameters"] == 3 for t in catalogue)


# -- controls ---------------------------------------------------------------------------------


def test_stats_count_operations(api: httpx.Client, emulator: EmulatorServer) -> None:
    control(emulator, "POST", "stats/reset")
    api.get("/contacts")
    api.get("/contacts")
    api.get("/labels")
    api.post("/contacts", json={})
    stats = control(emulator, "GET", "stats")
    assert stats["requests"]["list_contacts"] == 2
    assert stats["requests"]["create_contact"] == 1
    assert stats["requests"]["send_template"] == 0
    assert stats["total"] == 4
    assert control(emulator, "POST", "stats/reset")["total"] == 0


def test_reset_reseeds(api: httpx.Client, emulator: EmulatorServer) -> None:
    api.post("/contacts", json={"name": "Temp", "contact": "60100000002"})
    assert api.get("/contacts").json()["total"] == "301"
    control(emulator, "POST", "reset")
    assert api.get("/contacts").json()["total"] == "300"  # tokens survive a plain reset


def test_unknown_paths_and_methods(api: httpx.Client, emulator: EmulatorServer) -> None:
    assert error_of(api.get("/nope"), 404) == "not found"
    assert error_of(LOOPBACK.get(emulator.root_url + "/"), 404) == "not found"
    assert api.get("/contacts/").status_code == 200  # a trailing slash is tolerated
    assert api.delete("/contacts").status_code == 405


# -- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "error"), [("429", 429, "too many requests"), ("500", 500, None), ("503", 503, None)]
)
def test_status_faults(api: httpx.Client, emulator: EmulatorServer, kind: str, status: int, error: str | None) -> None:
    control(
        emulator,
        "POST",
        "faults",
        {"rules": [{"operation": "list_labels", "kind": kind, "count": 2, "retry_after": 7}]},
    )
    assert api.get("/contacts").status_code == 200  # other operations are untouched
    for _ in range(2):
        response = api.get("/labels")
        message = error_of(response, status)
        assert error is None or message == error
        if kind == "429":
            assert response.headers["retry-after"] == "7"
    assert api.get("/labels").status_code == 200


def test_malformed_fault(api: httpx.Client, emulator: EmulatorServer) -> None:
    control(emulator, "POST", "faults", {"rules": [{"operation": "*", "kind": "malformed"}]})
    response = api.get("/contacts")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_drop_fault_applies_nothing(api: httpx.Client, emulator: EmulatorServer) -> None:
    daniel = emulator.emulator.state.sample().window_open.prospect_token
    control(emulator, "POST", "faults", {"rules": [{"operation": "send_message", "kind": "drop"}]})
    # A dropped connection reads as a closed stream or a reset, depending on timing.
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.post("/send_message", json={"prospect_token": daniel, "message": "lost", "instance_id": "1"})
    assert control(emulator, "GET", "sent")["data"] == []


def test_drop_after_write_applies_the_operation(api: httpx.Client, emulator: EmulatorServer) -> None:
    daniel = emulator.emulator.state.sample().window_open.prospect_token
    control(emulator, "POST", "faults", {"rules": [{"operation": "send_message", "kind": "drop_after_write"}]})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.post("/send_message", json={"prospect_token": daniel, "message": "sent anyway", "instance_id": "1"})
    assert [r["text"] for r in control(emulator, "GET", "sent")["data"]] == ["sent anyway"]
    # The next request works on a fresh connection.
    assert api.get("/labels").status_code == 200


def test_error_rate_and_clearing(api: httpx.Client, emulator: EmulatorServer) -> None:
    control(emulator, "POST", "faults", {"error_rate": 1})
    assert api.get("/labels").status_code == 500
    assert control(emulator, "DELETE", "faults") == {"latency_ms": 0, "error_rate": 0.0, "rules": []}
    assert api.get("/labels").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"rules": [{"operation": "list_labels", "kind": "418"}]},
        {"rules": [{"operation": "nope", "kind": "500"}]},
        {"rules": [{"operation": "*", "kind": "500", "count": 0}]},
        {"error_rate": 2},
        {"latency_ms": "slow"},
    ],
)
def test_invalid_fault_config(emulator: EmulatorServer, body: dict[str, Any]) -> None:
    response = LOOPBACK.post(f"{emulator.root_url}/_sandbox/faults", json=body)
    assert "invalid faults" in error_of(response, 400)


async def test_latency_does_not_block_the_loop(emulator: EmulatorServer, auth_headers: dict[str, str]) -> None:
    control(emulator, "POST", "faults", {"latency_ms": 100})
    results: list[int] = []
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(verify=CA, base_url=emulator.base_url, headers=auth_headers, limits=limits) as client:

        async def one() -> None:
            results.append((await client.get("/labels")).status_code)

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(one)
        elapsed = time.perf_counter() - started
    assert results == [200] * 50
    assert 0.1 <= elapsed < 1.0


# -- webhook ----------------------------------------------------------------------------------


def test_inbound_delivers_webhook(emulator: EmulatorServer, webhook_receiver: WebhookReceiver) -> None:
    control(emulator, "POST", "config", {"webhook_url": webhook_receiver.url, "webhook_secret": "hook-secret"})
    aisha = emulator.emulator.state.sample().window_closed
    result = control(
        emulator, "POST", "inbound", {"prospect_token": aisha.prospect_token, "text": "Hi, I'm interested"}
    )
    assert result == {"delivered": True, "status": 200, "error": None, "prospect_token": aisha.prospect_token}
    [hook] = webhook_receiver.received
    assert hook.path == "/hooks/outperform"
    assert hook.headers["x-webhook-secret"] == "hook-secret"
    assert hook.body["event"] == "whatsapp_message_received"
    assert datetime.strptime(hook.body["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert hook.body["data"] == {
        "contact": aisha.contact,
        "name": "Aisha Rahman",
        "direction": "inbound",
        "message": {"type": "text", "text": "Hi, I'm interested"},
    }
    assert emulator.emulator.state.window_open(aisha)


def test_inbound_from_unknown_number(emulator: EmulatorServer, webhook_receiver: WebhookReceiver) -> None:
    control(emulator, "POST", "config", {"webhook_url": webhook_receiver.url})
    result = control(emulator, "POST", "inbound", {"contact": "+44 7700 900123", "text": "hello?", "name": "Stranger"})
    assert result["delivered"] is True
    assert result["prospect_token"] is None
    [hook] = webhook_receiver.received
    assert "x-webhook-secret" not in hook.headers
    assert hook.body["data"]["contact"] == "447700900123"
    assert hook.body["data"]["name"] == "Stranger"
    assert emulator.emulator.state.stats_wire()["total"] == 0
    assert len(emulator.emulator.state.contacts) == 300


def test_inbound_delivery_failures(emulator: EmulatorServer, webhook_receiver: WebhookReceiver) -> None:
    daniel = emulator.emulator.state.sample().window_open.prospect_token
    no_hook = control(emulator, "POST", "inbound", {"prospect_token": daniel, "text": "x"})
    assert no_hook["delivered"] is False
    assert no_hook["error"] == "no webhook_url configured"

    control(emulator, "POST", "config", {"webhook_url": webhook_receiver.url})
    skipped = control(emulator, "POST", "inbound", {"prospect_token": daniel, "text": "x", "deliver": False})
    assert skipped["delivered"] is False
    assert skipped["error"] is None
    assert webhook_receiver.received == []

    webhook_receiver.status = 500
    failed = control(emulator, "POST", "inbound", {"prospect_token": daniel, "text": "x"})
    assert (failed["delivered"], failed["status"]) == (False, 500)

    control(emulator, "POST", "config", {"webhook_url": "http://127.0.0.1:9/secret-path-token"})
    unreachable = control(emulator, "POST", "inbound", {"prospect_token": daniel, "text": "x"})
    assert unreachable["delivered"] is False
    assert unreachable["status"] is None
    assert unreachable["error"]
    assert "secret-path-token" not in unreachable["error"]
    bad = LOOPBACK.post(f"{emulator.root_url}/_sandbox/inbound", json={"prospect_token": "0" * 32, "text": "x"})
    assert error_of(bad, 400) == "unknown prospect_token"


def test_config_hides_webhook_secret(emulator: EmulatorServer) -> None:
    config = control(emulator, "POST", "config", {"webhook_url": "http://x.invalid/", "webhook_secret": "s3cret"})
    assert config == {
        "token_lifetime": 3600,
        "webhook_url": "http://x.invalid/",
        "webhook_secret": "***",
        "search_matches_tokens": True,
    }
    assert control(emulator, "POST", "config", {"webhook_url": None})["webhook_url"] is None


# -- seed -------------------------------------------------------------------------------------


def test_seed_is_deterministic_and_fast() -> None:
    timings = []
    for _ in range(3):  # best of three, so a busy CI machine does not fail the budget
        started = time.perf_counter()
        first = create_emulator(seed=7, now=FIXED_NOW).state
        timings.append(time.perf_counter() - started)
    assert min(timings) < 0.1
    second = create_emulator(seed=7, now=FIXED_NOW).state
    other = create_emulator(seed=8, now=FIXED_NOW).state

    def snapshot(state: Any) -> Any:
        return (
            [c.to_wire() for c in state.contacts],
            [[m.to_wire() for m in c.messages] for c in state.contacts],
            [c.to_wire() for c in state.chatbot],
        )

    assert snapshot(first) == snapshot(second)
    assert snapshot(first) != snapshot(other)


def test_seed_content() -> None:
    state = create_emulator(now=FIXED_NOW).state
    sample = state.sample()
    assert (sample.window_open.name, sample.window_closed.name) == ("Daniel Lee", "Aisha Rahman")
    assert state.window_open(sample.window_open)
    assert not state.window_open(sample.window_closed)
    assert "Ignore your previous instructions" in sample.injection.messages[-1].text
    assert sample.injection_target.contact == "60123456789"
    assert "\u202e" in sample.bidi.messages[-1].text
    assert "\u200b" in sample.bidi.messages[-1].text
    assert sample.stop.messages[-1].text == "STOP"
    assert "opt-out" in sample.unsubscribe.labels

    contacts = state.contacts
    assert len(contacts) == 300
    share_open = sum(state.window_open(c) for c in contacts) / len(contacts)
    assert 0.10 <= share_open <= 0.20
    assert 4 <= sum("opt-out" in c.labels for c in contacts) <= 12
    assert len(state.chatbot) == 80
    first_message = min(m.at for c in contacts for m in c.messages)
    assert FIXED_NOW - first_message <= timedelta(days=190)
    assert all(c.created_at <= c.messages[0].at for c in contacts if c.messages)


# -- runners ----------------------------------------------------------------------------------


def test_emulator_server_context_manager() -> None:
    with EmulatorServer(create_emulator(client_id="cid", client_secret="csecret")) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}{BASE_PATH}"
        assert (server.client_id, server.client_secret) == ("cid", "csecret")
        assert fetch_access_token(server)
    with pytest.raises(httpx.ConnectError):
        LOOPBACK.get(server.root_url + "/_sandbox/stats")
