"""Accessibility and the CSP in every page and state of the web client, at 360x800 and
1280x800, in Chromium against the real suite: axe-core (from the axe-playwright-python package)
finds 0 violations (its WCAG 2.x A/AA and best-practice rules, with WCAG 2.2's target size), and
the browser reports no CSP violation. The pages: the sign-in form and its error, the phone app
(empty, each Log form open, each form refusing an empty save, actions saved on the phone without
signal, delivered), a checkpoint's page, the sign-in page after signing out, and a one-time
link's page."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.browser.conftest import PageErrors
from tests.browser.suite import DESKTOP, PHONE, CspWatch, Phone, Suite, signed_in_phone
from tests.browser.test_outbox import fatal
from tests.browser.test_phone_flow import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.nats]


# Every rule axe runs by default, and WCAG 2.2's target size (off by default in axe 4.12).
AXE_OPTIONS = {"resultTypes": ["violations"], "rules": {"target-size": {"enabled": True}}}


WAYS = ("open", "refused")
FIXED_STATES = [
    "phone: empty",
    "phone: offline, 2 saved on phone",
    "phone: offline, reloaded",
    "phone: delivered",
    "checkpoint page: delivered",
    "checkpoint URL without signal",
    "sign-in form (signed out)",
    "sign-in form: refused",
    "one-time link's page",
]


class Audit:
    """axe-core's violations per page state, and the CSP violations seen meanwhile."""

    def __init__(self) -> None:
        from axe_playwright_python.async_playwright import Axe

        self.axe = Axe()
        self.found: dict[str, list[str]] = {}
        self.states: list[str] = []

    async def check(self, page: Any, state: str) -> None:
        results = await self.axe.run(page, options=AXE_OPTIONS)
        self.states.append(state)
        for violation in results.response["violations"]:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
            self.found.setdefault(state, []).append(f"{violation['id']}: {targets}")

    def report(self) -> str:
        return "\n".join(f"{state}:\n  " + "\n  ".join(v) for state, v in self.found.items())


async def phone_states(audit: Audit, context: Any, suite: Suite) -> Phone:
    phone = await signed_in_phone(context, suite)
    page = phone.page
    await audit.check(page, "phone: empty")

    # Each Log form open (the ones there are: new forms are checked as they come).
    for details in await page.locator("details.action").all():
        name = await details.get_attribute("id")
        await details.locator("summary").click()
        await audit.check(page, f"phone: {name} form open")
        # Saved without what it needs: the form says what is missing.
        await details.locator("button[type=submit]").click()
        await audit.check(page, f"phone: {name} form refused")
        await page.reload()

    await context.set_offline(True)
    await phone.scan("T-1NB")
    await phone.observation("courtyard", "loitering", "two students by the fence")
    await phone.queue_says("2 saved on phone, waiting for signal")
    await audit.check(page, "phone: offline, 2 saved on phone")
    await page.reload()
    await phone.queue_says("2 saved on phone, waiting for signal")
    await audit.check(page, "phone: offline, reloaded")
    await context.set_offline(False)
    await phone.queue_says("all delivered ✓")
    await audit.check(page, "phone: delivered")

    await page.goto(f"{suite.web.url}/t/lhs/T-CAF-N")
    await page.locator("#scan-state[data-state=delivered]").wait_for()
    await audit.check(page, "checkpoint page: delivered")
    await context.set_offline(True)
    await page.goto(f"{suite.web.url}/t/lhs/T-LIB")  # the kept Today page records it
    await page.locator("#banner").filter(has_text="Scan of T-LIB saved.").wait_for()
    await audit.check(page, "checkpoint URL without signal")
    await context.set_offline(False)
    return phone


async def sign_in_states(audit: Audit, context: Any, suite: Suite, phone: Phone) -> None:
    page = phone.page
    # Signing out (from the phone's page, with its CSRF token) lands on the sign-in form.
    await page.goto(f"{suite.web.url}/app")
    status = await page.evaluate(
        """async () => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const res = await fetch("/signout", {method: "POST", headers: {"X-CSRF-Token": token}});
            return res.redirected ? new URL(res.url).pathname : String(res.status);
        }"""
    )
    assert status == "/signin"
    await page.goto(f"{suite.web.url}/app")
    assert page.url == f"{suite.web.url}/signin?next=/app"
    await audit.check(page, "sign-in form (signed out)")

    await page.fill("input[name=school]", "lhs")
    await page.fill("input[name=person]", "sso-rivera")
    await page.fill("input[name=password]", "not the password")
    async with page.expect_response(f"{suite.web.url}/signin") as answer:
        await page.click("form button")
    assert (await answer.value).status == 401
    await page.get_by_role("alert").filter(has_text="was not recognised").wait_for()
    await audit.check(page, "sign-in form: refused")

    # A one-time link opens on a page saying whom it signs in, with one button.
    await page.goto(await suite.sign_in_link())
    await page.get_by_role("heading", name="Sign in as Dana Rivera").wait_for()
    await audit.check(page, "one-time link's page")
    size = page.viewport_size
    await page.screenshot(path=SHOTS / f"signin-link-{size['width']}x{size['height']}.png")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_every_page_and_state_has_no_axe_violation_and_no_csp_violation(
    browser: Any, suite: Suite, viewport: dict[str, int]
) -> None:
    context = await browser.new_context(viewport=viewport)
    csp = await CspWatch.attach(context)
    audit = Audit()
    phone = await phone_states(audit, context, suite)
    errors = PageErrors(phone.page)
    await sign_in_states(audit, context, suite, phone)

    forms = [f"phone: {f} form {s}" for f in ("concern", "observation", "contact") for s in WAYS]
    assert set(FIXED_STATES + forms) <= set(audit.states), audit.states
    assert audit.found == {}, audit.report()
    assert csp.violations == []
    assert fatal(errors) == []
    await context.close()


async def test_a_csp_violation_is_reported(browser: Any, suite: Suite) -> None:
    """The watch the tests rely on hears a violation: an inline script without the nonce."""
    context = await browser.new_context(viewport=PHONE)
    csp = await CspWatch.attach(context)
    phone = await signed_in_phone(context, suite)
    await phone.page.evaluate(
        """() => {
            const s = document.createElement("script");
            s.textContent = "window.injected = true";
            document.body.append(s);
        }"""
    )
    await asyncio.wait_for(csp.reported.wait(), timeout=5)
    assert await phone.page.evaluate("() => window.injected === undefined")
    assert csp.violations == [f"script-src-elem blocked inline in {suite.web.url}/app"]
    await context.close()
