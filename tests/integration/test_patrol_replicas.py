"""Two patrol replicas on one PostgreSQL database: every missed window fires exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lookout.contracts.subjects import parse_event
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings, load_school
from lookout.kernel.storage import upgrade_database
from lookout.school.config import SchoolConfig
from services.patrol import store
from services.patrol.app import MIGRATIONS
from services.patrol.timers import DayPlanner, WindowCloser

SCHOOLS = 20


def schools() -> dict[str, SchoolConfig]:
    example = load_school(EXAMPLE_SCHOOL)
    return {
        f"lhs-{i:02d}": example.model_copy(update={"id": f"lhs-{i:02d}"}) for i in range(SCHOOLS)
    }


def replica(database_url: str, clock: ManualClock, tmp: Path) -> tuple[ServiceKernel, WindowCloser]:
    kernel = ServiceKernel(
        "patrol",
        inbox=store.inbox,
        outbox=store.outbox,
        migrations=MIGRATIONS,
        settings=Settings(data_dir=tmp, patrol_db_url=database_url, nats_url="nats://none:1"),
        clock=clock,
        schools=schools(),
    )
    # A small claim size makes the replicas interleave instead of one taking everything.
    closer = WindowCloser(kernel.outbox, claim_limit=25)
    kernel.use_timers(DayPlanner(kernel.schools, kernel.outbox, seed="t"), closer)
    return kernel, closer


async def test_two_replicas_fire_each_missed_window_once(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs a single replica; the row claim is a PostgreSQL feature")
    morning = ManualClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))  # 06:00 in Chicago
    a, _ = replica(database_url, morning, tmp_path)
    b, _ = replica(database_url, morning, tmp_path)
    await upgrade_database(a.engine, MIGRATIONS, "patrol")
    assert a.ticker is not None and b.ticker is not None

    planned = await asyncio.gather(a.ticker.tick(), b.ticker.tick())
    async with a.sessions() as session:
        windows = (
            await session.execute(select(func.count()).select_from(store.check_windows))
        ).scalar_one()
    assert windows == 20 * 86 * 2  # both replicas planned, but each day only once: 86 per day
    assert planned[0]["day_planner"] + planned[1]["day_planner"] == SCHOOLS * 2

    morning.set(datetime(2026, 11, 24, 5, 0, tzinfo=UTC))  # 23:00 Monday: every window due
    fired = Counter[str]()
    while True:
        ra, rb = await asyncio.gather(a.ticker.tick(), b.ticker.tick())
        fired["a"] += ra["window_closer"]
        fired["b"] += rb["window_closer"]
        if ra["window_closer"] == rb["window_closer"] == 0:
            break
    assert fired["a"] + fired["b"] == SCHOOLS * 86
    assert fired["a"] > 0 and fired["b"] > 0  # both replicas really did work

    async with a.sessions() as session:
        rows = (await session.execute(select(store.outbox.c.subject, store.outbox.c.payload))).all()
    missed = [parse_event(r.subject, r.payload) for r in rows if r.subject.endswith("check.missed")]
    keys = Counter((e.school_id, e.zone_id, e.window_start) for e in missed)  # type: ignore[attr-defined]
    assert len(missed) == SCHOOLS * 86
    assert max(keys.values()) == 1
    await a.engine.dispose()
    await b.engine.dispose()
