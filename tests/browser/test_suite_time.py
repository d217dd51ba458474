"""The phone stamps `occurred_at` with the suite's time (services/web/static/clock.js and
`GET /api/v1/clock`), against the real web service, a real nats-server and Chromium.

The phone's own clock is frozen by Playwright (`clock.set_fixed_time`) and the suite's clock runs
on a wall time the test holds, so each stamp is known to the millisecond: on a scaled clock the
last reading moved on at the suite's rate, on a driven clock the last reading as it is, and on
the wall clock the phone's own time, as before. The phone's clock is set a long way off in the
simulated cases: a stamp taken from it would be refused (ahead or 30 days behind)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest

from lookout.kernel.clock import Clock, ManualClock, ScaledClock, SystemClock
from lookout.kernel.settings import Settings
from lookout.local.runtime import free_port
from services.web import accounts
from tests.browser.conftest import PageErrors
from tests.browser.suite import open_sign_in_link
from tests.browser.test_outbox import fatal
from tests.browser.test_phone_flow import web_service

pytestmark = [pytest.mark.browser, pytest.mark.nats]

PHONE = {"width": 360, "height": 800}
CHICAGO = "America/Chicago"  # the example school's timezone
SUITE_START = datetime.fromisoformat("2026-12-01T09:00:00-06:00")  # a Tuesday morning
PHONE_TIME = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)  # the phone's own clock: far from the suite
WALL = 1_800_000_000.0  # the wall time (epoch seconds) the suite's scaled clock starts from


@asynccontextmanager
async def phone(
    browser: Any, nats_server: Any, tmp_path: Path, suite_clock: Clock, phone_time: datetime
) -> AsyncIterator[tuple[Any, Any, str, PageErrors]]:
    """A signed-in phone (its clock frozen at `phone_time`) on the Today page."""
    settings = Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        web_host="127.0.0.1",
        web_port=free_port(),
        timers_enabled=False,
    )
    async with web_service(settings, suite_clock) as base:
        link = await accounts.issue_link(
            settings, SystemClock(), school_id="lhs", person_id="sso-rivera"
        )
        context = await browser.new_context(viewport=PHONE, timezone_id=CHICAGO)
        await context.clock.set_fixed_time(phone_time)
        page = await context.new_page()
        errors = PageErrors(page)
        await open_sign_in_link(page, link)
        assert page.url == f"{base}/app"
        await page.locator("#queue-state").filter(has_text="all delivered ✓").wait_for()
        try:
            yield context, page, base, errors
        finally:
            await context.close()


async def scan_on_today(page: Any, tag: str) -> str:
    """A manual scan from the Today page; its event id once the server stored it."""
    await page.select_option("#scan-tag", tag)
    await page.click("#scan-form button[type=submit]")
    item = page.locator("#recent li").filter(has_text=f"Scan {tag}")
    settled = item.locator("xpath=self::li[@data-state='delivered' or @data-state='rejected']")
    await settled.wait_for()
    assert await item.get_attribute("data-state") == "delivered", await item.inner_text()
    return str(await item.get_attribute("data-event-id"))


async def scan_by_url(page: Any, base: str, tag: str) -> str:
    """A checkpoint URL, which records its scan as the page loads."""
    await page.goto(f"{base}/t/lhs/{tag}")
    state = page.locator("#scan-state")
    await page.locator(
        "#scan-state[data-state=delivered], #scan-state[data-state=rejected]"
    ).wait_for()
    assert await state.get_attribute("data-state") == "delivered", await state.inner_text()
    return str(await page.evaluate("history.state.recorded"))


async def stamped(nats_server: Any, event_id: str) -> datetime:
    """The `occurred_at` of the scan as JetStream stored it."""
    nc = await nats.connect(nats_server.url)
    try:
        msg = await nc.jetstream().get_last_msg("PATROL", "patrol.lhs.checkpoint.scanned")
    finally:
        await nc.close()
    event = json.loads(msg.data)
    assert event["event_id"] == event_id
    return datetime.fromisoformat(event["occurred_at"])


async def test_on_a_scaled_clock_the_phone_stamps_the_suites_time(
    browser: Any, nats_server: Any, tmp_path: Path
) -> None:
    wall = [WALL]
    suite = ScaledClock(SUITE_START, 60, anchor=WALL, wall=lambda: wall[0])  # a minute a second
    async with phone(browser, nats_server, tmp_path, suite, PHONE_TIME) as (ctx, page, base, err):
        # The Today page read the suite's time (09:00) as it opened. Thirty seconds pass, on the
        # server and on the phone: half an hour of school time, which the phone works out alone.
        wall[0] += 30
        await ctx.clock.set_fixed_time(PHONE_TIME + timedelta(seconds=30))
        first = await scan_on_today(page, "T-1NB")
        assert await stamped(nats_server, first) == datetime.fromisoformat(
            "2026-12-01T09:30:00-06:00"
        )

        # Ten seconds on: a checkpoint URL scans as its page loads, stamped 09:40.
        wall[0] += 10
        await ctx.clock.set_fixed_time(PHONE_TIME + timedelta(seconds=40))
        second = await scan_by_url(page, base, "T-1SA")
        assert await stamped(nats_server, second) == datetime.fromisoformat(
            "2026-12-01T09:40:00-06:00"
        )
        assert fatal(err) == []


async def test_on_a_driven_clock_the_phone_stamps_the_last_reading(
    browser: Any, nats_server: Any, tmp_path: Path
) -> None:
    suite = ManualClock(datetime.fromisoformat("2026-12-01T10:00:00-06:00"))
    async with phone(browser, nats_server, tmp_path, suite, PHONE_TIME) as (ctx, page, base, err):
        # The phone's clock moves, the driven suite's does not: the stamp stays at the reading.
        await ctx.clock.set_fixed_time(PHONE_TIME + timedelta(seconds=30))
        first = await scan_on_today(page, "T-1NB")
        assert await stamped(nats_server, first) == datetime.fromisoformat(
            "2026-12-01T10:00:00-06:00"
        )

        # The driver moves the suite on 20 minutes; the next page reads it.
        suite.advance(timedelta(minutes=20))
        second = await scan_by_url(page, base, "T-1SA")
        assert await stamped(nats_server, second) == datetime.fromisoformat(
            "2026-12-01T10:20:00-06:00"
        )
        assert fatal(err) == []


async def test_on_the_wall_clock_the_phone_stamps_its_own_time(
    browser: Any, nats_server: Any, tmp_path: Path
) -> None:
    # The phone's clock a minute behind real time: still its own reading, as before the suite's
    # clock came to the phone (and well inside what the services accept).
    mine = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    async with phone(browser, nats_server, tmp_path, SystemClock(), mine) as (ctx, page, base, err):
        first = await scan_on_today(page, "T-1NB")
        assert await stamped(nats_server, first) == mine
        await ctx.clock.set_fixed_time(mine + timedelta(seconds=7))
        second = await scan_by_url(page, base, "T-1SA")
        assert await stamped(nats_server, second) == mine + timedelta(seconds=7)
        assert fatal(err) == []
