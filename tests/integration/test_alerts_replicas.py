"""Two replicas of the alerts service on one PostgreSQL database, 1,000 alerts due at once:
every step fires exactly once (rows are claimed `FOR UPDATE SKIP LOCKED`). SQLite runs a single
replica, so this test is PostgreSQL only."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from lookout.contracts.alerts import AlertStatus
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from lookout.kernel.ticker import Ticker
from services.alerts import domain, store
from services.alerts.app import create_kernel
from services.alerts.escalation import Escalator
from services.alerts.timers import EscalationTimers
from tests.unit.alerts import conftest as alerts_fixtures
from tests.unit.alerts.test_engine import T0

migrated_alerts_db = alerts_fixtures.migrated_alerts_db
alerts_db = alerts_fixtures.alerts_db

ALERTS = 1000


async def seed(kernel: ServiceKernel) -> None:
    """1,000 open alerts whose step 1 (the assistant principal) is due at T0 + 30 min."""
    school = kernel.schools["lhs"]
    policy = next(p for p in school.escalation_policies if p.name == "default")
    snapshot = domain.PolicySnapshot.of(policy).to_json()
    rows = [
        {
            "alert_id": str(uuid.uuid4()),
            "school_id": "lhs",
            "dedup_key": f"concern:{uuid.uuid4()}",
            "source": "concern",
            "category": "vaping",
            "severity": "low",
            "zone_id": "bath-1n-boys",
            "source_event_id": str(uuid.uuid4()),
            "status": AlertStatus.OPEN.value,
            "count": 1,
            "policy_name": "default",
            "policy": snapshot,
            "step": 1,
            "repeat": 0,
            "next_step_at": T0 + timedelta(minutes=30),
            "opened_at": T0,
            "last_seen_at": T0,
        }
        for _ in range(ALERTS)
    ]
    async with kernel.sessions.begin() as session:
        await session.execute(insert(store.alerts), rows)


async def fire_until_none_due(ticker: Ticker) -> int:
    fired = 0
    while True:
        n = (await ticker.tick())["escalations"]
        fired += n
        if n == 0:
            return fired


async def test_two_replicas_fire_each_step_of_1000_due_alerts_exactly_once(
    alerts_db: str, tmp_path: Path
) -> None:
    if not alerts_db.startswith("postgresql"):
        pytest.skip("SQLite runs a single replica")
    clock = ManualClock(T0 + timedelta(minutes=30))
    settings = Settings(data_dir=tmp_path, nats_url="nats://127.0.0.1:1", alerts_db_url=alerts_db)
    replicas = [create_kernel(settings, clock) for _ in range(2)]
    try:
        await seed(replicas[0])
        tickers = [
            Ticker(k.sessions, clock, [EscalationTimers(Escalator(k.schools, k.outbox), limit=100)])
            for k in replicas
        ]
        fired = await asyncio.gather(*(fire_until_none_due(t) for t in tickers))

        assert sum(fired) == ALERTS
        assert all(n > 0 for n in fired), f"one replica did all the work: {fired}"
        t = store.alert_timeline
        async with replicas[0].sessions() as session:
            per_alert = (
                await session.execute(
                    select(t.c.alert_id, func.count())
                    .where(t.c.kind == "escalated", t.c.step == 1)
                    .group_by(t.c.alert_id)
                )
            ).all()
            payloads = [
                json.loads(p) for (p,) in await session.execute(select(store.outbox.c.payload))
            ]
            emails = await store.count_rows(session, store.alert_emails)
            states = (
                await session.execute(
                    select(store.alerts.c.step, store.alerts.c.next_step_at, func.count()).group_by(
                        store.alerts.c.step, store.alerts.c.next_step_at
                    )
                )
            ).all()
        assert len(per_alert) == ALERTS and {n for _, n in per_alert} == {1}
        escalated = [p for p in payloads if p["type"] == "alert.escalated"]
        assert len(escalated) == ALERTS
        assert len({p["alert_id"] for p in escalated}) == ALERTS
        assert sum(p["type"] == "alert.notification" for p in payloads) == ALERTS
        assert emails == ALERTS
        assert states == [(2, T0 + timedelta(minutes=90), ALERTS)]
    finally:
        for k in replicas:
            await k.engine.dispose()
