"""The console's "School now" by building and floor in Chromium, against the real suite (a real
nats-server; patrol, alerts and the web in process, Monday 23 November 2026, 08:00 at
Lakeside), seeded as in tests/integration/test_web_console_overview.py (the cafeteria and the
main entrance, both on the Main building's 1st floor, scanned this morning): the roll-up by
building and floor, then the 2nd floor chosen in the select — its five zones only, kept in the
address across a reload; then the hotspots page asked for the 1st floor by its address (its
bathroom's low concern: 1 point / 20 school days). axe-core finds no violation and the browser
no CSP violation at 360x800 and 1280x800; screenshots under SHOTS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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
from tests.integration.test_web_alerts import T0, schools_without_email
from tests.integration.test_web_console_overview import seed

pytestmark = [pytest.mark.browser, pytest.mark.nats]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_the_principal_filters_school_now_by_floor(
    browser: Any, nats_server: Any, tmp_path: Path, viewport: dict[str, int]
) -> None:
    size = f"{viewport['width']}x{viewport['height']}"
    settings = suite_settings(nats_server.url, tmp_path, schools=schools_without_email(tmp_path))
    async with running_suite(settings, ManualClock(T0), with_alerts=True) as suite:
        await seed(suite.js, suite.patrol)
        audit = Audit()
        context = await browser.new_context(
            viewport=viewport, timezone_id="America/Chicago", locale="en-US"
        )
        csp = await CspWatch.attach(context)
        page = await context.new_page()
        errors = PageErrors(page)

        await open_sign_in_link(page, await suite.sign_in_link("principal-okafor"))
        await page.locator("#now[data-state=ready]").wait_for()
        assert await page.locator("#now-areas li").all_inner_texts() == [
            "Main building: 2 of 16 zones checked today, last 7:52 AM",
            "Main building, 1st floor: 2 of 9 zones checked today, last 7:52 AM",
            "Main building, 2nd floor: 0 of 5 zones checked today",
            "Gym building: 0 of 4 zones checked today",
            "Grounds: 0 of 3 zones checked today",
        ]
        area = page.get_by_label("Building or floor")
        assert await area.locator("option").all_inner_texts() == [
            "Whole school",
            "Main building",
            "\u00a0\u00a0Main building, 1st floor",
            "\u00a0\u00a0Main building, 2nd floor",
            "Gym building",
            "Grounds",
        ]
        await audit.check(page, "school now: whole school")

        await area.select_option("main-2")
        zones = page.locator("#now-zones li")
        # The list is replaced at once: its first line upstairs means the answer is drawn.
        await zones.first.filter(has_text="2nd floor south boys'").wait_for()
        assert await zones.all_inner_texts() == [
            "2nd floor south boys' bathroom: not checked yet; no window ahead",
            "2nd floor south girls' bathroom: not checked yet; no window ahead",
            "2nd floor north hallway: not checked yet; no window ahead",
            "2nd floor south hallway: not checked yet; no window ahead",
            "Library: not checked yet; no window ahead",
        ]
        assert await page.locator("#now-missed").inner_text() == "None today."
        assert page.url.endswith("/app?area=main-2")
        await audit.check(page, "school now: 2nd floor")
        await page.screenshot(path=SHOTS / f"console-areas-{size}.png", full_page=True)

        await page.reload()
        await page.locator("#now[data-state=ready]").wait_for()
        assert await area.input_value() == "main-2"
        assert await zones.count() == 5

        # The hotspots page, asked for the 1st floor by its address: its bathroom only.
        await page.goto(page.url.replace("/app?area=main-2", "/console/concerns?area=main-1"))
        await page.locator("#hotspots[data-state=ready]").wait_for()
        assert await page.locator("#hotspots-area").input_value() == "main-1"
        assert await page.locator("#hotspots-list .attention__what").all_inner_texts() == [
            "1st floor north boys' bathroom, period 1 (07:45\u201308:35)"
        ]
        assert await page.locator("#hotspots-areas li").all_inner_texts() == [
            "Main building: 0.05 per school day (1 concern, 0 observations)",
            "Main building, 1st floor: 0.05 per school day (1 concern, 0 observations)",
        ]
        await audit.check(page, "hotspots: 1st floor")
        await page.screenshot(path=SHOTS / f"console-areas-hotspots-{size}.png", full_page=True)

        assert audit.found == {}, audit.report()
        assert csp.violations == []
        assert fatal(errors) == []
        await context.close()
