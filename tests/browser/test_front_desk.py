"""The front desk in Chromium against the real suite with the visitors service (a real
nats-server; patrol, visitors and the web in process, on a clock stopped at Monday 23 November
2026, 09:30 at Lakeside). The front office signs in by link and lands on the desk; a USB
scanner types a licence's barcode into the scan field (the page reads it: the same fields as
services/web/aamva.py gives for the same barcodes); the sign-in is held on a watchlist match
shown side by side; "No" admits; the badge page carries the QR of the signed token; the SSO's
phone scans that badge and records a sighting (a forged badge is said so, nothing recorded);
the roster shows the sighting and a second visitor typed by hand without a reload; scanning
the badge at the desk signs the visitor out, live on the roster. axe-core finds no violation
and the browser no CSP violation on every desk page state and the badge, at 360x800 and
1280x800; screenshots of both sizes under SHOTS."""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import segno

from lookout.kernel.clock import ManualClock
from services.web.aamva import parse
from services.web.badges import BadgeClaims, sign
from tests.browser.conftest import PageErrors
from tests.browser.suite import (
    DESKTOP,
    PHONE,
    CspWatch,
    open_sign_in_link,
    running_suite,
    signed_in_phone,
    suite_settings,
)
from tests.browser.test_a11y import Audit
from tests.browser.test_outbox import fatal
from tests.browser.test_phone_flow import SHOTS
from tests.browser.test_phone_forms import READERS
from tests.integration.conftest import wait_until
from tests.integration.test_web_front_desk import schools
from tests.unit.web.test_aamva import CANADIAN, LICENCE, STATE_ID, VERSION_01

pytestmark = [pytest.mark.browser, pytest.mark.nats]

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # Monday 09:30 in Chicago
# Gregory Hollander's licence (he shares a name and a date of birth with watchlist entry
# WL-001), as the scanner types it: LF and CR become Enter.
HOLLANDER = (
    "@\n\x1e\rANSI 636014090001DL00310190DL"
    "DAQH123-456-78-901-7821\nDCSHOLLANDER\nDDEN\nDACGREGORY\nDDFN\nDADPAUL\nDDGN\n"
    "DBD08242019\nDBB03141979\nDBA03142031\nDBC1\nDAYBLU\nDAG12 ELM ST\nDAISPRINGFIELD\n"
    "DAJIL\nDAK627010000  \nDCGUSA\r"
)
DESK_STATES = [
    "desk: empty",
    "desk: licence read",
    "desk: screening",
    "desk: admitted",
    "badge",
    "roster: one visitor",
    "roster: two visitors",
    "desk: signed out",
]


def as_browser(card: Any) -> dict[str, Any]:
    """What aamva.py reads, as aamva.js answers it."""
    fields = dataclasses.asdict(card)
    return fields | {
        "date_of_birth": card.date_of_birth.isoformat(),
        "expires": card.expires.isoformat() if card.expires else None,
        "id_type": card.id_type.value,
    }


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_the_front_desk_signs_a_visitor_in_screens_badges_and_signs_out(
    browser: Any, nats_server: Any, tmp_path: Path, viewport: dict[str, int]
) -> None:
    size = f"{viewport['width']}x{viewport['height']}"
    settings = suite_settings(nats_server.url, tmp_path, schools=schools(tmp_path))
    async with running_suite(settings, ManualClock(NOW), with_visitors=True) as suite:
        audit = Audit()
        context = await browser.new_context(
            viewport=viewport, timezone_id="America/Chicago", locale="en-US"
        )
        csp = await CspWatch.attach(context)
        page = await context.new_page()
        errors = PageErrors(page)

        # A one-time link signs the front office in and lands on the desk.
        await open_sign_in_link(page, await suite.sign_in_link("office-garcia"))
        await page.get_by_role("heading", name="Sign a visitor in").wait_for()
        assert await page.title() == "Front desk · Lakeside High School"
        await page.locator("body[data-ready=lhs]").wait_for()
        await audit.check(page, "desk: empty")
        await page.screenshot(path=SHOTS / f"desk-empty-{size}.png", full_page=True)

        # The browser's reading of a barcode is the server module's, barcode for barcode.
        cards = [LICENCE, STATE_ID, CANADIAN, VERSION_01, HOLLANDER]
        read = await page.evaluate(
            """async (cards) => {
              const { parseLicence } = await import("/static/aamva.js");
              return cards.map(parseLicence);
            }""",
            cards,
        )
        assert read == [as_browser(parse(c)) for c in cards]

        # The scanner types the licence into the scan field, ending with Enter.
        await page.get_by_label("Scan the visitor's ID").focus()
        await page.keyboard.type(HOLLANDER + "\n")
        state = page.locator("#licence-state")
        await state.filter(has_text="Read:").wait_for()
        assert await state.inner_text() == (
            "Read: Gregory Hollander, driver's licence ending 7821."
        )
        assert await page.locator("#licence-scan").input_value() == ""  # not kept on the page
        assert await page.get_by_label("First name").input_value() == "Gregory"
        assert await page.get_by_label("Date of birth").input_value() == "1979-03-14"
        assert await page.get_by_label("Last 4 of the ID number").input_value() == "7821"
        assert await page.locator("#id-expired").is_hidden()
        await page.get_by_label("Visitor", exact=True).select_option("parent")
        await page.get_by_label("Visiting").select_option(label="Ravi Patel")
        await page.get_by_label("Going to").select_option(label="Library")
        await page.get_by_label("Purpose").fill("Meeting with the counselor")
        await audit.check(page, "desk: licence read")

        # Held: the possible match beside the visitor, in words; the barcode never sent.
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.post_data or "") if r.method == "POST" else None)
        await page.get_by_role("button", name="Sign visitor in").click()
        match = page.locator("#screening-list > li").first
        await match.wait_for()
        assert not any("ANSI" in body or "DAQ" in body or "78-901" in body for body in sent)
        assert await match.locator(".match__visitor").inner_text() == "Gregory Hollander"
        assert await match.locator(".match__visitor-dob").inner_text() == "03/14/1979"
        assert await match.locator(".match__visitor-id").inner_text() == (
            "Driver's licence ending 7821"
        )
        assert await match.locator(".match__listed").inner_text() == "Gregory Hollander"
        assert await match.locator(".match__listed-dob").inner_text() == "03/14/1979"
        assert await match.locator(".match__reason").inner_text() == (
            "Custody restriction: No pick-up of the student; court order on file in the main office"
        )
        assert await match.locator(".match__words").inner_text() == (
            "Match: exact name, same date of birth."
        )
        await audit.check(page, "desk: screening")
        await page.screenshot(path=SHOTS / f"desk-screening-{size}.png", full_page=True)

        # "No, not him": admitted, with a badge to print.
        await match.get_by_role("button", name="No", exact=True).click()
        outcome = page.locator("#outcome[data-status=on_site]")
        await outcome.wait_for()
        assert await page.locator("#outcome-title").inner_text() == (
            "Gregory Hollander admitted: badge 1123-001"
        )
        assert await page.locator("#outcome-text").inner_text() == (
            "Going to Library. The badge is valid until 4:45 PM."
        )
        await audit.check(page, "desk: admitted")
        await page.screenshot(path=SHOTS / f"desk-admitted-{size}.png", full_page=True)

        # The badge page: the label and the QR of the signed token.
        await page.get_by_role("link", name="Print badge").click()
        await page.wait_for_url(re.compile(r".*/desk/badges/LB1\..*"))
        token = page.url.rsplit("/", 1)[1]
        label = page.locator("article.label")
        assert await label.locator(".label__name").inner_text() == "Gregory Hollander"
        assert await label.locator(".label__band").inner_text() == "PARENT"
        assert await label.locator(".label__facts").inner_text() == (
            "Visiting\nRavi Patel\nWhere\nLibrary\nDate\nMon 23 Nov 2026\nValid until\n4:45 PM"
        )
        drawn = await label.locator(".label__qr svg path").get_attribute("d")
        expected = segno.make_qr(token, error="m").svg_inline(omitsize=True, border=4)
        assert drawn == re.search(r' d="([^"]+)"', expected).group(1)  # type: ignore[union-attr]
        await audit.check(page, "badge")
        await page.screenshot(path=SHOTS / f"badge-{size}.png", full_page=True)
        await page.emulate_media(media="print")
        await page.screenshot(path=SHOTS / f"badge-print-{size}.png", full_page=True)
        await page.emulate_media(media="screen")

        # The SSO's phone scans the badge: genuine, a sighting where she is; a forged badge
        # is said so and records nothing.
        sso = await browser.new_context(viewport=PHONE, timezone_id="America/Chicago")
        await sso.add_init_script(READERS)
        phone = await signed_in_phone(sso, suite)
        await phone.scan("T-GYM")
        until = datetime(2026, 11, 23, 22, 45, tzinfo=UTC)
        forged = sign(
            b"not this deployment's secret 012", BadgeClaims("lhs", "1123-001", uuid.uuid4(), until)
        )
        await phone.page.click("#badge-qr")
        await phone.page.evaluate(f"window.qrInView = {forged!r}")
        await (
            phone.page.locator("#badge-form .form__error")
            .filter(has_text="FORGED badge: it was not issued by this school's front desk.")
            .wait_for()
        )
        await phone.page.screenshot(path=SHOTS / f"phone-forged-badge-{size}.png")
        await phone.page.evaluate("window.qrInView = null")
        await phone.page.click("#badge-qr")
        await phone.page.locator("dialog.reader video").wait_for()
        await phone.page.evaluate(f"window.qrInView = {token!r}")
        await phone.recorded("Badge 1123-001 seen · Gymnasium", "delivered")

        # The roster: Gregory, last seen in the gym (the visitors service applied the sighting).
        await page.goto(f"{suite.web.url}/desk/roster")
        await page.locator("#roster-live[data-state=on]").wait_for()
        rows = page.locator("#roster-body tr")

        async def roster_row(n: int) -> list[str]:
            return [t.strip() for t in await rows.nth(n).locator("th, td").all_inner_texts()]

        async def seen_in_gym() -> bool:
            await page.reload()
            await rows.first.wait_for()
            return "Gymnasium 9:30 AM" in await rows.first.inner_text()

        await wait_until(seen_in_gym, what="the sighting on the roster")
        await page.locator("#roster-live[data-state=on]").wait_for()
        assert await roster_row(0) == [
            "Gregory Hollander", "Parent", "1123-001", "Ravi Patel", "Library", "9:30 AM",
            "10:30 AM", "Gymnasium 9:30 AM",
        ]  # fmt: skip
        await audit.check(page, "roster: one visitor")
        await page.evaluate("window.notReloaded = true")

        # A second visitor typed by hand at the desk (another tab): on the roster at once.
        desk = await context.new_page()
        await desk.goto(f"{suite.web.url}/desk")
        await desk.get_by_label("First name").fill("María")
        await desk.get_by_label("Last name").fill("López")
        await desk.get_by_label("Last 4 of the ID number").fill("a1b2")
        await desk.get_by_label("Visitor", exact=True).select_option("volunteer")
        await desk.get_by_label("Visiting").select_option(label="Luz Garcia")
        await desk.get_by_label("Going to").select_option(label="Cafeteria")
        await desk.get_by_label("Purpose").fill("Book fair")
        await desk.get_by_role("button", name="Sign visitor in").click()
        await desk.locator("#outcome[data-status=on_site]").wait_for()
        assert await desk.locator("#outcome-title").inner_text() == (
            "María López admitted: badge 1123-002"
        )
        await rows.nth(1).wait_for()
        assert await page.evaluate("window.notReloaded") is True
        # Both signed in at 09:30 on the stopped clock: in either order.
        listed = sorted([(await roster_row(0))[:5], (await roster_row(1))[:5]])
        assert listed == [
            ["Gregory Hollander", "Parent", "1123-001", "Ravi Patel", "Library"],
            ["María López", "Volunteer", "1123-002", "Luz Garcia", "Cafeteria"],
        ]
        await audit.check(page, "roster: two visitors")
        await page.screenshot(path=SHOTS / f"roster-{size}.png", full_page=True)
        await page.emulate_media(media="print")
        await page.screenshot(path=SHOTS / f"roster-print-{size}.png", full_page=True)
        await page.emulate_media(media="screen")

        # The badge's QR scanned at the desk signs Gregory out; the roster follows, live.
        await desk.get_by_label("Badge", exact=True).fill(token)
        await desk.get_by_label("Badge", exact=True).press("Enter")
        done = desk.locator("#signout-done")
        await done.filter(has_text="signed out").wait_for()
        assert await done.inner_text() == "Badge 1123-001 signed out at 9:30 AM."
        await audit.check(desk, "desk: signed out")
        await desk.screenshot(path=SHOTS / f"desk-signed-out-{size}.png", full_page=True)
        await rows.nth(1).wait_for(state="detached")
        assert (await roster_row(0))[0] == "María López"

        assert audit.states == DESK_STATES
        assert audit.found == {}, audit.report()
        assert csp.violations == []
        assert fatal(errors) == []
        await sso.close()
        await context.close()
