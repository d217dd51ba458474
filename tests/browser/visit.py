"""One person's visit in Chromium, as the console and phone page tests make it: a context at the
viewport on Lakeside's clock and locale (America/Chicago, en-US), CSP violations watched, page
errors and axe audits gathered, signed in by a one-time link; and the three checks every page
test ends with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from tests.browser.conftest import PageErrors
from tests.browser.suite import CspWatch, Suite, open_sign_in_link
from tests.browser.test_a11y import Audit
from tests.browser.test_outbox import fatal


@dataclass
class Visit:
    page: Any
    audit: Audit
    csp: CspWatch
    errors: PageErrors

    def assert_clean(self) -> None:
        """No axe violation in any audited state, no CSP violation, no page error."""
        assert self.audit.found == {}, self.audit.report()
        assert self.csp.violations == []
        assert fatal(self.errors) == []


@asynccontextmanager
async def visit(
    browser: Any, suite: Suite, person: str, viewport: dict[str, int]
) -> AsyncIterator[Visit]:
    """`person` signed in at `viewport`; the context is closed on the way out."""
    context = await browser.new_context(
        viewport=viewport, timezone_id="America/Chicago", locale="en-US"
    )
    try:
        csp = await CspWatch.attach(context)
        page = await context.new_page()
        signed = Visit(page, Audit(), csp, PageErrors(page))
        await open_sign_in_link(page, await suite.sign_in_link(person))
        yield signed
    finally:
        await context.close()
