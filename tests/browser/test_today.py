"""The Today card on the SSO's phone, in Chromium, against the real web service, a real
nats-server and the patrol service in process, all on a clock stopped at Monday 23 November 2026,
09:30 at Lakeside High: the windows the plan holds from then, a welfare re-check due, an
unannounced check published on NATS that appears without a reload (and is announced), a concern
raised on the phone that comes back under "My open concerns", the phone's device bound to the
signed-in officer in the patrol store by its first heartbeat, and the kept answer "as of 9:30 AM"
without signal. Screenshots at 360x800 and 1280x800."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from sqlalchemy import insert, select

from lookout.contracts.patrol import UnannouncedCheckScheduled
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock, SystemClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from services.patrol import app as patrol_app
from services.patrol import store as patrol_store
from services.web import accounts
from tests.browser.conftest import PageErrors
from tests.browser.suite import open_sign_in_link
from tests.browser.test_outbox import fatal
from tests.browser.test_phone_flow import DESKTOP, PHONE, SHOTS, free_port
from tests.integration.conftest import running, wait_until
from tests.integration.test_web_live import serve_web

pytestmark = [pytest.mark.browser, pytest.mark.nats]

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # Monday 09:30 in Chicago
SPAN = " \u2013 "  # how Chromium writes an en-US time span: 9:32 - 9:39 AM, an en dash
FOLLOW_UP = "00000000-0000-4000-8000-000000000011"

# From the school file's bell schedule and patrol plan, by hand: at 09:30 the next windows are
# passing period 2's, bathrooms (grace 3) then hallways (grace 2) in the file's zone order
# (times as the phone's en-US locale writes them); the card shows the first four.
FIRST_WINDOWS = [
    ("1st floor north boys' bathroom", f"9:32{SPAN}9:39 AM · by 9:42 AM"),
    ("1st floor north girls' bathroom", f"9:32{SPAN}9:39 AM · by 9:42 AM"),
    ("1st floor south all-gender bathroom", f"9:32{SPAN}9:39 AM · by 9:42 AM"),
    ("2nd floor south boys' bathroom", f"9:32{SPAN}9:39 AM · by 9:42 AM"),
]
# 63 windows from 09:30: passing periods 2-6 (5 bathrooms + 4 hallways each: 45), lunch A and B
# (5 bathrooms, and the cafeteria and courtyard every 15 minutes: 2 + 2 each: 18); 4 shown.
MORE_WINDOWS = "and 59 more windows today"


async def rows(kernel: ServiceKernel, table: Any) -> list[dict[str, Any]]:
    async with kernel.sessions() as session:
        return [dict(r._mapping) for r in await session.execute(select(table))]


async def items(page: Any, list_id: str) -> list[tuple[str, str]]:
    return [
        (
            await li.locator(".today__what").inner_text(),
            await li.locator(".today__meta").inner_text(),
        )
        for li in await page.locator(f"#{list_id} > li").all()
    ]


async def test_today_card_windows_live_check_concern_heartbeat_and_offline(
    browser: Any, nats_server: Any, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        web_host="127.0.0.1",
        web_port=free_port(),
        patrol_seed="browser-test",
        timers_enabled=False,  # the day is planned once, below; nothing moves the clock
    )
    clock = ManualClock(NOW)
    patrol = patrol_app.create_kernel(settings, clock)
    async with running(patrol, patrol_app.build_app), serve_web(settings, clock) as app:
        assert patrol.ticker is not None
        await patrol.ticker.tick()  # plans Monday's windows: those before 09:30 not monitored
        async with patrol.sessions.begin() as session:
            await session.execute(
                insert(patrol_store.follow_ups).values(
                    concern_id=FOLLOW_UP,
                    school_id="lhs",
                    officer_id="sso-rivera",
                    zone_id="cafeteria",
                    category="emotional_distress",
                    severity="medium",
                    remind_at=NOW - timedelta(hours=2),
                    deadline_at=NOW + timedelta(hours=5, minutes=30),
                    status="reminded",
                )
            )
        # The plan's own unannounced-check notices are published before the phone listens.
        await wait_until(lambda: _all_sent(patrol), what="patrol's outbox sent")
        link = await accounts.issue_link(  # sessions and links run on the wall clock
            settings, SystemClock(), school_id="lhs", person_id="sso-rivera"
        )
        context = await browser.new_context(
            viewport=PHONE, timezone_id="America/Chicago", locale="en-US"
        )
        page = await context.new_page()
        errors = PageErrors(page)
        await open_sign_in_link(page, link)
        card = page.locator("#today")
        await page.locator("#today[data-state=fresh]").wait_for()

        assert await items(page, "today-windows") == FIRST_WINDOWS
        assert await page.locator("#today-windows-more").inner_text() == MORE_WINDOWS
        assert await items(page, "today-follow-ups") == [
            ("Emotional distress · Cafeteria", "due by 3:00 PM")
        ]
        assert await page.locator("#today-asof").is_hidden()  # fresh: no "as of"

        # The first heartbeat bound this phone to the signed-in officer in the patrol store.
        device_id = await page.evaluate(
            "import('/static/outbox.js').then(m => m.openOutbox()).then(o => o.deviceId())"
        )
        await wait_until(
            lambda: _has_rows(patrol, patrol_store.devices), what="the phone in patrol's devices"
        )
        assert [
            (r["school_id"], r["device_id"], r["officer_id"], r["last_seen_at"])
            for r in await rows(patrol, patrol_store.devices)
        ] == [("lhs", device_id, "sso-rivera", NOW)]

        # An unannounced check scheduled for her: on the card at once, no reload, announced.
        await page.evaluate("window.notReloaded = true")
        await wait_until(lambda: _streams(app, 1), what="the phone's live stream", within=10.0)
        check = UnannouncedCheckScheduled.new(
            school_id="lhs",
            occurred_at=NOW,
            actor={"kind": "service", "id": "patrol"},
            officer_id="sso-rivera",
            zone_id="library",
            check_at=NOW + timedelta(hours=4, minutes=30),
            window_end=NOW + timedelta(hours=4, minutes=40),
        )
        nc = await nats.connect(nats_server.url)
        await nc.jetstream().publish(
            subject_of(check),
            check.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(check.event_id)},
        )
        await nc.close()
        new = page.locator("#today-unannounced li", has=page.locator(".badge--new"))
        await new.wait_for()
        assert await new.locator(".today__what").inner_text() == "Library"
        assert await new.locator(".today__meta").inner_text() == f"2:00{SPAN}2:10 PM"
        announced = page.locator("#today-announce")
        assert await announced.get_attribute("role") == "status"
        assert await announced.inner_text() == "Unannounced check scheduled: Library, 2:00 PM."
        assert await page.evaluate("window.notReloaded") is True

        # A concern raised on the phone: the patrol service's nudge brings it back on the card.
        await page.click("#concern summary")
        await page.select_option("#concern-category", "vaping")
        await page.select_option("#concern-severity", "high")
        await page.select_option("#concern-zone", "bath-2s-girls")
        await page.click("#concern-form button[type=submit]")
        mine = page.locator("#today-concerns li")
        await mine.first.wait_for(timeout=10_000)
        assert await items(page, "today-concerns") == [
            ("Vaping · 2nd floor south girls' bathroom", "raised 9:30 AM")
        ]
        assert await mine.locator(".badge").inner_text() == "high"

        await card.evaluate("card => card.scrollIntoView()")
        await page.screenshot(path=SHOTS / "phone-today-card-360x800.png")
        await page.screenshot(path=SHOTS / "phone-today-card-360-full.png", full_page=True)
        await page.set_viewport_size(DESKTOP)
        await page.screenshot(path=SHOTS / "phone-today-card-1280x800.png")
        await page.set_viewport_size(PHONE)

        # Without signal the kept answer is shown, as of when it came.
        await page.wait_for_function("navigator.serviceWorker.ready.then(() => true)")
        await page.goto(f"{settings.web_url()}/app")
        await page.locator("#today[data-state=fresh]").wait_for()
        checks = await items(page, "today-unannounced")
        more_checks = await page.locator("#today-unannounced-more").inner_text()
        await context.set_offline(True)
        await page.reload()
        await page.locator("#today[data-state=kept]").wait_for()
        assert await page.locator("#today-asof").inner_text() == "as of 9:30 AM"
        assert await items(page, "today-windows") == FIRST_WINDOWS
        assert await items(page, "today-unannounced") == checks
        assert await page.locator("#today-unannounced-more").inner_text() == more_checks
        assert await items(page, "today-concerns") == [
            ("Vaping · 2nd floor south girls' bathroom", "raised 9:30 AM")
        ]
        await page.screenshot(path=SHOTS / "phone-today-offline-360x800.png")
        assert fatal(errors) == []
        await context.close()


async def _all_sent(kernel: ServiceKernel) -> bool:
    return all(r["sent_at"] is not None for r in await rows(kernel, patrol_store.outbox))


async def _has_rows(kernel: ServiceKernel, table: Any) -> bool:
    return bool(await rows(kernel, table))


async def _streams(app: Any, n: int) -> bool:
    return bool(app.state.live.count("lhs", "sso-rivera") == n)
