"""The principal's console's "Needs your attention" and "School now" in Chromium, against the
real suite with the alerts service (a real nats-server; patrol, alerts and the web in process,
on a clock stopped at Monday 23 November 2026, 08:00 at Lakeside), seeded as in
tests/integration/test_web_console_overview.py: both sections in words (no student reference,
no note; today's sensor alerts by kind), a new alert listed under "Needs your attention"
without a reload; axe-core finds no violation and the browser no CSP violation at 360x800 and
1280x800; screenshots under SHOTS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from tests.browser.conftest import PageErrors
from tests.browser.suite import (
    DESKTOP,
    PHONE,
    CspWatch,
    open_sign_in_link,
    running_suite,
    suite_settings,
)
from tests.browser.test_a11y import Audit
from tests.browser.test_outbox import fatal
from tests.browser.test_phone_flow import SHOTS
from tests.integration.test_web_alerts import T0, concern, schools_without_email
from tests.integration.test_web_console_overview import seed
from tests.integration.test_web_console_sensors import EXPECTED_WORDS, raised, seed_sensors

pytestmark = [pytest.mark.browser, pytest.mark.nats]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_the_principal_sees_what_needs_attention_and_the_school_now(
    browser: Any, nats_server: Any, tmp_path: Path, viewport: dict[str, int]
) -> None:
    size = f"{viewport['width']}x{viewport['height']}"
    settings = suite_settings(nats_server.url, tmp_path, schools=schools_without_email(tmp_path))
    async with running_suite(settings, ManualClock(T0), with_alerts=True) as suite:
        await seed(suite.js, suite.patrol)
        await seed_sensors(suite.js)  # 3 vape alerts and a THC one this morning
        audit = Audit()
        context = await browser.new_context(
            viewport=viewport, timezone_id="America/Chicago", locale="en-US"
        )
        csp = await CspWatch.attach(context)
        page = await context.new_page()
        errors = PageErrors(page)

        await open_sign_in_link(page, await suite.sign_in_link("principal-okafor"))
        await page.get_by_role("heading", name="Needs your attention").wait_for()
        await page.locator("#now[data-state=ready]").wait_for()
        items = page.locator("#attention-list > li")
        # The alerts open and are notified on their own consumers: their nudges ask again.
        await items.filter(has_text="Told last").nth(1).wait_for(timeout=10_000)
        # Read in one go: a nudge's redraw may replace the list between two reads.
        texts = await items.evaluate_all(
            "els => els.map(li => [...li.querySelectorAll('p')].map(p => p.textContent))"
        )
        assert texts == [
            [
                "Alert not acknowledged: bullying",
                "East stairwell · opened just now",
                "Told last: Ravi Patel",
            ],
            [
                "Alert not acknowledged: vaping",
                "1st floor north boys' bathroom · opened just now",
                "Told last: Dana Rivera",
            ],
            [
                "Concern open over 24 h: bullying",
                "East stairwell · raised 2 d 17 h ago",
                "Raised by: Ravi Patel",
            ],
            [
                "Welfare re-check missed: emotional distress",
                "Courtyard · missed 2 d 16 h ago",
                "Asked of: Dana Rivera",
            ],
        ]
        body = await page.locator("main").inner_text()
        assert "S-104233" not in body and "Jordan" not in body and "sinks" not in body
        assert await page.locator("#now-officers").inner_text() == (
            "Dana Rivera: Main entrance, 7:52 AM"
        )
        assert await page.locator("#now-missed").inner_text() == (
            "1st floor north hallway: 7:30 AM\u20137:37 AM"
        )
        assert await page.locator("#now-sensors li").all_inner_texts() == EXPECTED_WORDS
        zones = await page.locator("#now-zones li").all_inner_texts()
        assert len(zones) == 23
        assert "Cafeteria: checked 7:45 AM by Dana Rivera; next 8:30 AM\u20138:40 AM" in zones
        assert "Library: not checked yet; no window ahead" in zones
        await audit.check(page, "overview: seeded")
        await page.screenshot(path=SHOTS / f"console-overview-{size}.png", full_page=True)

        # A new alert: under "Needs your attention" without a reload (the live nudge).
        await page.evaluate("window.notReloaded = true")
        event = concern("high", "conflict", "cafeteria", T0)
        await suite.js.publish(subject_of(event), event.model_dump_json().encode())
        await items.nth(4).wait_for(timeout=10_000)
        assert await items.first.locator(".attention__what").inner_text() == (
            "Alert not acknowledged: conflict"
        )
        assert await page.evaluate("window.notReloaded") is True
        await audit.check(page, "overview: a new alert")

        # A new sensor alert: School now counts it without a reload (its check's nudge).
        alarm = raised("halo-1n-girls", "vape", T0)
        await suite.js.publish(subject_of(alarm), alarm.model_dump_json().encode())
        fourth = "Vape alerts today: 4, checked within 5 min: 2, median 2:40; 2 not checked yet"
        await page.locator("#now-sensors li", has_text=fourth).wait_for(timeout=10_000)
        assert await page.evaluate("window.notReloaded") is True

        assert audit.found == {}, audit.report()
        assert csp.violations == []
        assert fatal(errors) == []
        await context.close()
