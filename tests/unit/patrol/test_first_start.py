"""Starting the suite mid-day (`lookout up` at 10:15) does not page people about the past:
windows whose deadline had passed when their day was first planned are stored as not monitored
and emit nothing. Days planned in advance, and a restart, behave as before.

Tiny High plus two unannounced entrance checks drawn from 10:00-10:20 (two 10-minute slots, so
both are drawn: 10:00-10:10 and 10:10-10:20, no grace).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from lookout.kernel.clock import ManualClock
from services.patrol import reads, store
from tests.unit.patrol.tiny_school import CHICAGO, SCHOOL, Day, at, closed, started_day

WITH_SURPRISES = copy.deepcopy(SCHOOL)
WITH_SURPRISES["patrol_plan"].append(  # type: ignore[attr-defined]
    {"zones": ["entrance"], "window": "10:00-10:20", "grace_minutes": 10, "unannounced_checks": 2}
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at("06:30"))


@pytest.fixture
async def day(database_url: str, clock: ManualClock, tmp_path: Any) -> AsyncIterator[Day]:
    d = await started_day(database_url, clock, tmp_path, WITH_SURPRISES)
    yield d
    await d.kernel.engine.dispose()


async def monday_windows(day: Day) -> list[tuple[str, str, bool, str]]:
    """(zone, local start, unannounced, status) of Monday's windows."""
    w = store.check_windows.c
    async with day.kernel.sessions() as session:
        rows = (
            await session.execute(
                select(w.zone_id, w.window_start, w.unannounced, w.status).order_by(
                    w.window_start, w.zone_id
                )
            )
        ).all()
    return [
        (r.zone_id, f"{r.window_start + timedelta(hours=CHICAGO):%H:%M}", r.unannounced, r.status)
        for r in rows
        if r.window_start < at("00:00", 24)
    ]


async def test_windows_already_past_when_the_suite_first_starts_are_not_monitored(
    day: Day,
) -> None:
    fired = await day.tick_at("10:15")  # the first start: today and tomorrow are planned
    assert (fired["day_planner"], fired["window_closer"]) == (2, 0)
    assert await monday_windows(day) == [
        ("entrance", "07:15", False, "not_monitored"),
        ("bath-a", "08:35", False, "not_monitored"),
        ("bath-a", "09:32", False, "not_monitored"),
        ("entrance", "10:00", True, "not_monitored"),
        ("entrance", "10:10", True, "open"),  # still running at 10:15
        ("cafeteria", "11:00", False, "open"),
        ("cafeteria", "11:10", False, "open"),
        ("cafeteria", "11:20", False, "open"),
    ]
    # Only checks still to come are announced to the SSO: today's 10:10 and Tuesday's two.
    notices = [
        (e.officer_id, e.check_at, e.window_end)  # type: ignore[attr-defined]
        for e in await day.emitted()
        if e.type == "unannounced_check.scheduled"
    ]
    assert notices == [
        ("sso-kim", at("10:10"), at("10:20")),
        ("sso-kim", at("10:00", 24), at("10:10", 24)),
        ("sso-kim", at("10:10", 24), at("10:20", 24)),
    ]
    assert [e.type for e in await day.emitted()] == ["unannounced_check.scheduled"] * 3

    # A scan of the past made before the start, delivered now, changes nothing either.
    await day.scan("bath-a", "T-A", "09:41", received="10:16")
    assert (await day.tick_at("10:21"))["window_closer"] == 1  # the 10:10 surprise, missed
    assert (await day.tick_at("11:33"))["window_closer"] == 3  # lunch unchecked
    assert closed(await day.emitted()) == [
        ("entrance", "10:10", "missed"),
        ("cafeteria", "11:00", "missed"),
        ("cafeteria", "11:10", "missed"),
        ("cafeteria", "11:20", "missed"),
    ]
    assert [s for _, _, _, s in await monday_windows(day)][:4] == ["not_monitored"] * 4

    # The SSO's shift summary counts the windows watched, not those before the start.
    day_start, day_end = at("00:00"), at("00:00", 24)
    async with day.kernel.sessions() as session:
        outcomes = await reads.window_outcomes(
            session=session, school_id="tiny", start=day_start, end=day_end, actor_ids=["phone-kim"]
        )
    assert outcomes == {"checked": 0, "late": 0, "missed": 4}


async def test_a_day_planned_in_advance_still_reports_what_a_restart_missed(day: Day) -> None:
    assert (await day.tick_at("06:30"))["day_planner"] == 2
    fired = await day.tick_at("10:15")  # the service was down from 06:30 to 10:15
    assert (fired["day_planner"], fired["window_closer"]) == (0, 4)
    assert closed(await day.emitted()) == [
        ("entrance", "07:15", "missed"),
        ("bath-a", "08:35", "missed"),
        ("bath-a", "09:32", "missed"),
        ("entrance", "10:00", "missed"),
    ]


async def test_tomorrow_planned_late_tonight_is_monitored_in_full(day: Day) -> None:
    """The first start on Monday evening: Monday is over (not monitored), Tuesday is whole."""
    assert (await day.tick_at("21:00"))["window_closer"] == 0
    w = store.check_windows.c
    async with day.kernel.sessions() as session:
        rows = (await session.execute(select(w.window_start, w.status))).all()
    monday = at("00:00", 24)
    assert Counter((r.window_start < monday, r.status) for r in rows) == {
        (True, "not_monitored"): 8,  # 8 windows a day
        (False, "open"): 8,
    }
