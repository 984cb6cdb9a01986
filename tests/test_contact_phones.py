"""create_contact stores E.164 digits: a local number gets the default country's code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from .support import call, error_text, server_for

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [
        ("MY", "012-555 0177", "60125550177"),  # never stored without its country code
        ("MY", "0060 12-555 0178", "60125550178"),
        ("SG", "9123 4567", "6591234567"),
    ],
)
async def test_local_number_is_stored_with_its_country_code(
    emulator: Any, tmp_path: Path, country: str, typed: str, stored: str
) -> None:
    async with server_for(emulator, tmp_path, default_country=country) as (server, _), Client(server) as c:
        made = await call(c, "create_contact", {"name": "Local Number", "phone": typed})
        assert made["phone"] == stored
        found = await call(c, "search_contacts", {"search": stored})
        assert [item["phone"] for item in found["items"]] == [stored]


async def test_a_number_that_is_no_number_is_refused_with_a_way_out(emulator: Any, tmp_path: Path) -> None:
    async with server_for(emulator, tmp_path) as (server, _), Client(server) as c:
        text = await error_text(c, "create_contact", {"name": "X", "phone": "+99 9999 9999"})
    assert "country code" in text
