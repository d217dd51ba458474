"""Missed-check detection cost: how long one ticker pass takes with many schools' windows.

Each synthetic school has 27 zones checked every 15 minutes from 07:15 to 15:45 (918 windows a
day). The day is planned, then the clock walks the school day minute by minute; every tick
closes whatever became due (about 1,350 windows at each quarter hour for 50 schools).

    .venv/bin/python bench/patrol_ticks.py --schools 50 [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings, load_school
from lookout.kernel.storage import upgrade_database
from lookout.school.config import SchoolConfig
from services.patrol import store
from services.patrol.app import MIGRATIONS
from services.patrol.domain import windows_for_day
from services.patrol.timers import DayPlanner, WindowCloser


def synthetic_school(index: int) -> SchoolConfig:
    base = load_school(EXAMPLE_SCHOOL).model_dump(mode="json")
    zones = [z for z in base["zones"]][:23] + [
        {"id": f"extra-{i}", "name": f"Extra {i}", "kind": "hallway", "checkpoints": [f"T-X{i}"]}
        for i in range(4)
    ]
    base.update(
        id=f"s{index:03d}",
        zones=zones,
        patrol_plan=[
            {
                "zones": [z["id"] for z in zones],
                "window": "07:15-15:45",
                "every_minutes": 15,
                "grace_minutes": 2,
            }
        ],
    )
    return SchoolConfig.model_validate(base)


async def run(schools: int, database_url: str) -> None:
    configs = {s.id: s for s in (synthetic_school(i) for i in range(schools))}
    day = datetime(2026, 11, 23).date()
    per_school = len(windows_for_day(next(iter(configs.values())), day))
    clock = ManualClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))  # 06:00 Chicago
    with tempfile.TemporaryDirectory() as tmp:
        kernel = ServiceKernel(
            "patrol",
            inbox=store.inbox,
            outbox=store.outbox,
            migrations=MIGRATIONS,
            settings=Settings(data_dir=Path(tmp), patrol_db_url=database_url.format(tmp=tmp)),
            clock=clock,
            schools=configs,
        )
        await upgrade_database(kernel.engine, MIGRATIONS, "patrol")
        ticker = kernel.use_timers(
            DayPlanner(configs, kernel.outbox, "bench"), WindowCloser(kernel.outbox)
        )
        started = time.perf_counter()
        await ticker.tick()
        plan_seconds = time.perf_counter() - started

        durations: list[float] = []
        busiest = (0.0, 0)
        fired_total = 0
        end = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # 16:00 Chicago
        while clock.now() < end:
            clock.advance(timedelta(minutes=1))
            t0 = time.perf_counter()
            fired = (await ticker.tick())["window_closer"]
            elapsed = time.perf_counter() - t0
            durations.append(elapsed)
            fired_total += fired
            if fired > busiest[1]:
                busiest = (elapsed, fired)
        await kernel.engine.dispose()
    durations.sort()
    p99 = durations[int(len(durations) * 0.99) - 1]
    print(f"database           {database_url.split(':')[0]}")
    print(f"schools            {schools}  ({per_school} windows/school/day)")
    print(f"plan two days      {plan_seconds:.2f} s")
    print(f"ticks              {len(durations)} (one per simulated minute)")
    print(f"windows missed     {fired_total}")
    print(f"tick median        {statistics.median(durations) * 1000:.1f} ms")
    print(f"tick p99           {p99 * 1000:.1f} ms")
    print(f"busiest tick       {busiest[0] * 1000:.1f} ms closing {busiest[1]} windows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schools", type=int, default=50)
    parser.add_argument("--postgres", default="", help="postgresql+asyncpg://… (empty database)")
    args = parser.parse_args()
    url = args.postgres or "sqlite+aiosqlite:///{tmp}/patrol.db"
    asyncio.run(run(args.schools, url))


if __name__ == "__main__":
    main()
