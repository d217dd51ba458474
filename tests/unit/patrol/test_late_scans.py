"""A scan made inside a window (or its grace) but delivered after the window's deadline (weak
signal in a bathroom, the phone's offline queue, a restart backlog) still counts: the window
already marked missed is upgraded and CheckRecovered says how many of the zone's windows are
still missed that school day.

Tiny High's zone A (bath-a) windows: pass-1 08:35-08:42 and pass-2 09:32-09:39, grace 3 minutes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, update

from lookout.kernel.clock import ManualClock
from services.patrol import store
from tests.unit.patrol.tiny_school import CHICAGO, Day, at, closed, started_day


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at("06:30"))


@pytest.fixture
async def day(database_url: str, clock: ManualClock, tmp_path: Any) -> AsyncIterator[Day]:
    d = await started_day(database_url, clock, tmp_path)
    yield d
    await d.kernel.engine.dispose()


CHICAGO_NOVEMBER = timezone(timedelta(hours=CHICAGO))


async def recoveries(day: Day) -> list[tuple[Any, ...]]:
    """(occurred_at, zone, window start, window end, outcome, period, unannounced, missed today)
    of every check.recovered."""
    return [
        (
            e.occurred_at,
            e.zone_id,  # type: ignore[attr-defined]
            e.window_start,  # type: ignore[attr-defined]
            e.window_end,  # type: ignore[attr-defined]
            e.outcome.value,  # type: ignore[attr-defined]
            e.period,  # type: ignore[attr-defined]
            e.unannounced,  # type: ignore[attr-defined]
            e.missed_today,  # type: ignore[attr-defined]
        )
        for e in await day.emitted()
        if e.type == "check.recovered"
    ]


async def bath_a_windows(day: Day, day_of_month: int = 23) -> list[tuple[str, str, Any]]:
    """(local start, status, closed_at) of zone A's windows on one day."""
    w = store.check_windows.c
    async with day.kernel.sessions() as session:
        rows = (
            await session.execute(
                select(w.window_start, w.status, w.closed_at)
                .where(w.zone_id == "bath-a")
                .order_by(w.window_start)
            )
        ).all()
    return [
        (f"{r.window_start.astimezone(CHICAGO_NOVEMBER):%H:%M}", r.status, r.closed_at)
        for r in rows
        if r.window_start.astimezone(CHICAGO_NOVEMBER).day == day_of_month
    ]


async def test_scans_delivered_after_the_deadline_upgrade_missed_windows(day: Day) -> None:
    await day.tick_at("06:30")  # plans today and tomorrow
    assert (await day.tick_at("11:33"))["window_closer"] == 6  # nothing checked all morning
    await day.scan("bath-a", "T-A", "08:40", received="11:40")  # inside pass-1: checked
    await day.scan("bath-a", "T-A", "09:41", received="11:41")  # in pass-2's grace: late

    assert await bath_a_windows(day) == [
        ("08:35", "checked", at("08:40")),
        ("09:32", "late", at("09:41")),
    ]
    assert await recoveries(day) == [
        (at("11:40"), "bath-a", at("08:35"), at("08:42"), "checked", "pass-1", False, 1),
        (at("11:41"), "bath-a", at("09:32"), at("09:39"), "late", "pass-2", False, 0),
    ]
    # The misses were said once; the upgrades add no second window-closed event.
    assert closed(await day.emitted()) == [
        ("entrance", "07:15", "missed"),
        ("bath-a", "08:35", "missed"),
        ("bath-a", "09:32", "missed"),
        ("cafeteria", "11:00", "missed"),
        ("cafeteria", "11:10", "missed"),
        ("cafeteria", "11:20", "missed"),
    ]


async def test_a_window_is_upgraded_once(day: Day) -> None:
    await day.tick_at("06:30")
    assert (await day.tick_at("08:46"))["window_closer"] == 2  # entrance and pass-1
    await day.scan("bath-a", "T-A", "08:44", received="08:50")  # in grace: late
    await day.scan("bath-a", "T-A", "08:40", received="08:55")  # on time, but after the upgrade
    await day.scan("bath-a", "T-A", "08:41", received="08:56")
    assert await bath_a_windows(day) == [
        ("08:35", "late", at("08:44")),
        ("09:32", "open", None),
    ]
    assert await recoveries(day) == [
        (at("08:50"), "bath-a", at("08:35"), at("08:42"), "late", "pass-1", False, 0),
    ]


async def test_a_late_scan_outside_a_window_and_its_grace_upgrades_nothing(day: Day) -> None:
    await day.tick_at("06:30")
    assert (await day.tick_at("08:46"))["window_closer"] == 2
    await day.scan("bath-a", "T-A", "08:30", received="08:50")  # before pass-1
    await day.scan("bath-a", "T-A", "08:46", received="08:51")  # after its grace
    assert await bath_a_windows(day) == [("08:35", "missed", at("08:46")), ("09:32", "open", None)]
    assert await recoveries(day) == []


async def test_missed_today_counts_the_zones_windows_of_that_school_day_only(day: Day) -> None:
    await day.tick_at("06:30")  # plans Monday and Tuesday
    assert (await day.tick_at("23:00"))["window_closer"] == 6  # Monday unpatrolled
    assert (await day.tick_at("23:00", day=24))["window_closer"] == 6  # Tuesday too
    # Tuesday's pass-1 scan comes out of a phone's queue that night.
    await day.scan("bath-a", "T-A", "08:40", day=24, received="23:30")
    assert await recoveries(day) == [
        (at("23:30", 24), "bath-a", at("08:35", 24), at("08:42", 24), "checked", "pass-1", False, 1)
    ]
    assert [s for _, s, _ in await bath_a_windows(day, 23)] == ["missed", "missed"]


async def test_a_window_missed_between_reading_and_closing_it_is_upgraded(
    day: Day, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The WindowCloser commits `missed` after the scan handler read the window as open."""
    await day.tick_at("06:30")
    original = store.PlanRepository.close_window

    async def closer_first(self: store.PlanRepository, window_id: int, *args: Any) -> bool:
        w = store.check_windows
        await self.session.execute(
            update(w).where(w.c.id == window_id).values(status="missed", closed_at=at("08:45"))
        )
        return await original(self, window_id, *args)

    monkeypatch.setattr(store.PlanRepository, "close_window", closer_first)
    await day.scan("bath-a", "T-A", "08:44", received="08:45")
    assert await bath_a_windows(day) == [("08:35", "late", at("08:44")), ("09:32", "open", None)]
    assert await recoveries(day) == [
        (at("08:45"), "bath-a", at("08:35"), at("08:42"), "late", "pass-1", False, 0),
    ]
