"""The console's concerns page in Chromium, against the real suite (a real nats-server; patrol,
alerts and the web in process, on a clock stopped at Monday 23 November 2026, 08:00 at
Lakeside), seeded as in tests/integration/test_web_console_overview.py: reached from the
console's link, it lists the open concerns with the students' references (never a note), the
hotspots and next week's focus in words; axe-core finds no violation and the browser no CSP
violation at 360x800 and 1280x800; screenshots under SHOTS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lookout.kernel.clock import ManualClock
from tests.browser.suite import DESKTOP, PHONE, running_suite, suite_settings
from tests.browser.test_phone_flow import SHOTS
from tests.browser.visit import visit
from tests.integration.test_web_alerts import T0, schools_without_email
from tests.integration.test_web_console_overview import seed

pytestmark = [pytest.mark.browser, pytest.mark.nats]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_the_principal_reads_open_concerns_and_hotspots(
    browser: Any, nats_server: Any, tmp_path: Path, viewport: dict[str, int]
) -> None:
    size = f"{viewport['width']}x{viewport['height']}"
    settings = suite_settings(nats_server.url, tmp_path, schools=schools_without_email(tmp_path))
    async with running_suite(settings, ManualClock(T0), with_alerts=True) as suite:
        await seed(suite.js, suite.patrol)
        async with visit(browser, suite, "principal-okafor", viewport) as principal:
            await _read_the_page(principal.page, size)
            await principal.audit.check(principal.page, "concerns and hotspots")
            principal.assert_clean()


async def _read_the_page(page: Any, size: str) -> None:
    """Reached from the board's link: the concerns, the hotspots and the focus, as shown."""
    await page.get_by_role("link", name="Concerns and hotspots").click()
    await page.locator("#concerns[data-state=ready]").wait_for()
    await page.locator("#hotspots[data-state=ready]").wait_for()
    concerns = await page.locator("#concerns-list > li").evaluate_all(
        "els => els.map(li => [...li.querySelectorAll('p')].map(p => p.textContent))"
    )
    assert concerns == [
        [
            "Medium · bullying",
            "East stairwell · raised Fri, Nov 20, 2:10 PM (2 d 17 h ago)",
            "Raised by Ravi Patel",
            "Students: S-104233",
        ],
        [
            "Low · vaping",
            "1st floor north boys' bathroom · raised Mon, Nov 23, 7:50 AM (10 min ago)",
            "Raised by an SSO's phone (phone-rivera)",
            "Students: S-2001",
        ],
    ]
    assert await page.locator("#concerns-note").inner_text() == "2 open."
    hotspots = await page.locator("#hotspots-list > li").evaluate_all(
        "els => els.map(li => [...li.querySelectorAll('p')].map(p => p.textContent))"
    )
    assert hotspots == [
        [
            "East stairwell, period 6 (13:30\u201314:20)",
            "1 concern (bullying 1)",
            "Already in the patrol plan.",
        ],
        [
            "1st floor north boys' bathroom, period 1 (07:45\u201308:35)",
            "1 concern (vaping 1)",
            "Not in the patrol plan.",
        ],
    ]
    assert await page.locator("#hotspots-note").inner_text() == (
        "The last 20 school days, worst first."
    )
    assert await page.locator("#focus-list > li").count() == 2
    body = await page.locator("main").inner_text()
    assert "Jordan" not in body and "sinks" not in body  # notes never reach the page
    await page.screenshot(path=SHOTS / f"console-concerns-{size}.png", full_page=True)
