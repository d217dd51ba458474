"""Confirmed day types in the patrol service: kept in its table, read back at start-up, and a day
already planned is planned again by its new bell from the moment of the confirmation (windows
under way or past keep their outcome)."""

from __future__ import annotations

import copy
import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from lookout.contracts.calendar import DayKind, DayTypeConfirmed, DayTypeWithdrawn
from lookout.contracts.envelope import Event
from lookout.kernel.clock import ManualClock
from lookout.school.day_types import DayType
from services.patrol import store
from tests.unit.patrol.tiny_school import CHICAGO, SCHOOL, Day, at, started_day

MONDAY = date(2026, 11, 23)
EARLY = DayType(DayKind.EARLY_RELEASE, "early")
CLI = {"kind": "cli", "id": "admin"}

# Tiny High's early release: dismissal at 10:10.
TINY = copy.deepcopy(SCHOOL)
TINY["bell_schedule"]["alternates"] = {
    "early": [
        {"name": "p1", "kind": "class", "start": "07:45", "end": "08:15"},
        {"name": "pass-1", "kind": "passing", "start": "08:15", "end": "08:20"},
        {"name": "p2", "kind": "class", "start": "08:20", "end": "08:50"},
        {"name": "pass-2", "kind": "passing", "start": "08:50", "end": "08:55"},
        {"name": "lunch", "kind": "lunch", "start": "08:55", "end": "09:25"},
        {"name": "p4", "kind": "class", "start": "09:25", "end": "10:10"},
    ]
}


def confirmed(day: date, kind: DayKind, schedule: str | None = None) -> DayTypeConfirmed:
    return DayTypeConfirmed.new(
        school_id="tiny",
        occurred_at=at("06:00"),
        actor=CLI,
        day=day,
        day_type=kind,
        schedule=schedule,
        titles=["Early Release"],
    )


async def apply(d: Day, event: Event) -> dict[uuid.UUID, str]:
    assert d.kernel.day_types is not None
    async with d.kernel.sessions.begin() as session:
        return await d.kernel.day_types.apply(session, [event])


async def windows(d: Day) -> list[tuple[str, str, str]]:
    """(zone, local start-end, status) of Monday's windows, in time order."""
    t = store.check_windows
    async with d.kernel.sessions() as session:
        rows = await session.execute(select(t).order_by(t.c.window_start, t.c.zone_id))
        return [
            (
                r.zone_id,
                f"{r.window_start + timedelta(hours=CHICAGO):%H:%M}-"
                f"{r.window_end + timedelta(hours=CHICAGO):%H:%M}",
                r.status,
            )
            for r in rows
            if (r.window_start + timedelta(hours=CHICAGO)).date() == MONDAY
        ]


async def test_an_early_release_confirmed_mid_morning_replans_what_has_not_begun(
    database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    d = await started_day(database_url, clock, tmp_path, TINY)
    await d.tick_at("07:00")  # plans Monday by the regular bell
    await d.tick_at("08:36")  # pass-1 (08:35-08:42) is under way
    assert await apply(d, confirmed(MONDAY, DayKind.EARLY_RELEASE, "early")) == {}
    assert await windows(d) == [
        ("entrance", "07:15-07:45", "missed"),  # past: keeps its outcome
        ("bath-a", "08:35-08:42", "not_monitored"),  # under way, not on the early bell
        ("bath-a", "08:50-08:55", "open"),  # the early bell's pass-2
        ("cafeteria", "08:55-09:05", "open"),  # its lunch, every 10 minutes
        ("cafeteria", "09:05-09:15", "open"),
        ("cafeteria", "09:15-09:25", "open"),
    ]
    assert d.kernel.schools["tiny"].day_type(MONDAY) == EARLY


async def test_a_snow_day_called_at_six_removes_the_day_and_its_withdrawal_brings_it_back(
    database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    d = await started_day(database_url, clock, tmp_path, TINY)
    await d.tick_at("05:00")
    assert len(await windows(d)) == 6
    clock.set(at("06:00"))
    assert await apply(d, confirmed(MONDAY, DayKind.NO_SCHOOL)) == {}
    assert await windows(d) == []
    clock.set(at("06:30"))
    withdrawn = DayTypeWithdrawn.new(
        school_id="tiny", occurred_at=at("06:30"), actor=CLI, day=MONDAY
    )
    assert await apply(d, withdrawn) == {}
    assert await windows(d) == [
        ("entrance", "07:15-07:45", "open"),
        ("bath-a", "08:35-08:42", "open"),
        ("bath-a", "09:32-09:39", "open"),
        ("cafeteria", "11:00-11:10", "open"),
        ("cafeteria", "11:10-11:20", "open"),
        ("cafeteria", "11:20-11:30", "open"),
    ]


async def test_a_snow_day_called_mid_morning_misses_nobody(
    database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    d = await started_day(database_url, clock, tmp_path, TINY)
    await d.tick_at("07:00")
    await d.tick_at("08:36")  # the entrance (07:15-07:45) was missed; pass-1 is under way
    assert await apply(d, confirmed(MONDAY, DayKind.NO_SCHOOL)) == {}
    assert await windows(d) == [
        ("entrance", "07:15-07:45", "missed"),
        ("bath-a", "08:35-08:42", "not_monitored"),
    ]
    await d.tick_at("08:50")  # past pass-1's deadline (08:45): nothing more is missed
    assert [e.type for e in await d.emitted() if e.type == "check.missed"] == ["check.missed"]


async def test_a_window_the_new_bell_keeps_stays_open(
    database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    d = await started_day(database_url, clock, tmp_path, TINY)
    await d.tick_at("07:00")
    await d.tick_at("07:20")  # the entrance window (07:15-07:45) is under way
    assert await apply(d, confirmed(MONDAY, DayKind.EARLY_RELEASE, "early")) == {}
    assert (await windows(d))[0] == ("entrance", "07:15-07:45", "open")


async def test_a_day_not_yet_planned_is_planned_by_its_confirmed_bell_when_its_day_comes(
    database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    d = await started_day(database_url, clock, tmp_path, TINY)
    clock.set(at("12:00", day=20))  # the Friday before
    assert await apply(d, confirmed(MONDAY, DayKind.EARLY_RELEASE, "early")) == {}
    assert await windows(d) == []
    await d.tick_at("05:00")
    assert [w[:2] for w in await windows(d)] == [
        ("entrance", "07:15-07:45"),
        ("bath-a", "08:15-08:20"),
        ("bath-a", "08:50-08:55"),
        ("cafeteria", "08:55-09:05"),
        ("cafeteria", "09:05-09:15"),
        ("cafeteria", "09:15-09:25"),
    ]


async def test_a_restart_reads_the_confirmed_day_types_back(
    database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    d = await started_day(database_url, clock, tmp_path, TINY)
    clock.set(at("12:00", day=20))
    await apply(d, confirmed(MONDAY, DayKind.EARLY_RELEASE, "early"))
    await apply(d, confirmed(MONDAY + timedelta(days=1), DayKind.NO_SCHOOL))
    await apply(d, DayTypeWithdrawn.new(school_id="tiny", occurred_at=at("12:05", day=20),
                                        actor=CLI, day=MONDAY + timedelta(days=1)))  # fmt: skip
    again = Day(database_url, clock, tmp_path, TINY)  # a fresh process: its own school model
    assert again.kernel.schools["tiny"].day_type(MONDAY) is None
    assert again.kernel.day_types is not None
    await again.kernel.day_types.load(again.kernel.sessions)
    assert again.kernel.schools["tiny"].confirmed_day_types() == {MONDAY: EARLY}


async def test_a_schedule_this_service_does_not_know_is_refused_not_planned(
    database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    d = await started_day(database_url, clock, tmp_path, TINY)
    event = confirmed(MONDAY, DayKind.EARLY_RELEASE, "half-day")
    assert await apply(d, event) == {event.event_id: "schedule"}
    assert d.kernel.schools["tiny"].day_type(MONDAY) is None
