"""A vape sensor's alert on the SSO's phone, in Chromium, against the real suite (a real
nats-server; patrol, alerts and the web in process, on a clock stopped at Monday 23 November
2026, 08:00 at Lakeside): the HALO in the 1st floor north boys' bathroom goes off; without a
reload the phone says so (the live stream's addressed `sensor_check`) and lists it under
"Sensor alerts to check", hers to check by 08:05; she scans the bathroom's checkpoint and the
list empties (the patrol service's `sensor_check.done` nudges Today). axe-core finds no
violation and the browser no CSP violation; screenshots at 360x800 and 1280x800."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import nats
import pytest

from lookout.contracts.sensors import SensorAlertRaised
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from tests.browser.suite import DESKTOP, PHONE, running_suite, suite_settings
from tests.browser.test_phone_flow import SHOTS
from tests.browser.test_today import items
from tests.browser.visit import visit
from tests.integration.test_web_alerts import T0, schools_without_email

pytestmark = [pytest.mark.browser, pytest.mark.nats]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_a_vape_alert_is_on_the_phone_at_once_and_her_scan_ends_it(
    browser: Any, nats_server: Any, tmp_path: Path, viewport: dict[str, int]
) -> None:
    size = f"{viewport['width']}x{viewport['height']}"
    settings = suite_settings(nats_server.url, tmp_path, schools=schools_without_email(tmp_path))
    async with (
        running_suite(settings, ManualClock(T0), with_alerts=True) as suite,
        visit(browser, suite, "sso-rivera", viewport) as sso,
    ):
        page = sso.page
        await page.locator("#today[data-state=fresh]").wait_for()
        assert await items(page, "today-sensors") == []
        await page.evaluate("window.notReloaded = true")

        alert = SensorAlertRaised(
            event_id=uuid.UUID("00000000-0000-4000-8000-0000000000d1"),
            type="sensor.alert.raised",
            school_id="lhs",
            occurred_at=T0,
            actor={"kind": "sensor", "id": "halo-1n-boys"},
            sensor_id="halo-1n-boys",
            zone_id="bath-1n-boys",
            kind="vape",
            vendor="halo",
        )
        nc = await nats.connect(settings.nats_url)
        try:
            await nc.jetstream().publish(subject_of(alert), alert.model_dump_json().encode())
        finally:
            await nc.close()
        listed = page.locator("#today-sensors li")
        await listed.first.wait_for(timeout=10_000)
        assert await items(page, "today-sensors") == [
            ("Vape sensor · 1st floor north boys' bathroom", "8:00 AM · scan by 8:05 AM")
        ]
        assert await page.locator("#today-sensors .badge").inner_text() == "yours"
        assert await page.locator("#today-announce").inner_text() == (
            "Vape sensor in 1st floor north boys' bathroom: scan by 8:05 AM."
        )
        await sso.audit.check(page, "today: a vape sensor's alert to check")
        await page.locator("#today-sensors").scroll_into_view_if_needed()
        await page.screenshot(path=SHOTS / f"phone-sensor-alert-{size}.png")

        await page.select_option("#scan-tag", "T-1NB")
        await page.click("#scan-form button[type=submit]")
        await page.locator("[data-empty=today-sensors]").wait_for(state="visible", timeout=10_000)
        assert await items(page, "today-sensors") == []
        assert await page.evaluate("window.notReloaded") is True
        sso.assert_clean()
