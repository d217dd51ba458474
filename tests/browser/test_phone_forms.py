"""The phone's concern, follow-up, badge and reader forms in Chromium against the stand-in of the
events API (tests/browser/conftest.py): what each form sends, exactly; the concern pickers (raised
here, added by the Today screen, gone once resolved, across a reload); the follow-up check-in;
and the NFC and camera readers, offered only where the browser has them. Web NFC and
BarcodeDetector are not in Chromium on Linux: where a test needs them, an init script stands in
for the browser's (a tag tapped, a code in front of the camera), never for the app's code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from tests.browser.conftest import PageErrors, StandIn
from tests.browser.test_outbox import fatal
from tests.browser.test_phone_flow import DESKTOP, SHOTS

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 800}
NOW = datetime.fromisoformat("2026-11-23T10:15:00-06:00")  # the phone's clock, frozen
SERVER_CONCERN = {
    "concern_id": "2b6c1a9e-5d4f-4e3a-8b7c-0a1b2c3d4e5f",
    "category": "vaping",
    "severity": "medium",
    "zone_id": "bath-2s-boys",
    "raised_at": "2026-11-20T13:05:00-06:00",
}

NO_READERS = "delete window.NDEFReader; delete window.BarcodeDetector;"

# The browser's NFC and camera, as Android Chrome has them: `tapTag(url)` is a tag at the phone,
# `window.qrInView` the code in front of the camera.
READERS = """
window.NDEFReader = class extends EventTarget {
  async scan() { window.nfcReader = this; }
};
window.tapTag = (url) => {
  const data = new TextEncoder().encode(url);
  const record = { recordType: "url", data: new DataView(data.buffer) };
  window.nfcReader.onreading({ message: { records: [record] } });
};
window.qrInView = null;
window.BarcodeDetector = class {
  constructor(options) { window.detectorFormats = options.formats; }
  async detect() { return window.qrInView ? [{ rawValue: window.qrInView }] : []; }
};
navigator.mediaDevices.getUserMedia = async () => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 64;
  canvas.getContext("2d").fillRect(0, 0, 64, 64);
  return canvas.captureStream();
};
"""


async def open_phone(browser: Any, stand_in: StandIn, init: str) -> tuple[Any, Any, PageErrors]:
    context = await browser.new_context(
        viewport=PHONE, timezone_id="America/Chicago", locale="en-US"
    )
    await context.clock.set_fixed_time(NOW)
    await context.add_init_script(init)
    page = await context.new_page()
    errors = PageErrors(page)
    await page.goto(f"{stand_in.url}/app")
    await page.locator("#queue-state").filter(has_text="all delivered ✓").wait_for()
    return context, page, errors


@pytest.fixture
async def phone(browser: Any, stand_in: StandIn) -> AsyncIterator[tuple[Any, PageErrors]]:
    context, page, errors = await open_phone(browser, stand_in, NO_READERS)
    yield page, errors
    await context.close()


@pytest.fixture
async def phone_with_readers(
    browser: Any, stand_in: StandIn
) -> AsyncIterator[tuple[Any, PageErrors]]:
    context, page, errors = await open_phone(browser, stand_in, READERS)
    yield page, errors
    await context.close()


async def delivered(page: Any, stand_in: StandIn, n: int) -> list[dict[str, Any]]:
    """The events stored so far (once `n` are), in the order made, without id and envelope."""
    await page.wait_for_function(
        "n => document.querySelectorAll('#recent .state--delivered').length >= n", arg=n
    )
    await page.locator("#queue-state").filter(has_text="all delivered ✓").wait_for()
    events = list(stand_in.events.stored.values())
    assert len(events) == n
    envelope = ("event_id", "schema_version", "school_id", "occurred_at", "actor")
    return [{k: v for k, v in e.items() if k not in envelope} for e in events]


async def options(page: Any, select: str) -> list[str]:
    texts: list[str] = await page.eval_on_selector(select, "s => [...s.options].map(o => o.text)")
    return texts


async def test_concerns_raised_here_and_from_the_server_are_updated_and_resolved(
    phone: tuple[Any, PageErrors], stand_in: StandIn
) -> None:
    page, errors = phone
    await page.click("#concern summary")
    await page.select_option("#concern-category", "conflict")
    await page.select_option("#concern-severity", "high")
    await page.select_option("#concern-zone", "cafeteria")
    await page.click("#concern-form button[type=submit]")
    (raised,) = await delivered(page, stand_in, 1)
    mine = raised["concern_id"]
    await page.evaluate(
        "async (c) => (await import('/static/concerns.js')).addConcernChoice(c)", SERVER_CONCERN
    )
    offered = [
        "Choose a concern…",
        "Conflict, high · Cafeteria · 10:15 AM",
        "Vaping, medium · 2nd floor south boys' bathroom · Fri 01:05 PM",
    ]
    assert await options(page, "#update-concern") == offered
    assert await options(page, "#resolve-concern") == offered

    await page.click("#concern-update summary")
    await page.select_option("#update-concern", mine)
    await page.select_option("#update-severity", "critical")
    await page.fill("#update-refs", "S-104233 S-104240")
    await page.fill("#update-note", "a second student joined in")
    await page.click("#update-form button[type=submit]")
    await (
        page.locator("#banner")
        .filter(has_text="Concern updated (conflict), now critical saved.")
        .wait_for()
    )
    await page.click("#concern-resolve summary")
    assert (await options(page, "#resolve-concern"))[
        1
    ] == "Conflict, critical · Cafeteria · 10:15 AM"
    await page.select_option("#resolve-concern", mine)
    await page.select_option("#resolve-outcome", "referred_to_counselor")
    await page.fill("#resolve-follow-up", "3")
    await page.click("#resolve-form button[type=submit]")
    _, updated, resolved = await delivered(page, stand_in, 3)
    assert updated == {"type": "concern.updated", "concern_id": mine, "severity": "critical",
                       "student_refs": ["S-104233", "S-104240"],
                       "note": "a second student joined in"}  # fmt: skip
    assert resolved == {"type": "concern.resolved", "concern_id": mine,
                        "outcome": "referred_to_counselor", "note": "",
                        "follow_up_in_school_days": 3}  # fmt: skip

    left = ["Choose a concern…", offered[2]]
    assert await options(page, "#resolve-concern") == left
    await page.reload()
    await page.locator("#queue-state").filter(has_text="all delivered ✓").wait_for()
    assert await options(page, "#update-concern") == left
    # The Today screen may offer it again before the server has the resolution: still gone.
    await page.evaluate(
        "async (c) => (await import('/static/concerns.js')).addConcernChoice(c)",
        {**SERVER_CONCERN, "concern_id": mine, "category": "conflict"},
    )
    assert await options(page, "#update-concern") == left
    assert fatal(errors) == []


async def test_an_update_or_resolution_needs_a_concern_and_a_follow_up_its_bounds(
    phone: tuple[Any, PageErrors], stand_in: StandIn
) -> None:
    page, _ = phone
    assert await options(page, "#resolve-concern") == ["No open concerns on this phone"]
    await page.click("#concern-resolve summary")
    await page.select_option("#resolve-outcome", "resolved_by_sso")
    await page.click("#resolve-form button[type=submit]")
    await (
        page.locator("#resolve-form .form__error").filter(has_text="choose the concern").wait_for()
    )
    assert await page.get_attribute("#resolve-concern", "aria-invalid") == "true"

    await page.evaluate(
        "async (c) => (await import('/static/concerns.js')).addConcernChoice(c)", SERVER_CONCERN
    )
    await page.select_option("#resolve-concern", SERVER_CONCERN["concern_id"])
    await page.fill("#resolve-follow-up", "21")
    await page.click("#resolve-form button[type=submit]")
    await (
        page.locator("#resolve-form .form__error")
        .filter(has_text="a follow-up is 1 to 20 school days away")
        .wait_for()
    )
    assert await page.get_attribute("#resolve-follow-up", "aria-invalid") == "true"
    assert await page.get_attribute("#resolve-concern", "aria-invalid") is None
    assert stand_in.events.posts == []


async def test_a_follow_up_check_in_carries_its_concern_and_only_it(
    phone: tuple[Any, PageErrors], stand_in: StandIn
) -> None:
    page, errors = phone
    concern = SERVER_CONCERN["concern_id"]
    await page.evaluate(
        "async ([id, zone]) => (await import('/static/concerns.js')).startFollowUp(id, zone)",
        [concern, "library"],
    )
    assert await page.locator("#contact").get_attribute("open") == ""
    assert await page.input_value("#contact-kind") == "check_in"
    assert await page.input_value("#contact-zone") == "library"
    follow_up = page.locator("#contact-form .followup")
    assert await follow_up.locator("p").inner_text() == (
        "Follow-up check-in for a resolved concern · Library"
    )
    assert await page.evaluate("document.activeElement.id") == "contact-refs"
    await page.fill("#contact-refs", "S-104233")
    await page.click("#contact-form button[type=submit]")
    await (
        page.locator("#banner")
        .filter(has_text="Contact: check in (follow-up) · Library saved.")
        .wait_for()
    )
    assert await follow_up.count() == 0

    # Started, then declined: an ordinary contact.
    await page.evaluate(
        "async ([id, zone]) => (await import('/static/concerns.js')).startFollowUp(id, zone)",
        [concern, "library"],
    )
    await page.click("#contact-form .followup button")
    await page.select_option("#contact-kind", "positive_contact")
    await page.fill("#contact-refs", "S-104240")
    await page.click("#contact-form button[type=submit]")
    check_in, plain = await delivered(page, stand_in, 2)
    assert check_in == {"type": "contact.logged", "kind": "check_in", "zone_id": "library",
                        "student_refs": ["S-104233"], "note": "",
                        "concern_id": concern}  # fmt: skip
    assert plain == {"type": "contact.logged", "kind": "positive_contact", "zone_id": "library",
                     "student_refs": ["S-104240"], "note": ""}  # fmt: skip
    assert fatal(errors) == []


async def test_a_typed_badge_check_is_a_sighting_in_the_zone_picked(
    phone: tuple[Any, PageErrors], stand_in: StandIn
) -> None:
    page, errors = phone
    await page.click("#badge-form button[type=submit]")
    await (
        page.locator("#badge-form .form__error").filter(has_text="type the badge number").wait_for()
    )
    await page.fill("#badge-number", "1123-001")
    await page.click("#badge-form button[type=submit]")
    await page.locator("#badge-form .form__error").filter(has_text="choose the zone").wait_for()
    await page.select_option("#scan-tag", "T-LIB")  # the last scan sets where the officer is
    await page.click("#scan-form button[type=submit]")
    await page.locator("#recent li").filter(has_text="Scan T-LIB").wait_for()
    assert await page.input_value("#badge-zone") == "library"
    await page.click("#badge-form button[type=submit]")
    await page.locator("#banner").filter(has_text="Badge 1123-001 seen · Library saved.").wait_for()
    _, sighting = await delivered(page, stand_in, 2)
    assert sighting == {"type": "visitor.sighted", "badge_number": "1123-001", "zone_id": "library"}
    assert await page.input_value("#badge-number") == ""
    assert fatal(errors) == []


async def test_without_nfc_or_a_camera_only_the_pick_list_is_offered(
    phone: tuple[Any, PageErrors],
) -> None:
    page, _ = phone
    for reader in ("#scan-nfc", "#scan-qr", "#badge-qr"):
        assert await page.locator(reader).count() == 0, reader
    assert await page.locator("#scan-tag").is_visible()


async def test_a_tapped_nfc_tag_and_a_scanned_qr_code_record_their_checkpoints(
    phone_with_readers: tuple[Any, PageErrors], stand_in: StandIn
) -> None:
    page, errors = phone_with_readers
    await page.click("#scan-nfc")
    dialog = page.locator("dialog.reader")
    await dialog.filter(has_text="Hold the top of the phone to the tag.").wait_for()
    await page.wait_for_function("window.nfcReader !== undefined")
    await page.evaluate("tapTag('https://lookout.lakeside.example/t/lhs/T-1NB')")
    await page.locator("#banner").filter(has_text="Scan of T-1NB saved.").wait_for()
    assert await dialog.count() == 0

    await page.click("#scan-nfc")
    await page.wait_for_function("window.nfcReader !== undefined")
    await page.evaluate("tapTag('https://lookout.lakeside.example/t/rhs/T-1NB')")
    await page.locator("#scan-error").filter(has_text="a checkpoint of another school").wait_for()

    await page.locator("#scan-readers").scroll_into_view_if_needed()
    await page.screenshot(path=SHOTS / "phone-scan-readers-360x800.png")
    await page.click("#scan-qr")
    await dialog.locator("video").wait_for()
    await page.screenshot(path=SHOTS / "phone-camera-360x800.png")
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=SHOTS / "phone-camera-1280x800.png")
    await page.set_viewport_size(PHONE)
    await page.evaluate("window.qrInView = 'https://lookout.lakeside.example/t/lhs/T-CAF-S?x=1'")
    await page.locator("#banner").filter(has_text="Scan of T-CAF-S saved.").wait_for()
    assert await page.evaluate("window.detectorFormats") == ["qr_code"]
    assert await page.locator("#scan-error").is_hidden()
    nfc, qr = await delivered(page, stand_in, 2)
    assert nfc == {"type": "checkpoint.scanned", "zone_id": "bath-1n-boys",
                   "checkpoint_tag": "T-1NB", "method": "nfc"}  # fmt: skip
    assert qr == {"type": "checkpoint.scanned", "zone_id": "cafeteria",
                  "checkpoint_tag": "T-CAF-S", "method": "qr"}  # fmt: skip
    assert fatal(errors) == []


async def test_a_badge_qr_records_a_sighting_where_the_officer_last_scanned(
    phone_with_readers: tuple[Any, PageErrors], stand_in: StandIn
) -> None:
    page, errors = phone_with_readers
    await page.select_option("#scan-tag", "T-GYM")
    await page.click("#scan-form button[type=submit]")
    await page.locator("#recent li").filter(has_text="Scan T-GYM").wait_for()

    await page.click("#badge-qr")  # cancelled: nothing recorded
    await page.click("dialog.reader .reader__cancel")
    assert await page.locator("dialog.reader").count() == 0
    assert await page.evaluate("document.activeElement.id") == "badge-qr"

    await page.click("#badge-qr")
    await page.evaluate("window.qrInView = 'not a badge!'")
    await (
        page.locator("#badge-form .form__error")
        .filter(has_text="that code is not a visitor's badge")
        .wait_for()
    )
    await page.evaluate("window.qrInView = null")
    await page.click("#badge-qr")
    await page.locator("dialog.reader video").wait_for()
    await page.evaluate("window.qrInView = '1123-004'")
    await (
        page.locator("#banner").filter(has_text="Badge 1123-004 seen · Gymnasium saved.").wait_for()
    )
    _, sighting = await delivered(page, stand_in, 2)
    assert sighting == {"type": "visitor.sighted", "badge_number": "1123-004", "zone_id": "gym"}
    assert fatal(errors) == []


SMALL_TARGETS = """() => [...document.querySelectorAll('button, summary, select, input, textarea')]
    .filter(e => e.getClientRects().length > 0)
    .map(e => [e.id || e.textContent.trim(), e.getBoundingClientRect()])
    .filter(([, r]) => r.width < 44 || r.height < 44).map(([n]) => n)"""


async def test_at_320px_the_new_controls_fit_and_are_44px_targets(
    browser: Any, stand_in: StandIn
) -> None:
    context, page, errors = await open_phone(browser, stand_in, READERS)
    await page.set_viewport_size({"width": 320, "height": 800})
    for details in await page.locator("details").all():
        await details.locator("summary").click()
    await page.evaluate(
        "async ([id, zone]) => (await import('/static/concerns.js')).startFollowUp(id, zone)",
        [SERVER_CONCERN["concern_id"], "bath-2s-boys"],
    )
    assert await page.locator("#scan-nfc, #scan-qr, #badge-qr, .followup button").count() == 4
    assert await page.evaluate("document.documentElement.scrollWidth") <= 320
    assert await page.evaluate(SMALL_TARGETS) == []
    await page.click("#badge-qr")
    await page.locator("dialog.reader video").wait_for()
    assert await page.evaluate(SMALL_TARGETS) == []
    cancel = await page.locator("dialog.reader .reader__cancel").bounding_box()
    assert cancel is not None and cancel["x"] >= 0 and cancel["x"] + cancel["width"] <= 320
    assert fatal(errors) == []
    await context.close()
