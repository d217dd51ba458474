"""Staff sign-in with the district's account, in Chromium at 360x800 and 1280x800 against the
real suite and the local OpenID Connect provider (tests/integration/oidc_provider.py): the
sign-in page shows "Sign in with Google" and "Sign in with Microsoft" above the password form;
a Microsoft account that is nobody's on the school file comes back to the page saying so; a
Google account of the school's domain lands on the officer's phone app. axe finds nothing on
either page state, and the browser reports no CSP violation (the buttons are plain forms)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import PageErrors
from tests.browser.suite import DESKTOP, PHONE, CspWatch, Suite, running_suite, suite_settings
from tests.browser.test_a11y import Audit
from tests.browser.test_outbox import fatal
from tests.browser.test_phone_flow import SHOTS
from tests.integration.oidc_provider import (
    ENTRA_CLIENT,
    GOOGLE_CLIENT,
    SECRETS,
    LocalProvider,
    running_provider,
)
from tests.integration.test_web_oidc import DOMAIN, RIVERA, TENANT, school_with_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.nats]


@pytest.fixture
async def signing_in(
    nats_server: Any, tmp_path: Path
) -> AsyncIterator[tuple[Suite, LocalProvider]]:
    async with running_provider() as provider:
        settings = suite_settings(
            nats_server.url,
            tmp_path,
            schools=str(school_with_sign_in(tmp_path, provider)),
            oidc_google_client_secret=SECRETS[GOOGLE_CLIENT],
            oidc_entra_client_secret=SECRETS[ENTRA_CLIENT],
        )
        async with running_suite(settings) as suite:
            yield suite, provider


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_signing_in_with_the_districts_account(
    browser: Any, signing_in: tuple[Suite, LocalProvider], viewport: dict[str, int]
) -> None:
    suite, provider = signing_in
    size = f"{viewport['width']}x{viewport['height']}"
    context = await browser.new_context(viewport=viewport, locale="en-US")
    csp = await CspWatch.attach(context)
    page = await context.new_page()
    errors = PageErrors(page)
    audit = Audit()

    await page.goto(f"{suite.web.url}/signin")
    google = page.get_by_role("button", name="Sign in with Google")
    microsoft = page.get_by_role("button", name="Sign in with Microsoft")
    await google.wait_for()
    await microsoft.wait_for()
    await audit.check(page, "sign-in page with providers")
    await page.screenshot(path=SHOTS / f"signin-providers-{size}.png", full_page=True)

    provider.identity = {"email": "nobody@lakeside.example.org", "tid": TENANT}
    await microsoft.click()
    said = page.get_by_role("alert")
    await said.wait_for()
    assert await said.inner_text() == (
        "Your account is not one of this school's staff in Lookout. Ask the school's admin."
    )
    assert page.url == f"{suite.web.url}/signin/oidc/callback?" + page.url.split("?", 1)[1]
    await audit.check(page, "sign-in page: a provider's account refused")
    await page.screenshot(path=SHOTS / f"signin-provider-refused-{size}.png", full_page=True)

    provider.identity = {"email": RIVERA, "email_verified": True, "hd": DOMAIN}
    await page.get_by_role("button", name="Sign in with Google").click()
    await page.wait_for_url(f"{suite.web.url}/app")
    await page.get_by_text("Dana Rivera").first.wait_for()
    cookies = {c["name"]: c for c in await context.cookies()}
    assert cookies["__Host-lookout"]["httpOnly"] and "__Host-lookout-oidc" not in cookies

    assert audit.found == {}, audit.report()
    assert csp.violations == []
    assert fatal(errors) == []
    await context.close()
