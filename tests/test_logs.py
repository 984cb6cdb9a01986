"""Secrets stay out of the logs at DEBUG: a whole send through Streamable HTTP (both eras) with
the CLI's logging set up at DEBUG leaves no approval link secret, bearer token or webhook secret
in what is written."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from outperform_mcp import logs

from .guard_harness import MODES, guarded, http_app, people
from .support import call

pytestmark = pytest.mark.anyio


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in logs.QUIET}
    handler = logs.configure("DEBUG", stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("mode", MODES)
async def test_approval_link_secret_is_not_logged_at_debug(
    emulator: Any, tmp_path: Path, mode: str, debug_log: io.StringIO
) -> None:
    p = people(emulator)
    async with (
        guarded(emulator, tmp_path) as (server, deps),
        http_app(server, deps) as base,
        Client(f"{base}/mcp", mode=mode) as c,
    ):
        out = await call(c, "send_template", {"tokens": [p.aisha], "template": "holiday_greetings_v1"})
        logging.getLogger("outperform_mcp.test").debug("link %s", out["approval_url"])  # even if we log it
    secret = out["approval_url"].rsplit("/", 1)[1]
    written = debug_log.getvalue()
    assert "DEBUG" in written  # the level really was DEBUG
    assert secret not in written
    assert "/approvals/" in written
    assert "/***" in written


@pytest.mark.parametrize(
    ("line", "hidden"),
    [
        ("GET /approvals/abcDEF123/s3cr3t-link_value HTTP/1.1", "s3cr3t-link_value"),
        ("POST /webhooks/outperform/hook-secret-0123456789 200", "hook-secret-0123456789"),
        ("Authorization: Bearer tok.en-value_1", "tok.en-value_1"),
    ],
)
def test_redaction(line: str, hidden: str) -> None:
    assert hidden not in logs.redact(line)
    assert "***" in logs.redact(line)
