"""A silent phone (lone-worker safety): reported when it matters, counted from when the service
received the last heartbeat, and cleared (HeartbeatResumed) when the phone is back.

Tiny High's first bell is 07:45, its last 15:00 (school time); heartbeat limit 10 minutes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from lookout.contracts.patrol import DeviceHeartbeat
from lookout.kernel.clock import ManualClock
from services.patrol import store
from tests.unit.patrol.tiny_school import Day, at, started_day


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at("06:30"))


@pytest.fixture
async def day(database_url: str, clock: ManualClock, tmp_path: Any) -> AsyncIterator[Day]:
    d = await started_day(database_url, clock, tmp_path)
    yield d
    await d.kernel.engine.dispose()


async def silence_reports(day: Day) -> list[tuple[str, Any, Any, int]]:
    """(officer, occurred_at, last_seen_at, silent_minutes) of every heartbeat.missed."""
    return [
        (e.officer_id, e.occurred_at, e.last_seen_at, e.silent_minutes)  # type: ignore[attr-defined]
        for e in await day.emitted()
        if e.type == "heartbeat.missed"
    ]


async def resumptions(day: Day) -> list[tuple[str, str, Any, Any]]:
    """(device, officer, occurred_at, silent_since) of every heartbeat.resumed."""
    return [
        (e.device_id, e.officer_id, e.occurred_at, e.silent_since)  # type: ignore[attr-defined]
        for e in await day.emitted()
        if e.type == "heartbeat.resumed"
    ]


async def device_row(day: Day, device: str = "phone-kim") -> tuple[Any, Any, bool]:
    """(last_seen_at, silent_at, silence_reported) of a device."""
    d = store.devices.c
    async with day.kernel.sessions() as session:
        row = (
            await session.execute(
                select(d.last_seen_at, d.silent_at, d.silence_reported).where(d.device_id == device)
            )
        ).one()
    return row.last_seen_at, row.silent_at, row.silence_reported


# --- item 3: a silence that begins before the first bell ----------------------------------------


async def test_a_phone_that_dies_before_the_first_bell_is_reported_at_the_first_bell(
    day: Day,
) -> None:
    await day.heartbeat("07:30")  # silent from 07:40, before school
    assert (await day.tick_at("07:41"))["silence_watch"] == 0
    assert await device_row(day) == (at("07:30"), at("07:45"), False)  # due at the first bell
    assert (await day.tick_at("07:44"))["silence_watch"] == 0
    assert (await day.tick_at("07:45"))["silence_watch"] == 1
    assert (await day.tick_at("08:30"))["silence_watch"] == 0  # once per silence
    assert await silence_reports(day) == [("sso-kim", at("07:45"), at("07:30"), 15)]
    assert await device_row(day) == (at("07:30"), at("07:45"), True)


async def test_a_phone_off_over_the_weekend_matters_again_at_mondays_first_bell(
    day: Day,
) -> None:
    # Friday 27 November, after the last bell: silent from 15:05, which is after school.
    await day.heartbeat("14:55", day=27)
    assert (await day.tick_at("15:10", day=27))["silence_watch"] == 0
    assert (await day.tick_at("12:00", day=28))["silence_watch"] == 0  # Saturday
    assert await device_row(day) == (at("14:55", 27), at("07:45", 30), False)
    assert (await day.tick_at("07:44", day=30))["silence_watch"] == 0
    assert (await day.tick_at("07:46", day=30))["silence_watch"] == 1
    # Friday 14:55 to Monday 07:46 (no DST change): 2 days, 16 hours and 51 minutes.
    assert await silence_reports(day) == [("sso-kim", at("07:45", 30), at("14:55", 27), 3891)]


async def test_a_phone_back_on_before_mondays_first_bell_is_not_reported(day: Day) -> None:
    await day.heartbeat("14:55", day=27)
    assert (await day.tick_at("15:10", day=27))["silence_watch"] == 0  # moved to Monday 07:45
    await day.heartbeat("07:30", day=30)
    await day.heartbeat("07:38", day=30)
    assert (await day.tick_at("07:46", day=30))["silence_watch"] == 0  # silent only from 07:48
    await day.heartbeat("07:47", day=30)
    assert (await day.tick_at("07:56", day=30))["silence_watch"] == 0
    assert await silence_reports(day) == []
    assert await resumptions(day) == []


async def test_a_silence_noticed_late_in_school_hours_is_still_reported(day: Day) -> None:
    """The ticker was held up (restart) past the deadline: the silence still counts."""
    await day.heartbeat("07:30")
    assert (await day.tick_at("09:00"))["silence_watch"] == 1
    assert await silence_reports(day) == [("sso-kim", at("07:45"), at("07:30"), 90)]


# --- item 3: liveness uses the time the service received a heartbeat ---------------------------


async def test_a_heartbeat_stamped_in_the_future_counts_from_when_it_arrived(day: Day) -> None:
    await day.heartbeat("11:00", received="08:00")  # the phone's clock runs 3 h ahead
    assert await device_row(day) == (at("08:00"), at("08:10"), False)
    assert (await day.tick_at("08:11"))["silence_watch"] == 1
    assert await silence_reports(day) == [("sso-kim", at("08:10"), at("08:00"), 11)]


async def test_a_heartbeat_replayed_late_keeps_its_own_older_stamp(day: Day) -> None:
    await day.heartbeat("08:00")
    await day.heartbeat("08:05", received="08:07")  # queued on the phone, sent 2 minutes later
    assert await device_row(day) == (at("08:05"), at("08:15"), False)


# --- item 3: a reported silence ends ------------------------------------------------------------


async def test_a_heartbeat_after_a_reported_silence_says_the_phone_is_back_once(
    day: Day,
) -> None:
    await day.heartbeat("08:00")
    assert (await day.tick_at("08:11"))["silence_watch"] == 1
    await day.heartbeat("08:31")
    assert await resumptions(day) == [("phone-kim", "sso-kim", at("08:31"), at("08:00"))]
    assert await device_row(day) == (at("08:31"), at("08:41"), False)
    await day.heartbeat("08:32")
    assert len(await resumptions(day)) == 1  # once per reported silence
    # A second silence is reported again, and its end resumed again.
    assert (await day.tick_at("08:43"))["silence_watch"] == 1
    await day.heartbeat("09:00")
    assert await resumptions(day) == [
        ("phone-kim", "sso-kim", at("08:31"), at("08:00")),
        ("phone-kim", "sso-kim", at("09:00"), at("08:32")),
    ]


async def test_a_silence_never_reported_ends_without_a_resumption(day: Day) -> None:
    await day.heartbeat("07:30")
    assert (await day.tick_at("07:41"))["silence_watch"] == 0  # before school: not reported
    await day.heartbeat("07:42")
    assert await resumptions(day) == []


async def test_one_batch_resumes_only_the_phones_whose_silence_was_reported(day: Day) -> None:
    await day.heartbeat("08:00", device="phone-kim", officer="sso-kim")
    await day.heartbeat("08:05", device="phone-lee", officer="sso-lee")
    assert (await day.tick_at("08:11"))["silence_watch"] == 1  # phone-kim; phone-lee due 08:15
    batch = [
        ("08:12", "phone-kim", "sso-kim"),
        ("08:12", "phone-lee", "sso-lee"),
        ("08:13", "phone-kim", "sso-kim"),
    ]
    events = [
        DeviceHeartbeat.new(
            school_id="tiny",
            occurred_at=at(hhmm),
            actor={"kind": "sso_device", "id": device},
            device_id=device,
            officer_id=officer,
        )
        for hhmm, device, officer in batch
    ]
    day.clock.set(at("08:13"))
    async with day.kernel.sessions.begin() as session:
        assert await day.handlers.heartbeats(session, events) == {}
    assert await resumptions(day) == [("phone-kim", "sso-kim", at("08:13"), at("08:00"))]


async def test_a_stale_heartbeat_from_the_offline_queue_does_not_end_a_reported_silence(
    day: Day,
) -> None:
    """A queued heartbeat whose own deadline has passed says the phone was alive then, not now:
    the silence stays reported (no resume, no second alarm) until a fresh one arrives."""
    await day.heartbeat("08:00")
    assert (await day.tick_at("08:11"))["silence_watch"] == 1
    await day.heartbeat("08:05", received="08:30")  # silent again from 08:15, before 08:30
    assert await resumptions(day) == []
    assert await device_row(day) == (at("08:05"), at("08:15"), True)
    assert (await day.tick_at("08:31"))["silence_watch"] == 0
    await day.heartbeat("08:32")
    assert await resumptions(day) == [("phone-kim", "sso-kim", at("08:32"), at("08:05"))]
    assert len(await silence_reports(day)) == 1
