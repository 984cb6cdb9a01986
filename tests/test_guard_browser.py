"""The approval page as a person uses it: headless Chromium (Debian's package) driven by Playwright.

The human opens the link a send returned, reads every recipient and message, and clicks. The
browser sends whatever headers it sends (Sec-Fetch-Site, Origin): nothing here is hand-set, so
the CSRF defences are checked against a real browser both ways. A phone-sized view checks that
the page is readable without zooming. Screenshots land in ``build/screenshots/`` (or
``$OUTPERFORM_SCREENSHOTS``); ``docs/guard.md`` shows copies of them.

Skipped, with the reason, where Chromium or Playwright is missing; ``.ci/run`` installs both and
sets ``OUTPERFORM_REQUIRE_BROWSER=1``, which turns that skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from .guard_harness import guarded, http_app, people, sent
from .support import Clock, call

pytestmark = pytest.mark.anyio

CHROMIUM = os.environ.get("OUTPERFORM_CHROMIUM", "/usr/bin/chromium")
# What this sandboxed machine needs: no setuid sandbox as root, no GPU, and none of the background
# calls to Google that the closed network refuses at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(os.environ.get("OUTPERFORM_SCREENSHOTS") or Path(__file__).resolve().parents[1] / "build" / "screenshots")
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
# An iPhone-12-sized screen. is_mobile makes Chromium treat the page's viewport meta as a phone
# does: without one, a phone lays the page out 980 px wide and shrinks it to fit.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
APPROVE = "Approve and send"


def _unavailable(reason: str) -> None:
    if os.environ.get("OUTPERFORM_REQUIRE_BROWSER") == "1":
        pytest.fail(f"OUTPERFORM_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    """One Chromium for the module (a start costs ~0.5 s); every test opens its own contexts."""
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    async with async_playwright() as pw:
        # launch() starts from a fresh, empty profile of its own; no browser is downloaded.
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@asynccontextmanager
async def tab(browser: Any, view: dict[str, Any]) -> AsyncIterator[Any]:
    context = await browser.new_context(**view)
    try:
        page = await context.new_page()
        page.set_default_timeout(10_000)
        yield page
    finally:
        await context.close()


async def press(page: Any, name: str, *, tap: bool = False) -> None:
    """Press a button the way a person does (a tap scrolls it into view first) and wait for the answer."""
    button = page.get_by_role("button", name=name)
    async with page.expect_navigation():
        await (button.tap() if tap else button.click())


async def heading(page: Any) -> str:
    return str(await page.locator("h1").inner_text())


async def buttons(page: Any) -> int:
    return int(await page.locator("button").count())


def shot(name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / name


def recipients(emulator: Any, n: int) -> list[str]:
    """Tokens of ``n`` seeded contacts the policy lets a template reach (no opt-outs)."""
    p = people(emulator)
    skip = {p.farid, p.grace, p.mallory}
    tokens = [
        c.prospect_token
        for c in emulator.emulator.state.contacts
        if "opt-out" not in c.labels and c.prospect_token not in skip
    ]
    return tokens[:n]


async def test_approve_in_the_browser_sends_exactly_one_message_and_kills_the_link(
    emulator: Any, tmp_path: Path, browser: Any
) -> None:
    p = people(emulator)
    text = "See you at 3pm <b>sharp</b>. Directions: https://maps.example/very/long/path/that/does/not/break"
    async with (
        guarded(emulator, tmp_path) as (server, deps),
        http_app(server, deps),
        Client(server) as c,
        tab(browser, DESKTOP) as page,
    ):
        out = await call(c, "send_message", {"token": p.daniel, "text": text})
        response = await page.goto(out["approval_url"])
        assert response.status == 200
        shown = await page.locator("body").inner_text()
        assert "Daniel Lee" in shown
        assert "+60129928376" in shown
        assert text in shown  # the exact words, markup shown as text
        assert sent(emulator) == []  # looking is not approving

        await press(page, APPROVE)
        assert await heading(page) == "Sent"
        assert "1 sent" in await page.locator("body").inner_text()
        log = sent(emulator)
        assert [(r["prospect_token"], r["text"]) for r in log] == [(p.daniel, text)]

        # The link is dead: back to it (no-store, so the browser asks again) shows no preview, no button.
        response = await page.goto(out["approval_url"])
        assert response.status == 410
        assert await heading(page) == "No longer valid"
        assert await buttons(page) == 0
        assert text not in await page.locator("body").inner_text()
        status = await call(c, "list_sends", {"approval_id": out["approval_id"]})
    assert [i["status"] for i in status["items"]] == ["sent"]
    assert len(sent(emulator)) == 1


async def test_batch_preview_shows_every_recipient_and_reject_sends_nothing(
    emulator: Any, tmp_path: Path, browser: Any
) -> None:
    tokens = recipients(emulator, 3)
    args = {"tokens": tokens, "template": "follow_up_interest_v1", "params": ["there", "our new showroom"]}
    async with (
        guarded(emulator, tmp_path) as (server, deps),
        http_app(server, deps),
        Client(server) as c,
        tab(browser, DESKTOP) as page,
    ):
        dry = await call(c, "send_template", {**args, "dry_run": True})
        out = await call(c, "send_template", args)
        await page.goto(out["approval_url"])
        shown = await page.locator("body").inner_text()
        assert "3 WhatsApp messages" in shown
        for message in dry["messages"]:
            assert message["name"] in shown
            assert message["text"] in shown
        assert await page.locator(".text").count() == 3  # one exact text per message
        await page.screenshot(path=shot("approval-desktop.png"), full_page=True)

        await press(page, "Reject")
        assert await heading(page) == "Rejected"
        assert "Nothing was sent" in await page.locator("body").inner_text()
        status = await call(c, "list_sends", {"approval_id": out["approval_id"]})
    assert {i["status"] for i in status["items"]} == {"rejected"}
    assert sent(emulator) == []


async def test_phone_reads_without_zoom_and_a_long_batch_scrolls_to_the_buttons(
    emulator: Any, tmp_path: Path, browser: Any
) -> None:
    tokens = recipients(emulator, 25)
    args = {"tokens": tokens, "template": "follow_up_interest_v1", "params": ["there", "our new showroom"]}
    async with (
        guarded(emulator, tmp_path) as (server, deps),
        http_app(server, deps),
        Client(server) as c,
        tab(browser, PHONE) as page,
    ):
        out = await call(c, "send_template", args)
        await page.goto(out["approval_url"])
        assert await page.locator(".text").count() == 25
        await page.screenshot(path=shot("approval-phone.png"))
        layout = await page.evaluate(
            """() => {
                const px = (el) => parseFloat(getComputedStyle(el).fontSize);
                const box = (el) => el.getBoundingClientRect();
                const buttons = [...document.querySelectorAll('button')]
                    .map(b => ({w: b.offsetWidth, h: b.offsetHeight}));
                return {
                    width: window.innerWidth,
                    scrollWidth: document.documentElement.scrollWidth,
                    scrollHeight: document.documentElement.scrollHeight,
                    height: window.innerHeight,
                    content: Math.min(...[...document.querySelectorAll('.msg, .text, p:not(.meta), li')].map(px)),
                    small: Math.min(...[...document.querySelectorAll('body *:not(input)')].map(px)),
                    buttons,
                    approveTop: box(document.querySelector('button.approve')).top,
                };
            }"""
        )
        # Laid out at the phone's width (the viewport meta is honoured), not 980 px shrunk to fit.
        assert layout["width"] == 390
        assert layout["scrollWidth"] <= layout["width"], "the page scrolls sideways on a phone"
        assert layout["content"] >= 16, f"text is {layout['content']} px: too small to read without zooming"
        assert layout["small"] >= 14, f"some text is {layout['small']} px"
        for b in layout["buttons"]:  # touch targets: 44 px (Apple) / 48 px (Material)
            assert b["h"] >= 44, f"button is {b['h']} px tall"
            assert b["w"] >= 0.8 * 390 - 32, f"button is {b['w']} px wide: hard to hit with a thumb"
        # A long batch scrolls: the decision comes after every message, below the first screen.
        assert layout["scrollHeight"] > 5 * layout["height"]
        assert layout["approveTop"] > layout["height"]

        await page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        await page.screenshot(path=shot("approval-phone-end.png"))
        await page.evaluate("window.scrollTo(0, 0)")
        await press(page, APPROVE, tap=True)  # a tap scrolls the button into view first
        assert await heading(page) == "Sent"
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    assert sorted(r["prospect_token"] for r in sent(emulator)) == sorted(tokens)


async def test_expired_link_says_so_and_offers_no_button(emulator: Any, tmp_path: Path, browser: Any) -> None:
    p = people(emulator)
    clock = Clock()
    async with (
        guarded(emulator, tmp_path, clock=clock, approval_ttl=60) as (server, deps),
        http_app(server, deps),
        Client(server) as c,
        tab(browser, PHONE) as page,
    ):
        out = await call(c, "send_message", {"token": p.daniel, "text": "Hello"})
        await page.goto(out["approval_url"])
        clock.advance(61)  # the person left the tab open too long, then clicks
        await press(page, APPROVE)
        assert await heading(page) == "Not valid"
        assert await buttons(page) == 0
        response = await page.goto(out["approval_url"])
        assert response.status == 410
        assert await heading(page) == "No longer valid"
        assert "expired" in await page.locator("body").inner_text()
        assert await buttons(page) == 0
        status = await call(c, "list_sends", {"approval_id": out["approval_id"]})
    assert [i["status"] for i in status["items"]] == ["expired"]
    assert sent(emulator) == []


async def test_a_form_on_another_site_cannot_decide_even_with_the_token(
    emulator: Any, tmp_path: Path, browser: Any
) -> None:
    """A cross-site form post, as a real browser makes it, is refused: the browser itself labels it
    (Sec-Fetch-Site, Origin), so the defence holds even if the page's form token leaked."""
    p = people(emulator)
    async with (
        guarded(emulator, tmp_path) as (server, deps),
        http_app(server, deps),
        Client(server) as c,
        tab(browser, DESKTOP) as page,
    ):
        out = await call(c, "send_message", {"token": p.daniel, "text": "Hello"})
        url = out["approval_url"]
        await page.goto(url)
        token = await page.locator("input[name=form_token]").get_attribute("value")

        evil = (
            f'<form method="post" action="{url}"><input name="form_token" value="{token}">'
            '<button name="decision" value="approve">Win a prize</button></form>'
        )

        async def serve_evil(route: Any) -> None:
            await route.fulfill(status=200, content_type="text/html", body=evil)

        # The browser believes this page came from another site; no header is set by the test.
        await page.route("http://evil.example/**", serve_evil)
        await page.goto("http://evil.example/prize")
        await press(page, "Win a prize")
        assert await heading(page) == "Not accepted"
        assert sent(emulator) == []

        # The real page still works afterwards: nothing was decided.
        await page.goto(url)
        await press(page, "Reject")
        assert await heading(page) == "Rejected"
        status = await call(c, "list_sends", {"approval_id": out["approval_id"]})
    assert [i["status"] for i in status["items"]] == ["rejected"]
    assert sent(emulator) == []
