"""Tolerant parsing of what the API sends (api/models.py): every accepted variant, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from outperform_mcp.api.models import (
    ChatbotConversation,
    Contact,
    ContactPage,
    Conversation,
    Label,
    Message,
    SendResult,
    TokenGrant,
)

TOKEN = "0" * 32
AT = datetime(2025, 7, 22, 6, 11, 52, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-07-22 06:11:52", AT),  # the API's bare form is UTC
        ("2025-07-22T06:11:52Z", AT),
        (" 2025-07-22T06:11:52+00:00 ", AT),
        ("2025-07-22T14:11:52+08:00", AT),
        (datetime(2025, 7, 22, 6, 11, 52), AT),  # naive datetimes are UTC too
        (datetime(2025, 7, 22, 14, 11, 52, tzinfo=timezone(timedelta(hours=8))), AT),
    ],
)
def test_timestamps(raw: Any, expected: datetime) -> None:
    message = Message.model_validate({"timestamp": raw, "direction": "inbound"})
    assert message.timestamp == expected
    assert message.timestamp.utcoffset() is not None


@pytest.mark.parametrize("raw", ["yesterday", "2025-13-40 99:00:00", None])
def test_unreadable_timestamps_are_refused(raw: Any) -> None:
    with pytest.raises(ValidationError):
        Message.model_validate({"timestamp": raw, "direction": "inbound"})


@pytest.mark.parametrize(("raw", "expected"), [("", None), ("   ", None), ("2025-07-22 06:11:52", AT), (None, None)])
def test_blank_optional_timestamps_are_none(raw: Any, expected: datetime | None) -> None:
    contact = Contact.model_validate({"prospect_token": TOKEN, "contact": "60123", "created_at": raw})
    assert contact.created_at == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"prospect_token": TOKEN, "contact": 60123456789}, {"token": TOKEN, "phone": "60123456789"}),
        ({"token": TOKEN, "phone": "60123"}, {"token": TOKEN, "phone": "60123", "name": ""}),
        ({"prospect_token": TOKEN, "contact": "6012", "email": "  "}, {"email": None}),
        ({"prospect_token": TOKEN, "contact": "6012", "email": "a@b.co"}, {"email": "a@b.co"}),
        ({"prospect_token": TOKEN, "contact": "6012", "labels": None}, {"labels": []}),
        ({"prospect_token": TOKEN, "contact": "6012", "labels": "lead, vip ,,"}, {"labels": ["lead", "vip"]}),
        (
            {"prospect_token": TOKEN, "contact": "6012", "labels": [{"name": "lead"}, "vip"]},
            {"labels": ["lead", "vip"]},
        ),
        ({"prospect_token": TOKEN, "contact": "6012", "unknown": 1}, {"token": TOKEN}),  # extra fields ignored
    ],
)
def test_contact_variants(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    contact = Contact.model_validate(raw)
    for field, value in expected.items():
        assert getattr(contact, field) == value


@pytest.mark.parametrize(
    "raw",
    [
        {"contact": "6012"},  # no token
        {"prospect_token": TOKEN},  # no phone
        {"prospect_token": TOKEN, "contact": True},  # a bool is not a number here
        {"prospect_token": TOKEN, "contact": "6012", "labels": 5},
    ],
)
def test_contact_refusals(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Contact.model_validate(raw)


@pytest.mark.parametrize(
    ("page", "limit", "total", "items", "has_more"),
    [
        (1, 2, 5, 2, True),
        (3, 2, 5, 1, False),
        (2, 2, 4, 2, False),
        (1, 2, None, 2, True),  # no total: a full page may have more
        (1, 2, None, 1, False),
    ],
)
def test_page_has_more(page: int, limit: int, total: int | None, items: int, has_more: bool) -> None:
    contacts = [Contact(token=f"{i:032x}", phone=str(i)) for i in range(items)]
    assert ContactPage(items=contacts, page=page, limit=limit, total=total).has_more is has_more


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"name": "lead", "id": 3, "contacts": 7}, ("lead", "3", 7)),
        ({"label": "vip", "label_id": "9", "count": "2"}, ("vip", "9", 2)),
        ({"label_name": "cold"}, ("cold", None, None)),
    ],
)
def test_label_aliases(raw: dict[str, Any], expected: tuple[str, str | None, int | None]) -> None:
    label = Label.model_validate(raw)
    assert (label.name, label.id, label.contacts) == expected


@pytest.mark.parametrize(
    ("raw", "texts"),
    [
        (None, []),
        ([], []),
        ({"timestamp": "2025-07-22 06:11:52", "direction": "Inbound", "text": "lone"}, ["lone"]),
        (
            [
                {"timestamp": "2025-07-22 07:00:00", "direction": "OUTBOUND ", "text": "second"},
                {"timestamp": "2025-07-22 06:00:00", "direction": "inbound", "text": None},
            ],
            ["", "second"],  # oldest first; a null text is empty
        ),
    ],
)
def test_conversation_messages(raw: Any, texts: list[str]) -> None:
    conv = Conversation.model_validate({"prospect_token": TOKEN, "message": raw})
    assert [m.text for m in conv.messages] == texts
    assert all(m.direction in ("inbound", "outbound") for m in conv.messages)


def test_last_inbound_at_ignores_outbound() -> None:
    conv = Conversation.model_validate(
        {
            "token": TOKEN,
            "messages": [
                {"timestamp": "2025-07-22 06:00:00", "direction": "inbound"},
                {"timestamp": "2025-07-22 09:00:00", "direction": "outbound"},
                {"timestamp": "2025-07-22 07:00:00", "direction": "inbound"},
            ],
        }
    )
    assert conv.last_inbound_at == datetime(2025, 7, 22, 7, tzinfo=UTC)
    assert Conversation(token=TOKEN).last_inbound_at is None


def test_unknown_direction_is_refused() -> None:
    with pytest.raises(ValidationError):
        Message.model_validate({"timestamp": "2025-07-22 06:00:00", "direction": "sideways"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"id": 12, "concluded": "1", "sentiment": " Positive "}, ("12", True, "positive")),
        ({"id": "12", "concluded": "no", "sentiment": ""}, ("12", False, None)),
        ({"id": "12", "concluded": 0}, ("12", False, None)),
        ({"id": "12", "concluded": "TRUE", "sentiment": "NEUTRAL"}, ("12", True, "neutral")),
        ({"id": "12", "concluded": "", "started_at": "", "ended_at": " "}, ("12", False, None)),
    ],
)
def test_chatbot_conversation_variants(raw: dict[str, Any], expected: tuple[str, bool, str | None]) -> None:
    chat = ChatbotConversation.model_validate(raw)
    assert (chat.id, chat.concluded, chat.sentiment) == expected
    assert chat.started_at is None or chat.started_at.tzinfo is not None


@pytest.mark.parametrize(
    "raw", [{"id": "1", "sentiment": "angry"}, {"id": "1", "concluded": "maybe"}, {"concluded": True}]
)
def test_chatbot_conversation_refusals(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ChatbotConversation.model_validate(raw)


@pytest.mark.parametrize(
    ("raw", "message_id", "status"),
    [
        ({"message_id": 77}, "77", "success"),
        ({"id": "m-1", "status": "queued"}, "m-1", "queued"),
        ({"messageId": "x"}, "x", "success"),
        ({}, None, "success"),
    ],
)
def test_send_result_aliases(raw: dict[str, Any], message_id: str | None, status: str) -> None:
    result = SendResult.model_validate(raw)
    assert (result.message_id, result.status) == (message_id, status)


def test_token_grant_defaults_and_refusals() -> None:
    grant = TokenGrant.model_validate({"access_token": "a", "refresh_token": "r"})
    assert (grant.token_type, grant.expires_in) == ("Bearer", 3600)
    assert TokenGrant.model_validate({"access_token": "a", "refresh_token": "r", "expires_in": "60"}).expires_in == 60
    with pytest.raises(ValidationError):
        TokenGrant.model_validate({"access_token": "a"})
