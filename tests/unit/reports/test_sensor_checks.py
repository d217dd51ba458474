"""Sensor alerts in the weekly email: the read model folds each alert's assigned / missed / done
into one row, and the email says per kind how many, how many were checked within the school's
check minutes (by the week's end), the median response and how many were not checked; a week
without sensor alerts says so only at a school with sensors. Figures: tests/unit/reports/
sensor_week.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.contracts.envelope import Event
from lookout.kernel.settings import Settings
from lookout.kernel.storage import make_engine, make_sessionmaker, upgrade_database
from lookout.school.config import SchoolConfig
from lookout.school.sensors import SchoolSensors
from services.reports import store
from services.reports.app import MIGRATIONS
from services.reports.handlers import ReportHandlers
from services.reports.mailer import Summaries
from services.reports.render import Rendered
from tests.unit.reports import scripted_week as sw
from tests.unit.reports import sensor_week as sensors


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'reports.db'}")
    await upgrade_database(engine, MIGRATIONS, store.SERVICE)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def apply(
    sessions: async_sessionmaker[AsyncSession], school: SchoolConfig, batches: list[list[Event]]
) -> None:
    handlers = ReportHandlers({school.id: school})
    for batch in batches:
        async with sessions.begin() as session:
            assert await handlers.apply_patrol(session, batch) == {}


async def rows(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    t = store.sensor_checks.c
    async with sessions() as session:
        found = await session.execute(
            select(t.kind, t.raised_at, t.missed, t.checked_at, t.response_seconds, t.in_time)
            .order_by(t.raised_at)
        )  # fmt: skip
        return [tuple(r) for r in found]


async def rendered(
    sessions: async_sessionmaker[AsyncSession], school: SchoolConfig, week: str
) -> Rendered:
    async with sessions() as session:
        return await Summaries({school.id: school}, Settings()).render(
            session, school.id, week, with_charts=False
        )


def sensor_keys(html: str) -> dict[str, str]:
    return {k: v for k, v in sw.parse_html(html).items() if k.startswith("sensors.")}


async def test_each_alert_is_one_row_whatever_the_batches(
    sessions: async_sessionmaker[AsyncSession], school: SchoolConfig, tmp_path: Path
) -> None:
    events = sensors.sensor_events()
    await apply(sessions, school, [events])
    together = await rows(sessions)
    assert [(r[0], r[2], r[4], r[5]) for r in together] == [
        ("loud_sound", False, 90, True),
        ("vape", False, 160, True),
        ("vape", False, 240, True),
        ("thc", True, 1200, False),
        ("vape", True, 750, False),
        ("vape", False, 60, True),
        ("vape", False, 180, True),
    ]
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'one-by-one.db'}")
    await upgrade_database(engine, MIGRATIONS, store.SERVICE)
    one_by_one = make_sessionmaker(engine)
    try:
        done = [e for e in events if e.type == "sensor_check.done"]
        # One event per batch, then every done redelivered: the first done stands.
        await apply(one_by_one, school, [[e] for e in events] + [done])
        assert await rows(one_by_one) == together
    finally:
        await engine.dispose()


async def test_the_weeks_sensor_figures_by_kind(
    sessions: async_sessionmaker[AsyncSession], school: SchoolConfig
) -> None:
    await apply(sessions, school, [sensors.sensor_events()])
    week = await rendered(sessions, school, sensors.WEEK)
    assert sensor_keys(week.html) == sensors.EXPECTED_HTML
    lines = week.text.splitlines()
    first = lines.index(sensors.EXPECTED_TEXT[0])
    assert lines[first : first + 3] == sensors.EXPECTED_TEXT
    # In the patrol section: after the coverage lines, before the concerns.
    assert lines.index("PATROL COVERAGE (planned / on time / late / missed / coverage / "
                       "unannounced done)") < first < lines.index("CONCERNS")  # fmt: skip
    assert "loud" not in week.text.lower()  # raised the week before

    before = await rendered(sessions, school, "2026-W47")
    assert sensor_keys(before.html) == {
        "sensors.check_minutes": "5",
        "sensors.loud_sound.label": "Loud sound alerts",
        "sensors.loud_sound.alerts": "1",
        "sensors.loud_sound.in_time": "1",
        "sensors.loud_sound.median": "1:30",
    }
    assert "Loud sound alerts: 1, checked within 5 min: 1, median 1:30" in before.text


async def test_a_week_without_sensor_alerts(
    sessions: async_sessionmaker[AsyncSession], school: SchoolConfig
) -> None:
    await apply(sessions, school, [sensors.sensor_events()])
    after = await rendered(sessions, school, "2026-W49")  # lhs has four sensors
    assert sensor_keys(after.html) == {"sensors.none": "No sensor alerts this week."}
    assert "No sensor alerts this week." in after.text.splitlines()
    no_sensors = school.model_copy(update={"sensors": SchoolSensors()})
    quiet = await rendered(sessions, no_sensors, "2026-W49")
    assert sensor_keys(quiet.html) == {}
    assert "sensor" not in quiet.text.lower() and "sensor" not in quiet.html.lower()
