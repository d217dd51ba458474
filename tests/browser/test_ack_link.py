"""An alert email's acknowledge link in Chromium, against the real suite with the alerts service
(a real nats-server; patrol, alerts and the web in process, on a clock stopped at Monday 23
November 2026, 09:30 at Lakeside) and a real SMTP server (aiosmtpd): a critical concern reaches
the principal's mailbox; she opens the link (the confirm page: what, where, when; nothing
acknowledged yet), taps Acknowledge and reads who acknowledged it and when. A changed link is
the "not valid" page. axe-core finds no violation and the browser no CSP violation on each
page, at 360x800 and 1280x800; screenshots of both sizes under SHOTS."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from tests.browser.conftest import PageErrors
from tests.browser.suite import DESKTOP, PHONE, CspWatch, running_suite, suite_settings
from tests.browser.test_a11y import Audit
from tests.browser.test_console import stored_alert
from tests.browser.test_outbox import fatal
from tests.browser.test_phone_flow import SHOTS
from tests.integration.conftest import wait_until
from tests.integration.test_web_alerts import concern
from tests.unit.alerts import conftest as alerts_fixtures
from tests.unit.alerts.conftest import SmtpSink

pytestmark = [pytest.mark.browser, pytest.mark.nats]

smtp_sink = alerts_fixtures.smtp_sink

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # Monday 09:30 in Chicago
LINK = re.compile(r"^  (http://127\.0\.0\.1:\d+/ack/LA1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\r?$", re.M)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_the_principal_opens_the_emailed_link_and_taps_acknowledge(
    browser: Any, nats_server: Any, tmp_path: Path, smtp_sink: SmtpSink, viewport: dict[str, int]
) -> None:
    size = f"{viewport['width']}x{viewport['height']}"
    settings = suite_settings(nats_server.url, tmp_path, smtp_port=smtp_sink.port)
    async with running_suite(settings, ManualClock(NOW), with_alerts=True) as suite:
        event = concern("critical", "weapon", "gym", NOW)
        await suite.js.publish(subject_of(event), event.model_dump_json().encode())

        async def mailed() -> bool:
            return any(m["To"] == "a.okafor@lakeside.example.org" for m in smtp_sink.messages)

        await wait_until(mailed, within=30, what="the principal's email")
        mail = next(m for m in smtp_sink.messages if m["To"] == "a.okafor@lakeside.example.org")
        found = LINK.search(mail.get_content())
        assert found is not None
        link = found.group(1)

        audit = Audit()
        context = await browser.new_context(
            viewport=viewport, timezone_id="America/Chicago", locale="en-US"
        )
        csp = await CspWatch.attach(context)
        page = await context.new_page()
        errors = PageErrors(page)

        # Opening the link: the confirm page; nothing acknowledged.
        await page.goto(link)
        await page.get_by_role("heading", name="Acknowledge this alert?").wait_for()
        assert await page.title() == "Acknowledge alert · Lookout"
        assert await page.locator("dd").all_inner_texts() == [
            "weapon (critical)",
            "Gymnasium",
            "Mon 23 Nov 2026, 09:30 CST",
        ]
        assert (await stored_alert(suite, "weapon"))["status"] == "open"
        await audit.check(page, "ack link: confirm")
        await page.screenshot(path=SHOTS / f"ack-link-confirm-{size}.png", full_page=True)

        # One tap: acknowledged as the principal.
        await page.get_by_role("button", name="Acknowledge").click()
        await page.get_by_role("heading", name="Acknowledged").wait_for()
        assert await page.get_by_role("status").inner_text() == (
            "Acknowledged by Ada Okafor at Mon 23 Nov 2026, 09:30 CST."
        )
        assert await stored_alert(suite, "weapon") == {
            "status": "acknowledged",
            "acknowledged_by": "principal-okafor",
            "resolved_by": None,
        }
        await audit.check(page, "ack link: acknowledged")
        await page.screenshot(path=SHOTS / f"ack-link-done-{size}.png", full_page=True)

        # A changed link: not valid, saying no more.
        await page.goto(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))
        await page.get_by_role("heading", name="This link is not valid").wait_for()
        await audit.check(page, "ack link: not valid")
        await page.screenshot(path=SHOTS / f"ack-link-invalid-{size}.png", full_page=True)

        assert audit.states == [
            "ack link: confirm",
            "ack link: acknowledged",
            "ack link: not valid",
        ]
        assert audit.found == {}, audit.report()
        assert csp.violations == []
        assert fatal(errors) == []
        await context.close()
