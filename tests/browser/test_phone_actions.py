"""The SSO's phone against the real web service (uvicorn), a real nats-server and the patrol and
visitors services in process, on one driven suite clock (the phone stamps its events with the
suite's time, services/web/static/clock.js): raise a concern, update it, resolve it with a
welfare follow-up in 2 school days, and the patrol store has the concern resolved with the
update applied and the follow-up scheduled for the signed-in officer (not the phone); on the
follow-up's day the check-in completes it; a badge check is a sighting in the visitors store.
Screenshots of the new forms at 360x800 and 1280x800 go where test_phone_flow.py puts its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from sqlalchemy import select

from lookout.kernel.clock import ManualClock, SystemClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from services.patrol import app as patrol_app
from services.patrol import store as patrol_store
from services.visitors import app as visitors_app
from services.visitors import store as visitors_store
from services.web import accounts
from tests.browser.conftest import PageErrors
from tests.browser.suite import open_sign_in_link
from tests.browser.test_outbox import fatal
from tests.browser.test_phone_flow import DESKTOP, PHONE, SHOTS, free_port, web_service
from tests.integration.conftest import running, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.nats]

CHICAGO = "America/Chicago"  # the example school's timezone
MONDAY = datetime.fromisoformat("2026-11-23T10:15:00-06:00")  # resolved on Monday…
WEDNESDAY = datetime.fromisoformat("2026-11-25T09:00:00-06:00")  # …2 school days later
UTC_ = UTC


async def rows(kernel: ServiceKernel, *columns: Any) -> list[tuple[Any, ...]]:
    async with kernel.sessions() as session:
        return [tuple(r) for r in (await session.execute(select(*columns))).all()]


async def sign_in_visitor(nc: Any) -> str:
    """The front office signs a parent in for the library, as the front desk does."""
    body = {
        "request_id": "0f0e0d0c-0b0a-4909-8807-060504030201",
        "first_name": "María",
        "last_name": "López",
        "visitor_type": "parent",
        "id_type": "drivers_license",
        "id_last4": "4821",
        "purpose": "Meeting",
        "host_id": "counselor-patel",
        "destination_zones": ["library"],
        "expected_minutes": 120,
    }
    reply = await nc.request(
        "command.lhs.visitors.sign_in.office-garcia", json.dumps(body).encode(), timeout=10
    )
    answer = json.loads(reply.data)
    assert answer["ok"] is True, answer
    return str(answer["result"]["badge_number"])


async def shoot(page: Any, name: str, section: str) -> None:
    """The section at 360x800 and 1280x800 (the page scrolled to it)."""
    for size, label in ((PHONE, "360x800"), (DESKTOP, "1280x800")):
        await page.set_viewport_size(size)
        await page.evaluate(
            "s => document.querySelector(s).scrollIntoView({block: 'start'})", section
        )
        await page.screenshot(path=SHOTS / f"phone-{name}-{label}.png")
    await page.set_viewport_size(PHONE)


async def test_concern_update_resolve_follow_up_and_badge_check_reach_the_services(
    browser: Any, nats_server: Any, tmp_path: Path
) -> None:
    clock = ManualClock(MONDAY.replace(hour=10, minute=5))
    settings = Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        web_host="127.0.0.1",
        web_port=free_port(),
        timers_enabled=False,
    )
    patrol = patrol_app.create_kernel(settings, clock)
    visitors = visitors_app.create_kernel(settings, clock)
    nc = await nats.connect(nats_server.url)
    async with (
        running(patrol, patrol_app.build_app),
        running(visitors, visitors_app.build_app),
        web_service(settings, clock) as base,
    ):
        assert await sign_in_visitor(nc) == "1123-001"  # 10:05, badge 1 of 23 November
        clock.set(MONDAY)
        link = await accounts.issue_link(
            settings, SystemClock(), school_id="lhs", person_id="sso-rivera"
        )
        context = await browser.new_context(viewport=PHONE, timezone_id=CHICAGO, locale="en-US")
        page = await context.new_page()
        errors = PageErrors(page)
        await open_sign_in_link(page, link)
        assert page.url == f"{base}/app"

        # The phone's first heartbeat tells patrol whose phone it is.
        devices = patrol_store.devices.c

        async def bound() -> bool:
            return len(await rows(patrol, devices.device_id, devices.officer_id)) == 1

        await wait_until(bound, what="the phone's heartbeat in the patrol store")
        ((device, officer),) = await rows(patrol, devices.device_id, devices.officer_id)
        assert (device.startswith("phone-"), officer) == (True, "sso-rivera")

        # Raise, update, resolve with a follow-up in 2 school days.
        await page.click("#concern summary")
        await page.select_option("#concern-category", "conflict")
        await page.select_option("#concern-severity", "medium")
        await page.select_option("#concern-zone", "cafeteria")
        await page.fill("#concern-refs", "S-104233")
        await page.click("#concern-form button[type=submit]")
        await page.locator("#banner").filter(has_text="Concern: conflict, medium").wait_for()
        c = patrol_store.concerns.c

        async def raised() -> bool:
            return len(await rows(patrol, c.concern_id)) == 1

        await wait_until(raised, what="the concern in the patrol store")
        ((concern_id,),) = await rows(patrol, c.concern_id)

        await page.click("#concern-update summary")
        await page.select_option("#update-concern", concern_id)
        await page.select_option("#update-severity", "high")
        await page.select_option("#update-zone", "library")
        await page.fill("#update-refs", "S-104233, S-104240")
        await page.fill("#update-note", "moved to the library, a second student")
        await shoot(page, "concern-update", "#concern-update")
        await page.click("#update-form button[type=submit]")
        await page.locator("#banner").filter(has_text="Concern updated (conflict)").wait_for()

        await page.click("#concern-resolve summary")
        await page.select_option("#resolve-concern", concern_id)
        await page.select_option("#resolve-outcome", "referred_to_counselor")
        await page.fill("#resolve-follow-up", "2")
        await shoot(page, "concern-resolve", "#concern-resolve")
        await page.click("#resolve-form button[type=submit]")
        await page.locator("#banner").filter(has_text="Concern resolved (conflict)").wait_for()
        assert await page.eval_on_selector(
            "#resolve-concern", "s => [...s.options].map(o => o.value)"
        ) == [""]  # resolved: no longer offered

        f = patrol_store.follow_ups.c

        async def scheduled() -> bool:
            return len(await rows(patrol, f.concern_id)) == 1

        await wait_until(scheduled, what="the follow-up in the patrol store")
        assert await rows(
            patrol, c.category, c.severity, c.zone_id, c.student_refs, c.status, c.outcome,
            c.raised_at, c.resolved_at,
        ) == [
            ("conflict", "high", "library", ["S-104233", "S-104240"], "resolved",
             "referred_to_counselor", datetime(2026, 11, 23, 16, 15, tzinfo=UTC_),
             datetime(2026, 11, 23, 16, 15, tzinfo=UTC_)),
        ]  # fmt: skip
        # Tuesday is the first school day after, Wednesday the second: 07:15 to 15:45 there.
        assert await rows(
            patrol, f.concern_id, f.officer_id, f.zone_id, f.remind_at, f.deadline_at, f.status
        ) == [
            (concern_id, "sso-rivera", "library", datetime(2026, 11, 25, 13, 15, tzinfo=UTC_),
             datetime(2026, 11, 25, 21, 45, tzinfo=UTC_), "scheduled"),
        ]  # fmt: skip

        # Badge check where the officer last scanned: the library.
        await page.select_option("#scan-tag", "T-LIB")
        await page.click("#scan-form button[type=submit]")
        await page.locator("#banner").filter(has_text="Scan of T-LIB saved.").wait_for()
        assert await page.input_value("#badge-zone") == "library"
        await page.fill("#badge-number", "1123-001")
        await shoot(page, "badge-check", "#badge")
        await page.click("#badge-form button[type=submit]")
        await page.locator("#banner").filter(has_text="Badge 1123-001 seen · Library").wait_for()
        s = visitors_store.sightings.c

        async def sighted() -> bool:
            return len(await rows(visitors, s.event_id)) == 1

        await wait_until(sighted, what="the sighting in the visitors store")
        assert await rows(
            visitors, s.badge_number, s.zone_id, s.seen_by, s.seen_at, s.out_of_bounds
        ) == [("1123-001", "library", device, datetime(2026, 11, 23, 16, 15, tzinfo=UTC_), 0)]

        # Wednesday: the check-in about the concern completes its follow-up.
        clock.set(WEDNESDAY)
        await page.reload()  # a fresh reading of the suite's time
        # The Today card lists the follow-up due; its Check in opens the contact form for it.
        await page.click(f"#today-follow-ups li[data-concern-id='{concern_id}'] button")
        await (
            page.locator("#contact-form .followup")
            .filter(has_text="Follow-up check-in for conflict, high · Library")
            .wait_for()
        )
        assert await page.input_value("#contact-kind") == "check_in"
        assert await page.input_value("#contact-zone") == "library"
        await page.fill("#contact-refs", "S-104233")
        await page.fill("#contact-note", "doing fine, eating lunch with friends")
        await shoot(page, "follow-up", "#contact")
        await page.click("#contact-form button[type=submit]")
        await page.locator("#banner").filter(has_text="Contact: check in (follow-up)").wait_for()

        async def done() -> bool:
            return (await rows(patrol, f.status))[0][0] == "done"

        await wait_until(done, what="the follow-up done in the patrol store")
        assert await rows(patrol, f.status, f.done_at) == [
            ("done", datetime(2026, 11, 25, 15, 0, tzinfo=UTC_))
        ]
        ct = patrol_store.contacts.c
        assert await rows(patrol, ct.kind, ct.concern_id, ct.student_refs, ct.zone_id) == [
            ("check_in", concern_id, ["S-104233"], "library")
        ]
        await page.locator("#queue-state").filter(has_text="all delivered ✓").wait_for()
        assert await page.locator("#recent .state--rejected").count() == 0
        assert fatal(errors) == []
        await context.close()
    await nc.close()
