"""A window missed and then recovered (a scan made in time, delivered after the deadline) counts
in the read model as what the scan made of it, once, whatever batches the events arrive in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import CheckRecovered, CheckWindowClosed, FollowUpCompleted
from lookout.kernel.storage import make_engine, make_sessionmaker, upgrade_database
from lookout.school.config import SchoolConfig
from services.reports import store
from services.reports.app import MIGRATIONS
from services.reports.handlers import ReportHandlers

PATROL = {"kind": "service", "id": "patrol"}
# Monday 23 November 2026, Chicago (UTC-6): pass-1 08:35-08:42, pass-2 09:32-09:39.
PASS_1 = (datetime(2026, 11, 23, 14, 35, tzinfo=UTC), datetime(2026, 11, 23, 14, 42, tzinfo=UTC))
PASS_2 = (datetime(2026, 11, 23, 15, 32, tzinfo=UTC), datetime(2026, 11, 23, 15, 39, tzinfo=UTC))


def closed(window: tuple[datetime, datetime], zone: str, outcome: str) -> CheckWindowClosed:
    return CheckWindowClosed.new(
        school_id="lhs", occurred_at=window[1] + timedelta(minutes=3), actor=PATROL,
        zone_id=zone, window_start=window[0], window_end=window[1], outcome=outcome,
        period="pass-1" if window == PASS_1 else "pass-2",
    )  # fmt: skip


def recovered(
    window: tuple[datetime, datetime], zone: str, outcome: str, missed_today: int
) -> CheckRecovered:
    return CheckRecovered.new(
        school_id="lhs", occurred_at=window[1] + timedelta(hours=2), actor=PATROL,
        zone_id=zone, window_start=window[0], window_end=window[1], outcome=outcome,
        period="pass-1" if window == PASS_1 else "pass-2", missed_today=missed_today,
    )  # fmt: skip


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'reports.db'}")
    await upgrade_database(engine, MIGRATIONS, store.SERVICE)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def apply(
    sessions: async_sessionmaker[AsyncSession], school: SchoolConfig, batch: list[Event]
) -> None:
    handlers = ReportHandlers({school.id: school})
    async with sessions.begin() as session:
        assert await handlers.apply_patrol(session, batch) == {}


async def outcomes(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    w = store.windows.c
    async with sessions() as session:
        rows = await session.execute(
            select(w.zone_id, w.window_start, w.outcome).order_by(w.zone_id, w.window_start)
        )
        return [tuple(r) for r in rows]


async def test_a_recovered_window_counts_as_checked_or_late_once(
    sessions: async_sessionmaker[AsyncSession], school: SchoolConfig
) -> None:
    await apply(
        sessions,
        school,
        [
            closed(PASS_1, "bath-1n-boys", "missed"),
            closed(PASS_2, "bath-1n-boys", "missed"),
            closed(PASS_1, "bath-1n-girls", "missed"),
        ],
    )
    again = recovered(PASS_1, "bath-1n-boys", "late", 1)
    await apply(sessions, school, [again])
    await apply(sessions, school, [again])  # a redelivery in a later batch changes nothing
    assert await outcomes(sessions) == [
        ("bath-1n-boys", PASS_1[0], "late"),
        ("bath-1n-boys", PASS_2[0], "missed"),
        ("bath-1n-girls", PASS_1[0], "missed"),
    ]


async def test_a_window_closed_and_recovered_in_one_batch_counts_as_recovered(
    sessions: async_sessionmaker[AsyncSession], school: SchoolConfig
) -> None:
    await apply(sessions, school, [closed(PASS_1, "bath-1n-boys", "missed")])
    await apply(
        sessions,
        school,
        [  # the earlier window's recovery comes first, then a closing and its recovery
            recovered(PASS_1, "bath-1n-boys", "checked", 1),
            closed(PASS_2, "bath-1n-boys", "missed"),
            recovered(PASS_2, "bath-1n-boys", "late", 0),
        ],
    )
    assert await outcomes(sessions) == [
        ("bath-1n-boys", PASS_1[0], "checked"),
        ("bath-1n-boys", PASS_2[0], "late"),
    ]


async def test_a_recovery_never_downgrades_a_window_checked_on_time(
    sessions: async_sessionmaker[AsyncSession], school: SchoolConfig
) -> None:
    await apply(
        sessions,
        school,
        [closed(PASS_1, "bath-1n-boys", "checked"), recovered(PASS_1, "bath-1n-boys", "late", 0)],
    )
    assert await outcomes(sessions) == [("bath-1n-boys", PASS_1[0], "checked")]


async def test_a_completed_follow_up_is_accepted_and_not_summarised(
    sessions: async_sessionmaker[AsyncSession], school: SchoolConfig
) -> None:
    done = FollowUpCompleted.new(
        school_id="lhs", occurred_at=PASS_1[0], actor=PATROL, concern_id=uuid.uuid4(), late=True
    )
    await apply(sessions, school, [done])  # refused would fail inside apply
    assert await outcomes(sessions) == []
