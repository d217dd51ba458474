"""Bench: with 10,000 open alerts, how late does a step fire after its deadline?

10,000 open alerts get step-1 deadlines spread evenly over the next WINDOW seconds (real
time); the alerts service's escalation loop (deadline-aware, claims with `claim_due`) fires
them. Lateness = commit of the firing transaction minus the deadline. No NATS (the outbox rows are
written, not relayed). Usage: `.venv/bin/python bench/alerts_lateness.py [--db URL]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from lookout.contracts.alerts import AlertStatus
from lookout.kernel.settings import Settings
from lookout.kernel.storage import upgrade_database
from lookout.kernel.ticker import Ticker
from lookout.school.config import Weekday
from services.alerts import domain, store
from services.alerts.app import MIGRATIONS, create_kernel
from services.alerts.escalation import Escalator
from services.alerts.timers import DeadlineLoop, EscalationTimers

ALERTS = 10_000


class RecordingClock:
    def __init__(self) -> None:
        self.last = datetime.now(UTC)

    def now(self) -> datetime:
        self.last = datetime.now(UTC)
        return self.last


async def main(db: str | None, window: float) -> None:
    tmp = Path(tempfile.mkdtemp())
    url = db or f"sqlite+aiosqlite:///{tmp / 'alerts.db'}"
    clock = RecordingClock()
    settings = Settings(data_dir=tmp, nats_url="nats://127.0.0.1:1", alerts_db_url=url)
    kernel = create_kernel(settings, clock)
    await upgrade_database(kernel.engine, MIGRATIONS, "alerts")
    school = kernel.schools["lhs"]
    policy = next(p for p in school.escalation_policies if p.name == "default")
    snapshot = domain.PolicySnapshot.of(policy).to_json()
    # Everyone on duty around the clock, so every step reaches someone whenever this runs.
    always = [
        p.model_copy(update={"on_duty": list(Weekday), "duty_hours": None,
                             "on_duty_no_school_days": True})
        for p in school.people
    ]  # fmt: skip
    kernel.schools["lhs"] = school.model_copy(update={"people": always})  # type: ignore[index]
    start = datetime.now(UTC) + timedelta(seconds=2)
    deadlines = {
        str(uuid.uuid4()): start + timedelta(seconds=window * i / ALERTS) for i in range(ALERTS)
    }
    rows = [
        {
            "alert_id": aid,
            "school_id": "lhs",
            "dedup_key": f"concern:{aid}",
            "source": "concern",
            "category": "vaping",
            "severity": "low",
            "zone_id": "cafeteria",
            "source_event_id": str(uuid.uuid4()),
            "status": AlertStatus.OPEN.value,
            "count": 1,
            "policy_name": "default",
            "policy": snapshot,
            "step": 1,
            "repeat": 0,
            "next_step_at": at,
            "opened_at": start,
            "last_seen_at": start,
        }
        for aid, at in deadlines.items()
    ]
    async with kernel.sessions.begin() as session:
        for i in range(0, ALERTS, 1000):
            await session.execute(insert(store.alerts), rows[i : i + 1000])
    escalator = Escalator(kernel.schools, kernel.outbox)
    timers = EscalationTimers(escalator)
    ticker = Ticker(kernel.sessions, clock, [timers])
    tick_end: dict[datetime, datetime] = {}

    async def step() -> int:
        n = (await ticker.tick())["escalations"]
        if n:
            tick_end[clock.last] = datetime.now(UTC)
        return n

    async def next_deadline() -> datetime | None:
        async with kernel.sessions() as session:
            return await store.AlertRepository(session).next_deadline()

    loop = DeadlineLoop("escalations", step, next_deadline, clock, 1.0, full=timers.limit)
    loop.start()
    t0 = time.monotonic()
    while True:
        await asyncio.sleep(0.5)
        async with kernel.sessions() as session:
            due = await store.count_rows(session, store.alerts, store.alerts.c.step == 1)
        if due == 0 or time.monotonic() - t0 > window + 120:
            break
    await loop.stop()
    t = store.alert_timeline
    async with kernel.sessions() as session:
        fired = (
            await session.execute(select(t.c.alert_id, t.c.at).where(t.c.kind == "escalated"))
        ).all()
    late = sorted((tick_end[at] - deadlines[aid]).total_seconds() for aid, at in fired)
    q = statistics.quantiles(late, n=100)
    dialect = kernel.engine.dialect.name
    print(
        f"alerts lateness ({dialect}): {len(late)} of {ALERTS} open alerts fired over "
        f"{window:.0f} s; lateness p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms, "
        f"max {late[-1] * 1000:.0f} ms"
    )
    await kernel.engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--window", type=float, default=30.0, help="seconds deadlines spread")
    args = parser.parse_args()
    asyncio.run(main(args.db, args.window))
