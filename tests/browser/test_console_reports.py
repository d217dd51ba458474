"""The console's weekly reports archive in Chromium, against the real suite and the real reports
service (the scripted week of tests/unit/reports sent through a real SMTP server): reached from
the console's link, the archive lists the sent week and opens it as it was emailed (its charts
shown from data: URIs under the copy's own policy, which runs no script); axe-core finds no
violation on the archive and the browser no CSP violation at 360x800 and 1280x800; screenshots
of both pages under SHOTS."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import Settings
from lookout.local.runtime import MailSink
from services.reports.app import build_app, create_kernel
from tests.browser.suite import DESKTOP, PHONE, running_suite, suite_settings
from tests.browser.test_phone_flow import SHOTS
from tests.browser.visit import visit
from tests.integration.conftest import running, wait_until
from tests.integration.test_reports_service import drained, publish_week
from tests.integration.test_web_alerts import T0, schools_without_email

pytestmark = [pytest.mark.browser, pytest.mark.nats]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_the_principal_opens_last_weeks_summary_from_the_archive(
    browser: Any, nats_server: Any, tmp_path: Path, viewport: dict[str, int]
) -> None:
    size = f"{viewport['width']}x{viewport['height']}"
    settings = suite_settings(nats_server.url, tmp_path, schools=schools_without_email(tmp_path))
    sink = MailSink(tmp_path / "mail").start()
    reports = create_kernel(
        Settings(
            data_dir=tmp_path / "reports-data",
            nats_url=nats_server.url,
            reports_db_url=f"sqlite+aiosqlite:///{tmp_path / 'reports.db'}",
            timers_enabled=False,
            smtp_port=sink.port,
        ),
        ManualClock(datetime(2026, 11, 27, 21, 5, tzinfo=UTC)),  # Friday 15:05 in Chicago
    )
    try:
        async with (
            running_suite(settings, ManualClock(T0), with_alerts=True) as suite,
            running(reports, build_app),
        ):
            await publish_week(suite.js)
            await wait_until(lambda: drained(suite.js), what="the reports read model")
            await reports.reports_mailer.run_once()  # type: ignore[attr-defined]
            async with visit(browser, suite, "principal-okafor", viewport) as principal:
                page = principal.page
                await page.get_by_role("link", name="Weekly reports").click()
                await page.get_by_role("heading", name="Weekly reports").wait_for()
                items = await page.locator("#reports-list > li").evaluate_all(
                    "els => els.map(li => [...li.querySelectorAll('p')].map(p => p.textContent))"
                )
                assert items == [["Week of 23 \u2013 27 Nov", "Sent to 2 people"]]
                await principal.audit.check(page, "weekly reports archive")
                await page.screenshot(path=SHOTS / f"console-reports-{size}.png", full_page=True)

                await page.get_by_role("link", name="Week of 23 \u2013 27 Nov").click()
                await page.wait_for_url("**/console/reports/2026-W48")
                # The charts load from data: URIs: each image decoded, none broken.
                loaded = await page.locator("img").evaluate_all(
                    "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
                )
                assert loaded == [True, True]
                await page.screenshot(
                    path=SHOTS / f"console-report-copy-{size}.png", full_page=True
                )
                principal.assert_clean()
    finally:
        sink.stop()
