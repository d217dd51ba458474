"""The phone's outbox and sync in a real Chromium, against a stand-in of the events API: the
queue survives a reload without signal, a rejected event is never sent again, a failed request
keeps its events queued until the server answers, and a checkpoint URL records one scan."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import PageErrors, StandIn

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 800}


def fatal(errors: PageErrors) -> list[str]:
    """Errors that are bugs: not the failed loads expected while offline."""
    return [
        e
        for e in errors.errors
        if "ERR_INTERNET_DISCONNECTED" not in e
        and "Failed to load resource" not in e
        and "503" not in e
    ]


async def open_app(browser: Any, stand_in: StandIn) -> tuple[Any, Any, PageErrors]:
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    errors = PageErrors(page)
    await page.goto(f"{stand_in.url}/app")
    await page.wait_for_function("navigator.serviceWorker.ready.then(() => true)")
    return context, page, errors


async def scan(page: Any, tag: str) -> None:
    await page.select_option("#scan-tag", tag)
    await page.click("#scan-form button[type=submit]")
    await page.wait_for_selector(f"#recent li:has-text('Scan {tag}')")


async def test_the_queue_survives_a_reload_without_signal(browser: Any, stand_in: StandIn) -> None:
    context, page, errors = await open_app(browser, stand_in)
    await page.reload()  # now under the service worker, which keeps the page
    await page.wait_for_function("navigator.serviceWorker.controller !== null")
    await context.set_offline(True)
    for tag in ("T-1NB", "T-CAF-N"):
        await scan(page, tag)
    state = page.locator("#queue-state")
    await state.filter(has_text="2 saved on phone, waiting for signal").wait_for()
    await page.reload()  # the kept page, the same queue
    await state.filter(has_text="2 saved on phone, waiting for signal").wait_for()
    assert await page.locator("#recent .state--queued").count() == 2
    assert stand_in.events.stored == {}

    await context.set_offline(False)
    await state.filter(has_text="all delivered ✓").wait_for()
    assert await page.locator("#recent .state--delivered").count() == 2
    events = list(stand_in.events.stored.values())
    assert sorted(e["checkpoint_tag"] for e in events) == ["T-1NB", "T-CAF-N"]
    assert all(stand_in.events.sent(e["event_id"]) == 1 for e in events)
    assert {e["method"] for e in events} == {"manual"}
    assert events[0]["zone_id"] == "bath-1n-boys" or events[1]["zone_id"] == "bath-1n-boys"
    assert len(set(stand_in.events.device_ids)) == 1  # made once, kept across reloads
    assert all(e["actor"]["id"] == stand_in.events.device_ids[0] for e in events)
    assert all(e["occurred_at"][-6] in "+-" for e in events)  # with its UTC offset
    assert fatal(errors) == []
    await context.close()


async def test_a_rejected_event_shows_its_reason_and_is_not_sent_again(
    browser: Any, stand_in: StandIn
) -> None:
    stand_in.events.reject["observation.logged"] = "zone_id: not a zone of this school"
    context, page, errors = await open_app(browser, stand_in)
    await page.click("#observation summary")
    await page.select_option("#observation-category", "vaping")
    await page.select_option("#observation-zone", "bath-2s-boys")
    await page.fill("#observation-note", "smell of vape near the sinks")
    await page.click("#observation-form button[type=submit]")
    await (
        page.locator("#recent .state--rejected")
        .filter(has_text="rejected: zone_id: not a zone of this school")
        .wait_for()
    )
    rejected = stand_in.events.posts[-1][0]["event_id"]

    await scan(page, "T-1NB")
    await page.locator("#queue-state").filter(has_text="all delivered ✓").wait_for()
    await page.reload()
    await page.locator("#queue-state").filter(has_text="all delivered ✓").wait_for()
    assert stand_in.events.sent(rejected) == 1
    assert len(stand_in.events.stored) == 1
    assert fatal(errors) == []
    await context.close()


async def test_a_failed_request_keeps_the_events_queued_and_retries(
    browser: Any, stand_in: StandIn
) -> None:
    stand_in.events.fail_next = 2
    context, page, errors = await open_app(browser, stand_in)
    await page.click("#concern summary")
    await page.select_option("#concern-category", "conflict")
    await page.select_option("#concern-severity", "high")
    await page.fill("#concern-refs", "S-104233, S-104234")
    await page.click("#concern-form button[type=submit]")
    await page.locator("#queue-state").filter(has_text="1 saved on phone").wait_for()
    await page.locator("#queue-state").filter(has_text="all delivered ✓").wait_for(timeout=15_000)
    (event,) = stand_in.events.stored.values()
    assert stand_in.events.sent(event["event_id"]) == 3  # two 503s, then stored
    assert event["student_refs"] == ["S-104233", "S-104234"]
    assert event["severity"] == "high"
    assert fatal(errors) == []
    await context.close()


async def test_student_refs_that_are_names_are_refused_on_the_phone(
    browser: Any, stand_in: StandIn
) -> None:
    context, page, _ = await open_app(browser, stand_in)
    await page.click("#contact summary")
    await page.fill("#contact-refs", "Jane Doe")
    await page.click("#contact-form button[type=submit]")
    await page.locator("#contact-form .form__error").filter(has_text="not a student").wait_for()
    assert await page.locator("#recent li").count() == 0
    await context.close()


async def test_a_checkpoint_url_records_one_scan(browser: Any, stand_in: StandIn) -> None:
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    errors = PageErrors(page)
    await page.goto(f"{stand_in.url}/t/lhs/T-1NB?m=nfc")
    await page.locator("#scan-state").filter(has_text="delivered ✓").wait_for()
    await page.reload()
    await page.locator("#scan-state").filter(has_text="delivered ✓").wait_for()
    (event,) = stand_in.events.stored.values()
    assert (event["zone_id"], event["checkpoint_tag"], event["method"]) == (
        "bath-1n-boys",
        "T-1NB",
        "nfc",
    )
    assert len(stand_in.events.posts) == 1
    assert fatal(errors) == []
    await context.close()


async def test_phone_layout_at_320px_touch_targets_and_labels(
    browser: Any, stand_in: StandIn
) -> None:
    context = await browser.new_context(viewport={"width": 320, "height": 800})
    page = await context.new_page()
    await page.goto(f"{stand_in.url}/app")
    for details in await page.locator("details").all():
        await details.locator("summary").click()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, "horizontal scrolling at 320 px"
    small = await page.evaluate(
        """() => [...document.querySelectorAll('button, summary, select, input, textarea, a.btn')]
            .map(e => [e.id || e.textContent.trim(), e.getBoundingClientRect()])
            .filter(([, r]) => r.width < 44 || r.height < 44).map(([n]) => n)"""
    )
    assert small == []
    unlabelled = await page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.labels.length === 0).map(e => e.id || e.name)"""
    )
    assert unlabelled == []
    await context.close()
