"""Loop closure on the SSO's phone, in Chromium, against the real suite with the alerts service
(a real nats-server; patrol, alerts and the web in process, on a clock stopped at Monday 23
November 2026, 08:00 at Lakeside): a concern raised on the phone shows that its alert is not
acknowledged yet, then — without a reload, by the live stream's nudge — who acknowledged it and
when, by name. axe-core finds no violation and the browser no CSP violation; screenshots at
360x800 and 1280x800."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import nats
import pytest

from lookout.contracts.patrol import ConcernRaised
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from tests.browser.suite import DESKTOP, PHONE, running_suite, suite_settings
from tests.browser.test_phone_flow import SHOTS
from tests.browser.test_today import items
from tests.browser.visit import visit
from tests.integration.test_web_alerts import PRINCIPAL, T0, schools_without_email

pytestmark = [pytest.mark.browser, pytest.mark.nats]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_the_phone_shows_who_acknowledged_the_alert_of_its_concern(
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

        await page.click("#concern summary")
        await page.select_option("#concern-category", "conflict")
        await page.select_option("#concern-severity", "high")
        await page.select_option("#concern-zone", "cafeteria")
        await page.click("#concern-form button[type=submit]")
        mine = page.locator("#today-concerns li .today__meta")
        await mine.filter(has_text="not acknowledged").wait_for(timeout=10_000)
        assert await items(page, "today-concerns") == [
            ("Conflict · Cafeteria", "raised 8:00 AM · alert not acknowledged yet")
        ]

        await page.evaluate("window.notReloaded = true")
        nc = await nats.connect(settings.nats_url)
        try:
            listed = await nc.request(
                f"query.lhs.alerts.list.{PRINCIPAL}", b'{"open_only": true}', timeout=10
            )
            (alert,) = json.loads(listed.data)["result"]["alerts"]
            acked = await nc.request(
                f"command.lhs.alerts.ack.{PRINCIPAL}",
                json.dumps({"alert_id": alert["alert_id"]}).encode(),
                timeout=10,
            )
            assert json.loads(acked.data)["ok"] is True
        finally:
            await nc.close()
        await mine.filter(has_text="acknowledged by").wait_for(timeout=10_000)
        assert await items(page, "today-concerns") == [
            (
                "Conflict · Cafeteria",
                "raised 8:00 AM · alert acknowledged by Ada Okafor 8:00 AM",
            )
        ]
        assert await page.evaluate("window.notReloaded") is True
        await sso.audit.check(page, "today: the alert of a concern acknowledged")
        await page.locator("#today-concerns").scroll_into_view_if_needed()
        await page.screenshot(path=SHOTS / f"phone-loop-closure-{size}.png")
        sso.assert_clean()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_the_phone_shows_who_acknowledged_an_alert_it_was_paged_for(
    browser: Any, nats_server: Any, tmp_path: Path, viewport: dict[str, int]
) -> None:
    """The counselor reports a high conflict in the cafeteria; the `high` policy pages the SSO
    at once. Her Today card lists it under "Alerts you were paged for" — live, without a
    reload — as not acknowledged yet, then acknowledged by the principal, by name."""
    size = f"{viewport['width']}x{viewport['height']}"
    settings = suite_settings(nats_server.url, tmp_path, schools=schools_without_email(tmp_path))
    async with (
        running_suite(settings, ManualClock(T0), with_alerts=True) as suite,
        visit(browser, suite, "sso-rivera", viewport) as sso,
    ):
        page = sso.page
        await page.locator("#today[data-state=fresh]").wait_for()
        assert await items(page, "today-paged") == []
        await page.evaluate("window.notReloaded = true")

        nc = await nats.connect(settings.nats_url)
        try:
            counselors = ConcernRaised.new(
                school_id="lhs",
                occurred_at=T0,
                actor={"kind": "staff", "id": "counselor-patel"},
                concern_id=uuid.UUID("00000000-0000-4000-8000-0000000000c1"),
                category="conflict",
                severity="high",
                zone_id="cafeteria",
                student_refs=["S-2002"],
                note="Pushing in the lunch line",
            )
            await nc.jetstream().publish(
                subject_of(counselors), counselors.model_dump_json().encode()
            )
            paged = page.locator("#today-paged li .today__meta")
            await paged.filter(has_text="not acknowledged").wait_for(timeout=10_000)
            assert await items(page, "today-paged") == [
                ("Conflict concern · Cafeteria", "paged 8:00 AM · alert not acknowledged yet")
            ]
            assert await items(page, "today-concerns") == []  # not hers

            listed = await nc.request(
                f"query.lhs.alerts.list.{PRINCIPAL}", b'{"open_only": true}', timeout=10
            )
            (alert,) = json.loads(listed.data)["result"]["alerts"]
            acked = await nc.request(
                f"command.lhs.alerts.ack.{PRINCIPAL}",
                json.dumps({"alert_id": alert["alert_id"]}).encode(),
                timeout=10,
            )
            assert json.loads(acked.data)["ok"] is True
        finally:
            await nc.close()
        await paged.filter(has_text="acknowledged by").wait_for(timeout=10_000)
        assert await items(page, "today-paged") == [
            (
                "Conflict concern · Cafeteria",
                "paged 8:00 AM · alert acknowledged by Ada Okafor 8:00 AM",
            )
        ]
        assert await page.evaluate("window.notReloaded") is True
        await sso.audit.check(page, "today: an alert the SSO was paged for, acknowledged")
        await page.locator("#today-paged").scroll_into_view_if_needed()
        await page.screenshot(path=SHOTS / f"phone-paged-{size}.png")
        sso.assert_clean()
