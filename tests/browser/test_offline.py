"""Nothing done without signal is lost or doubled, against the real suite (a real nats-server,
the patrol service, the web service under uvicorn) in Chromium at 360x800: twenty actions
offline survive a reload and a restart of the web service; the queue survives closing the tab
and the browser, and a restart of NATS; and an event stored once and sent again days later, after
JetStream's duplicate window, is still applied once (the patrol service's inbox); and the
phone's 15-minute idle lock keeps the queue until the officer signs in again."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PageErrors
from tests.browser.suite import (
    PHONE,
    CspWatch,
    Phone,
    ShiftedClock,
    Suite,
    open_sign_in_link,
    running_suite,
    signed_in_phone,
    suite_settings,
)
from tests.browser.test_outbox import fatal

pytestmark = [pytest.mark.browser, pytest.mark.nats]

REFS = "S-104233, S-104234"


async def twenty_actions(phone: Phone) -> None:
    """A patrol without signal: 8 scans, 4 observations, 4 concerns, 4 contacts, mixed."""
    tags = ["T-1NB", "T-1NG", "T-1SA", "T-2SB", "T-CAF-N", "T-CAF-S", "T-LIB", "T-OFC"]
    for i, tag in enumerate(tags):
        await phone.scan(tag)
        if i % 2 == 0:
            await phone.observation("bath-2s-boys", "vaping", f"observation {i}")
            await phone.concern("conflict", "high", REFS)
        else:
            await phone.contact(REFS, "check_in")


async def test_twenty_actions_offline_survive_a_reload_and_a_web_restart_stored_once(
    browser: Any, suite: Suite
) -> None:
    context = await browser.new_context(viewport=PHONE)
    csp = await CspWatch.attach(context)
    phone = await signed_in_phone(context, suite)
    errors = PageErrors(phone.page)

    await context.set_offline(True)
    await twenty_actions(phone)
    await phone.queue_says("20 saved on phone, waiting for signal")
    made = await phone.outbox()
    assert sorted(Counter(state for state, _ in made.values()).items()) == [("queued", 20)]
    assert sorted(Counter(label.split(" ")[0] for _, label in made.values()).items()) == [
        ("Concern:", 4),
        ("Contact:", 4),
        ("Observation:", 4),
        ("Scan", 8),
    ]

    await phone.page.reload()  # without signal: the page the service worker kept
    await phone.queue_says("20 saved on phone, waiting for signal")
    await suite.web.restart()
    assert set(await phone.outbox()) == set(made)
    assert await suite.stored() == Counter()

    await context.set_offline(False)
    await phone.queue_says("all delivered ✓")
    stored = await suite.settled(set(made))
    assert stored == Counter(dict.fromkeys(made, 1))  # those 20, each once, and nothing else
    applied = await suite.applied()
    assert {event_id: applied[event_id] for event_id in made} == dict.fromkeys(made, 1)
    assert {state for state, _ in (await phone.outbox()).values()} == {"delivered"}
    assert fatal(errors) == []
    assert csp.violations == []
    await context.close()


async def test_the_queue_survives_closing_the_tab_and_restarting_the_browser(
    browser: Any, suite: Suite, tmp_path: Path
) -> None:
    profile = tmp_path / "profile"  # the phone's browser profile, kept across restarts
    launch = {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "viewport": PHONE}
    context = await browser.browser_type.launch_persistent_context(profile, **launch)
    phone = await signed_in_phone(context, suite, context.pages[0])
    await context.set_offline(True)
    await phone.scan("T-1NB")
    await phone.observation("cafeteria", "loitering", "by the doors")
    await phone.queue_says("2 saved on phone, waiting for signal")

    await phone.page.close()  # the tab closed; another opened
    phone = Phone(await context.new_page())
    await phone.page.goto(f"{suite.web.url}/app")
    await phone.queue_says("2 saved on phone, waiting for signal")
    await phone.contact(REFS, "de_escalation")
    made = await phone.outbox()
    assert len(made) == 3
    await context.close()  # the browser quits (the phone restarted it)

    context = await browser.browser_type.launch_persistent_context(profile, **launch)
    await context.set_offline(True)  # and it comes back without signal
    phone = Phone(context.pages[0])
    await phone.page.goto(f"{suite.web.url}/app")
    await phone.queue_says("3 saved on phone, waiting for signal")
    assert set(await phone.outbox()) == set(made)
    assert await suite.stored() == Counter()

    await context.set_offline(False)
    await phone.queue_says("all delivered ✓")
    assert await suite.settled(set(made)) == Counter(dict.fromkeys(made, 1))
    await context.close()


async def test_the_queue_survives_a_restart_of_nats(
    browser: Any, suite: Suite, nats_server: Any
) -> None:
    context = await browser.new_context(viewport=PHONE)
    phone = await signed_in_phone(context, suite)
    await phone.scan("T-LIB")  # with signal: delivered before NATS goes
    await phone.recorded("Scan T-LIB", "delivered")
    await context.set_offline(True)
    await phone.scan("T-OFC")
    await phone.concern("bullying", "medium", REFS)
    await phone.queue_says("2 saved on phone, waiting for signal")

    nats_server.restart()  # the same port and store; the services reconnect
    await phone.page.reload()
    await phone.queue_says("2 saved on phone, waiting for signal")
    made = await phone.outbox()

    await context.set_offline(False)
    await phone.queue_says("all delivered ✓", within_ms=30_000)
    assert await suite.settled(set(made)) == Counter(dict.fromkeys(made, 1))
    await context.close()


# JetStream forgets a Nats-Msg-Id after the stream's duplicate window (120 s in production);
# these streams are made with a 1 s window, so "after the window" happens within the test.
WINDOW_SECONDS = 1.0


async def test_an_event_sent_again_days_later_is_applied_once(
    browser: Any, nats_server: Any, tmp_path: Path
) -> None:
    settings = suite_settings(nats_server.url, tmp_path, duplicate_window_seconds=WINDOW_SECONDS)
    clock = ShiftedClock()
    async with running_suite(settings, clock) as suite:
        context = await browser.new_context(viewport=PHONE)
        phone = await signed_in_phone(context, suite)
        receipts: list[tuple[str, str]] = []
        lose = True
        lost = asyncio.Event()

        async def receipts_seen(route: Any) -> None:
            # Every answer about the phone's scans is written down. The first is lost on its
            # way back (the signal went as it was sent): the server stored the scan, but the
            # phone keeps it queued. (Heartbeats go by as they are.)
            nonlocal lose
            answer = await route.fetch()
            sent = route.request.post_data_json["events"]
            if not any(e["type"] == "checkpoint.scanned" for e in sent):
                await route.fulfill(response=answer)
                return
            receipts.extend((r["event_id"], r["status"]) for r in (await answer.json())["results"])
            if lose:
                lose = False
                await context.set_offline(True)
                await route.abort("internetdisconnected")
                lost.set()
            else:
                await route.fulfill(response=answer)

        await context.route("**/api/v1/events", receipts_seen)
        await phone.scan("T-CAF-N")
        (event_id,) = await phone.outbox()
        await asyncio.wait_for(lost.wait(), timeout=15)
        await phone.queue_says("1 saved on phone, waiting for signal")
        assert receipts == [(event_id, "stored")]
        assert await suite.settled({event_id}) == Counter({event_id: 1})

        # Days later the phone finds signal again; JetStream's window is long over.
        clock.advance(timedelta(days=3))
        await asyncio.sleep(WINDOW_SECONDS + 0.2)  # the broker's own wall clock: no other way
        await context.set_offline(False)
        await phone.queue_says("all delivered ✓")
        # JetStream took it again as new ("stored", not "duplicate"): only the inbox stands
        # between it and a second scan.
        assert receipts == [(event_id, "stored"), (event_id, "stored")]
        scans = "patrol.lhs.checkpoint.scanned"
        info = await suite.js.stream_info("PATROL", subjects_filter=scans)
        assert info.state.subjects == {scans: 2}  # the same scan twice in the stream
        assert await suite.settled({event_id}) == Counter({event_id: 1})
        assert (await suite.applied())[event_id] == 1
        await context.close()


async def test_the_phones_idle_lock_keeps_the_queue_until_the_officer_signs_in_again(
    browser: Any, nats_server: Any, tmp_path: Path
) -> None:
    session_clock = ShiftedClock()  # the web's sessions: 16 minutes pass in a moment
    settings = suite_settings(nats_server.url, tmp_path)
    async with running_suite(settings, session_clock=session_clock) as suite:
        context = await browser.new_context(viewport=PHONE)
        phone = await signed_in_phone(context, suite)
        await context.set_offline(True)
        await phone.scan("T-GYM")
        await phone.concern("medical", "critical")
        made = await phone.outbox()

        session_clock.advance(timedelta(minutes=16))  # the phone lay idle past its lock
        await context.set_offline(False)
        await phone.queue_says("2 saved on phone, sign in again to send")
        await phone.page.reload()  # a locked phone opens on the sign-in form…
        assert phone.page.url == f"{suite.web.url}/signin?next=/app"
        assert await suite.stored() == Counter()  # …and its queue is kept
        assert {state for state, _ in (await phone.outbox()).values()} == {"queued"}

        # Unlocking is signing in again.
        await open_sign_in_link(phone.page, await suite.sign_in_link())
        await phone.queue_says("all delivered ✓")
        assert await suite.settled(set(made)) == Counter(dict.fromkeys(made, 1))
        await context.close()
