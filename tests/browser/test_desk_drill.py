"""The front desk's held list, offline roster and evacuation drill in Chromium against the real
suite with the visitors service (a real nats-server; the clock stopped at Monday 23 November
2026, 09:30 at Lakeside, moved by hand). A held sign-in survives a reload under "Waiting for a
decision" and opens its screening (the listed date of birth beside the visitor's, the ID's
type without digits); the roster kept in the browser is shown as an offline copy when the
network is gone; a drill started at one desk is marked at two, live on both, and ends with the
time to full accountability. axe-core finds no violation and the browser no CSP violation in
every state, at 360x800 and 1280x800; screenshots under SHOTS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
from tests.integration.test_web_front_desk import schools

pytestmark = [pytest.mark.browser, pytest.mark.nats]

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # Monday 09:30 in Chicago
STATES = [
    "desk: waiting for a decision",
    "desk: screening reopened",
    "roster: offline copy",
    "drill: none yet",
    "drill: under way",
    "drill: everyone accounted for",
    "roster: never signed out",
]


async def sign_in_by_hand(page: Any, first: str, last: str, dob: str, host: str) -> None:
    await page.get_by_label("First name").fill(first)
    await page.get_by_label("Last name").fill(last)
    if dob:
        await page.get_by_label("Date of birth").fill(dob)
    await page.get_by_label("Last 4 of the ID number").fill("7821")
    await page.get_by_label("Visitor", exact=True).select_option("parent")
    await page.get_by_label("Visiting").select_option(label=host)
    await page.get_by_label("Going to").select_option(label="Library")
    await page.get_by_label("Purpose").fill("Meeting")
    await page.get_by_role("button", name="Sign visitor in").click()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_held_list_offline_roster_and_a_drill_at_two_desks(
    browser: Any, nats_server: Any, tmp_path: Path, viewport: dict[str, int]
) -> None:
    size = f"{viewport['width']}x{viewport['height']}"
    settings = suite_settings(nats_server.url, tmp_path, schools=schools(tmp_path))
    clock = ManualClock(NOW)
    async with running_suite(settings, clock, with_visitors=True) as suite:
        audit = Audit()
        context = await browser.new_context(
            viewport=viewport, timezone_id="America/Chicago", locale="en-US"
        )
        csp = await CspWatch.attach(context)
        page = await context.new_page()
        errors = PageErrors(page)
        await open_sign_in_link(page, await suite.sign_in_link("office-garcia"))
        await page.locator("body[data-ready=lhs]").wait_for()
        assert await page.locator("#held-note").inner_text() == (
            "Nobody is waiting for a screening decision."
        )

        # Held on a watchlist match, then the page is reloaded: still waiting, and reopened.
        await sign_in_by_hand(page, "Gregory", "Hollander", "1979-03-14", "Ravi Patel")
        await page.locator("#screening-list > li").first.wait_for()
        await page.reload()
        await page.locator("body[data-ready=lhs]").wait_for()
        held = page.locator("#held-list > li")
        assert await held.all_inner_texts() == [
            "Gregory Hollander, signed in at 9:30 AM to see Ravi Patel: 1 possible match\nDecide"
        ]
        assert await page.locator("#screening").is_hidden()
        await audit.check(page, "desk: waiting for a decision")
        await page.screenshot(path=SHOTS / f"desk-held-{size}.png", full_page=True)
        await page.get_by_role("button", name="Decide about Gregory Hollander").click()
        match = page.locator("#screening-list > li").first
        await match.wait_for()
        assert await match.locator(".match__visitor").inner_text() == "Gregory Hollander"
        assert await match.locator(".match__visitor-dob").inner_text() == "03/14/1979"
        assert await match.locator(".match__visitor-id").inner_text() == "Driver's licence"
        assert await match.locator(".match__listed").inner_text() == "Gregory Hollander"
        assert await match.locator(".match__listed-dob").inner_text() == "03/14/1979"
        assert await match.locator(".match__words").inner_text() == (
            "Match: exact name, same date of birth."
        )
        await audit.check(page, "desk: screening reopened")
        await page.screenshot(path=SHOTS / f"desk-screening-reopened-{size}.png", full_page=True)
        await match.get_by_role("button", name="No", exact=True).click()
        await page.locator("#outcome[data-status=on_site]").wait_for()
        assert await page.locator("#outcome-title").inner_text() == (
            "Gregory Hollander admitted: badge 1123-001"
        )
        await page.locator("#held-note").wait_for(state="visible")
        assert await held.count() == 0

        clock.advance(timedelta(minutes=1))  # 09:31
        await sign_in_by_hand(page, "María", "López", "", "Luz Garcia")
        await page.locator("#outcome-title").filter(has_text="María López").wait_for()

        # The roster kept in the browser: the network goes, the list stays, printable.
        await page.goto(f"{suite.web.url}/desk/roster")
        await page.locator("#roster-live[data-state=on]").wait_for()
        rows = page.locator("#roster-body tr")
        await rows.nth(1).wait_for()
        # The page registered the service worker; installed, it keeps the desk's pages.
        await page.wait_for_function("navigator.serviceWorker.ready.then(() => true)")
        await context.set_offline(True)
        banner = page.locator("#roster-offline")
        await banner.wait_for(state="visible")
        assert await banner.inner_text() == (
            "Offline copy as of 9:31 AM: the network is gone, so this list may be out of "
            "date. It can still be printed."
        )
        assert await rows.count() == 2
        assert await page.locator("#roster-live").inner_text() == "Offline"
        assert await page.locator("#roster-error").is_hidden()  # the banner says it, once
        await audit.check(page, "roster: offline copy")
        await page.screenshot(path=SHOTS / f"desk-roster-offline-{size}.png", full_page=True)
        await page.emulate_media(media="print")
        await page.screenshot(path=SHOTS / f"desk-roster-offline-print-{size}.png", full_page=True)
        await page.emulate_media(media="screen")
        # Reloaded without a network (a desk restarted in an evacuation): the service worker's
        # kept page, and the list kept in the browser.
        await page.reload()
        await banner.wait_for(state="visible")
        assert await rows.count() == 2
        assert await page.locator("#roster-live").inner_text() == "Offline"
        await context.set_offline(False)
        await banner.wait_for(state="hidden")
        await page.locator("#roster-live[data-state=on]").wait_for()

        # A drill: started at one desk, marked at two, live on both.
        await page.goto(f"{suite.web.url}/desk/drill")
        await page.locator("#drill[data-state=none]").wait_for()
        await page.locator("#drill-live[data-state=on]").wait_for()
        await audit.check(page, "drill: none yet")
        await page.get_by_role("button", name="Start evacuation drill").click()
        await page.locator("#drill[data-state=open]").wait_for()
        summary = page.locator("#drill-summary")
        assert await summary.inner_text() == (
            "Drill under way. Started at 9:31 AM by Luz Garcia. 0 of 2 accounted for; "
            "2 still missing."
        )
        assert await page.get_by_role("button", name="Start evacuation drill").is_hidden()
        assert await page.get_by_role("button", name="End drill now").is_visible()
        other = await context.new_page()  # the second desk
        await other.goto(f"{suite.web.url}/desk/drill")
        await other.locator("#drill[data-state=open]").wait_for()
        await other.locator("#drill-live[data-state=on]").wait_for()
        await other.evaluate("window.notReloaded = true")
        missing = page.locator("#drill-missing > li")
        assert [t.split("\n")[0] for t in await missing.all_inner_texts()] == [
            "Gregory Hollander Parent, badge 1123-001, visiting Ravi Patel; going to Library.",
            "María López Parent, badge 1123-002, visiting Luz Garcia; going to Library.",
        ]
        await page.get_by_role("button", name="Gregory Hollander accounted for").click()
        await summary.filter(has_text="1 of 2 accounted for").wait_for()
        other_summary = other.locator("#drill-summary")
        # Live: well inside the page's 20 s poll, so only the nudge can have brought it.
        await other_summary.filter(has_text="1 of 2 accounted for").wait_for(timeout=10_000)
        assert await other.evaluate("window.notReloaded") is True
        assert await page.locator("#drill-found > li").all_inner_texts() == [
            "Gregory Hollander Parent, badge 1123-001, visiting Ravi Patel; going to Library."
            "\n9:31 AM, marked by Luz Garcia"
        ]
        await audit.check(page, "drill: under way")
        await page.screenshot(path=SHOTS / f"desk-drill-{size}.png", full_page=True)

        # The network goes at the second desk: its list stays, said to be an offline copy.
        await context.set_offline(True)
        other_banner = other.locator("#drill-offline")
        await other_banner.wait_for(state="visible")
        assert await other_banner.inner_text() == (
            "Offline copy as of 9:31 AM: the network is gone, so marks cannot be sent and this "
            "list may be out of date. It can still be printed."
        )
        assert await other.locator("#drill-missing > li").count() == 1
        await context.set_offline(False)
        await other_banner.wait_for(state="hidden")

        clock.advance(timedelta(minutes=3, seconds=5))
        await other.get_by_role("button", name="María López accounted for").click()
        done = "Everyone accounted for in 3 min 5 s (2 visitors)."
        await other.locator("#drill-done").filter(has_text=done).wait_for()
        await page.locator("#drill-done").filter(has_text=done).wait_for(timeout=10_000)  # live
        assert await page.locator("#drill-missing > li").count() == 0
        assert await page.get_by_role("button", name="Start evacuation drill").is_visible()
        assert await page.get_by_role("button", name="End drill now").is_hidden()
        await audit.check(page, "drill: everyone accounted for")
        await page.screenshot(path=SHOTS / f"desk-drill-done-{size}.png", full_page=True)
        await page.emulate_media(media="print")
        await page.screenshot(path=SHOTS / f"desk-drill-print-{size}.png", full_page=True)

        # The day closes with both still signed in: "Never signed out" on the roster names them.
        clock.set(datetime(2026, 11, 23, 22, 46, tzinfo=UTC))  # 16:46, past the 16:45 close
        assert suite.visitors is not None and suite.visitors.ticker is not None
        assert (await suite.visitors.ticker.tick())["visitor-auto-checkout"] == 2
        await page.emulate_media(media="screen")
        await page.goto(f"{suite.web.url}/desk/roster")
        closed = page.locator("#end-of-day-list > li")
        await closed.nth(1).wait_for()
        assert await closed.all_inner_texts() == [
            "Gregory Hollander, badge 1123-001, visiting Ravi Patel (Library): in at 9:30 AM, "
            "expected out by 10:30 AM, not seen by the SSO; badge closed at 4:45 PM.",
            "María López, badge 1123-002, visiting Luz Garcia (Library): in at 9:31 AM, "
            "expected out by 10:31 AM, not seen by the SSO; badge closed at 4:45 PM.",
        ]
        assert await page.locator("#end-of-day-note").inner_text() == (
            "Monday, November 23: 2 badges closed at the end of the day."
        )
        await page.locator("#roster[data-state=empty]").wait_for()
        await audit.check(page, "roster: never signed out")
        await page.screenshot(path=SHOTS / f"desk-never-signed-out-{size}.png", full_page=True)

        # Signing out leaves nothing of the visitors at this screen: kept lists and pages go.
        kept = "Object.keys(localStorage).filter(k => k.startsWith('lookout.desk.')).sort()"
        assert await page.evaluate(kept) != []  # the roster's and the drill's copies
        await page.get_by_role("button", name="Sign out").click()
        await page.wait_for_url("**/signin")
        assert await page.evaluate(kept) == []
        pages = (
            "caches.keys().then(names => Promise.all(names.map(n => caches.open(n)"
            ".then(c => Promise.all(['/desk/roster', '/desk/drill'].map(p => c.match(p)))))))"
            ".then(found => found.flat().filter(Boolean).length)"
        )
        assert await page.evaluate(pages) == 0

        assert audit.states == STATES
        assert audit.found == {}, audit.report()
        assert csp.violations == []
        assert fatal(errors) == []
        await context.close()
