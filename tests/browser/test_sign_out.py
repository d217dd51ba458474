"""Signing out on the phone, against the real suite in Chromium at 360x800 and 1280x800: with
actions still saved on the phone it asks first and says they stay queued; without signal it
says the officer is still signed in; signed out, the session is ended on the server, the kept
Today page is gone from the service worker's cache, and what was queued is delivered once at
the next sign-in."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from tests.browser.conftest import PageErrors
from tests.browser.suite import (
    DESKTOP,
    PHONE,
    CspWatch,
    Suite,
    open_sign_in_link,
    signed_in_phone,
)
from tests.browser.test_outbox import fatal
from tests.browser.test_phone_flow import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.nats]

WARNING = (
    "1 action saved on this phone is not delivered yet. It stays on this phone and is sent "
    "when you sign in again. Sign out?"
)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_sign_out_asks_when_actions_are_queued_and_never_drops_them(
    browser: Any, suite: Suite, viewport: dict[str, int]
) -> None:
    context = await browser.new_context(viewport=viewport)
    csp = await CspWatch.attach(context)
    phone = await signed_in_phone(context, suite)
    page = phone.page
    errors = PageErrors(page)
    button = page.get_by_role("button", name="Sign out")
    await button.wait_for()
    size = f"{viewport['width']}x{viewport['height']}"
    await page.screenshot(path=SHOTS / f"phone-header-sign-out-{size}.png")

    await context.set_offline(True)
    await phone.scan("T-LIB")
    await phone.queue_says("1 saved on phone")
    made = set(await phone.outbox())

    # The confirm dialog: its message, answered as the test says (Cancel, then OK).
    dialogs: asyncio.Queue[str] = asyncio.Queue()
    answers = [False, True]

    async def answer(dialog: Any) -> None:
        dialogs.put_nowait(dialog.message)
        await (dialog.accept() if answers.pop(0) else dialog.dismiss())

    page.on("dialog", answer)
    await button.click()
    assert await asyncio.wait_for(dialogs.get(), 10) == WARNING
    await phone.queue_says("1 saved on phone")
    assert page.url == f"{suite.web.url}/app"  # "Cancel": still here, still signed in

    await button.click()  # "OK", but without signal the server cannot end the session
    assert await asyncio.wait_for(dialogs.get(), 10) == WARNING
    await page.locator("#banner").filter(has_text="No signal: you are still signed in.").wait_for()
    assert {state for state, _ in (await phone.outbox()).values()} == {"queued"}

    await context.set_offline(False)
    await phone.queue_says("all delivered ✓")
    assert await suite.settled(made) == Counter(dict.fromkeys(made, 1))

    # Nothing queued: no question. Signed out, the page is the sign-in form, /app asks to sign
    # in, and the kept Today page (this officer's name and token) is gone from the cache.
    await button.click()
    await page.wait_for_url(f"{suite.web.url}/signin")
    assert dialogs.empty() and answers == []
    await page.goto(f"{suite.web.url}/app")
    assert page.url == f"{suite.web.url}/signin?next=/app"
    kept = await page.evaluate(
        """async () => {
            const found = [];
            for (const name of await caches.keys()) {
                if (await (await caches.open(name)).match("/app")) found.push(name);
            }
            return found;
        }"""
    )
    assert kept == []

    await open_sign_in_link(page, await suite.sign_in_link())
    assert await suite.settled(made) == Counter(dict.fromkeys(made, 1))
    assert csp.violations == []
    assert fatal(errors) == []
    await context.close()
